package graphtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/graphphoto/graphphoto/internal/uuid"
)

// Entry is one request the emulator answered, for tests to assert on. Token requests are logged
// without their form (it carries secrets and assertions).
type Entry struct {
	Time            time.Time
	Method          string
	Path            string   // escaped path, as sent
	Kind            string   // "token", "openid", "discovery", "graph", "gallery", "other"
	Status          int      // 0 when the connection was reset by a fault
	ContentType     []string // every Content-Type value the request carried
	ContentEncoding string   // the request's Content-Encoding (Graph uploads must not be compressed)
	Bytes           int64    // request body bytes read
	ClientRequestID string   // the client-request-id the client sent ("" if none)
	RequestID       string   // the request-id the emulator answered with
	Fault           string   // which injected fault answered, if any
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Entry {
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	return append([]Entry(nil), s.emu.requests...)
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() {
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	s.emu.requests = nil
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

type countingBody struct {
	r interface {
		Read([]byte) (int, error)
		Close() error
	}
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.r.Close() }

func requestKind(path string) string {
	switch {
	case path == "/gallery" || strings.HasPrefix(path, "/gallery/"):
		return "gallery"
	case strings.HasPrefix(path, "/v1.0/") || path == "/v1.0":
		return "graph"
	case strings.HasSuffix(path, "/oauth2/v2.0/token"):
		return "token"
	case strings.HasSuffix(path, "/v2.0/.well-known/openid-configuration"):
		return "openid"
	case path == "/common/discovery/instance":
		return "discovery"
	}
	return "other"
}

// ServeHTTP routes a request, applying injected faults first and logging it.
func (e *emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := e.now()
	path := r.URL.EscapedPath()
	kind := requestKind(r.URL.Path)
	reqID := uuid.New()
	clientReqID := r.Header.Get("client-request-id")
	body := &countingBody{r: r.Body}
	r.Body = body
	rec := &recorder{ResponseWriter: w}
	rec.Header().Set("request-id", reqID)
	if clientReqID != "" {
		rec.Header().Set("client-request-id", clientReqID)
	} else {
		rec.Header().Set("client-request-id", reqID)
	}
	rec.Header().Set("Date", start.UTC().Format(http.TimeFormat))

	fault, reset := "", false
	if kind != "gallery" {
		fault, reset = e.applyFault(rec, r, kind, reqID, clientReqID)
	}
	if fault == "" {
		switch kind {
		case "gallery":
			e.serveGallery(rec, r)
		case "graph":
			e.serveGraph(rec, r, reqID, clientReqID)
		case "token":
			e.serveToken(rec, r)
		case "openid":
			e.serveOpenID(rec, r)
		case "discovery":
			e.serveInstanceDiscovery(rec, r)
		default:
			writeGraphError(rec, http.StatusBadRequest, "BadRequest", "Invalid version: "+firstSegment(r.URL.Path), reqID, clientReqID, e.now())
		}
	}
	entry := Entry{
		Time:            start,
		Method:          r.Method,
		Path:            path,
		Kind:            kind,
		Status:          rec.status,
		ContentType:     append([]string(nil), r.Header.Values("Content-Type")...),
		ContentEncoding: r.Header.Get("Content-Encoding"),
		Bytes:           body.n,
		ClientRequestID: clientReqID,
		RequestID:       reqID,
		Fault:           fault,
	}
	e.mu.Lock()
	e.requests = append(e.requests, entry)
	e.mu.Unlock()
	e.log.Info("graphtest request", "method", r.Method, "path", path, "kind", kind, "status", rec.status,
		"request_id", reqID, "client_request_id", clientReqID, "bytes", body.n, "fault", fault)
	if reset {
		resetConnection(w)
	}
}

func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}

// graphErrorBody is Graph's error envelope.
type graphErrorBody struct {
	Error graphError `json:"error"`
}

type graphError struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Code            string `json:"code,omitempty"`
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

func writeGraphError(w http.ResponseWriter, status int, code, message, reqID, clientReqID string, now time.Time) {
	writeGraphErrorInner(w, status, code, "", message, reqID, clientReqID, now)
}

func writeGraphErrorInner(w http.ResponseWriter, status int, code, inner, message, reqID, clientReqID string, now time.Time) {
	if clientReqID == "" {
		clientReqID = reqID
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(graphErrorBody{Error: graphError{
		Code:    code,
		Message: message,
		InnerError: innerError{
			Code:            inner,
			Date:            now.UTC().Format("2006-01-02T15:04:05"),
			RequestID:       reqID,
			ClientRequestID: clientReqID,
		},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Unwrap lets resetConnection reach the connection under the recorder.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
