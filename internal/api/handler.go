// Package api is the HTTPS entry point of docs/architecture.md §5: Microsoft Graph's photo routes
// for a signed-in caller, served by a net/http handler (so it runs under httptest and as a local
// server) and adapted to API Gateway HTTP API payload 2.0 by NewLambda.
//
// Routes (the same with or without the /v1.0 prefix, as Graph's paths are written):
//
//	PUT|PATCH /v1.0/{target}/photo/$value   normalise the body and write it to Graph → 200 JSON
//	GET       /v1.0/{target}/photo/$value   the stored photo
//	GET       /v1.0/{target}/photo          its metadata
//	DELETE    /v1.0/{target}/photo/$value   users and groups only (Graph deletes nothing else)
//	POST      /v1.0/uploads                 {"target","size"} → a single-use presigned S3 PUT of that size
//
// Nothing else exists: it is not a Graph proxy. Errors use Graph's envelope with a stable
// reason in innerError.reason; every response carries a request-id header.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/graphphoto/graphphoto/internal/config"
	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// DefaultMaxInlineBytes is the largest body PUT/PATCH take. Lambda's synchronous request
// payload is 6 MB (6,291,456 bytes) including the event around the body, and API Gateway sends
// binary bodies base64-encoded (4/3 larger): 4,500,000 raw bytes become 6,000,000, leaving
// about 290 KB for headers and the request context. Larger originals go through POST
// /v1.0/uploads.
const DefaultMaxInlineBytes = 4_500_000

// DefaultUserScope is the delegated scope writes need when Options.UserScope is empty; the
// README's Entra setup exposes it on the API's app registration.
const DefaultUserScope = "Photos.Write"

// maxJSONBody bounds the body of POST /v1.0/uploads.
const maxJSONBody = 16 << 10

// PhotoWriter runs photo jobs (*photo.Pipeline): Run carries the job's photo through its steps
// and has the job's Recorder write the answer.
type PhotoWriter interface {
	Run(ctx context.Context, j photo.Job) photo.Outcome
	MaxSourceBytes() int
}

// PhotoReader reads and deletes photos in Graph (*graph.Client).
type PhotoReader interface {
	GetPhoto(ctx context.Context, t graph.Target) ([]byte, graph.Result, error)
	GetPhotoMeta(ctx context.Context, t graph.Target) (graph.PhotoMeta, error)
	DeletePhoto(ctx context.Context, t graph.Target) (graph.Result, error)
}

// Options are a Handler's dependencies and settings.
type Options struct {
	Photos PhotoWriter // required
	Graph  PhotoReader // required
	// Uploads presigns S3 PUTs (*s3.PresignClient); nil, or an empty UploadBucket, turns
	// POST /v1.0/uploads off (404).
	Uploads      Presigner
	UploadBucket string
	UploadPrefix string        // key prefix of uploads, e.g. "uploads/"
	UploadURLTTL time.Duration // lifetime of an upload URL; default 15 minutes
	// TargetMetadataKey is the user metadata the S3 path reads the target from (default
	// config.DefaultTargetMetadataKey, sent as x-amz-meta-graph-target).
	TargetMetadataKey string
	// AdminRole is the app role that may use any target (config API_ADMIN_ROLE). Empty means
	// nobody may use targets other than their own.
	AdminRole string
	// UserScope is the delegated scope a signed-in user's writes and deletes need (config
	// API_USER_SCOPE); default DefaultUserScope.
	UserScope string
	// MaxInlineBytes bounds PUT/PATCH bodies; default DefaultMaxInlineBytes, and never more than
	// Photos.MaxSourceBytes().
	MaxInlineBytes int
	// Logger gets one JSON line per request (obs.NewLogger in production); default discards.
	Logger *slog.Logger
	// Metrics, when set, gets one EMF line per photo write (*obs.Metrics).
	Metrics photo.MetricsWriter
	// Now is the clock for error dates and upload expiry; default time.Now.
	Now func() time.Time
}

// Handler serves the photo routes.
type Handler struct {
	opts      Options
	maxInline int
	log       *slog.Logger
	report    photo.Reporter
	now       func() time.Time
}

// New checks the options and returns the handler.
func New(opts Options) (*Handler, error) {
	if opts.Photos == nil || opts.Graph == nil {
		return nil, errors.New("api handler: a photo pipeline and a Graph client are required")
	}
	if opts.MaxInlineBytes < 0 || opts.UploadURLTTL < 0 {
		return nil, errors.New("api handler: negative inline limit or upload URL lifetime")
	}
	if opts.MaxInlineBytes == 0 {
		opts.MaxInlineBytes = DefaultMaxInlineBytes
	}
	if opts.UploadURLTTL == 0 {
		opts.UploadURLTTL = 15 * time.Minute
	}
	if opts.TargetMetadataKey == "" {
		opts.TargetMetadataKey = config.DefaultTargetMetadataKey
	}
	if opts.UserScope == "" {
		opts.UserScope = DefaultUserScope
	}
	opts.TargetMetadataKey = strings.ToLower(opts.TargetMetadataKey)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{opts: opts, log: opts.Logger, report: photo.Reporter{Log: opts.Logger, Metrics: opts.Metrics}, now: opts.Now}
	h.maxInline = min(opts.MaxInlineBytes, opts.Photos.MaxSourceBytes())
	return h, nil
}

// MaxInlineBytes is the largest body PUT/PATCH accept.
func (h *Handler) MaxInlineBytes() int { return h.maxInline }

// exchange is one request in flight: what it answers and what its log line says.
type exchange struct {
	w               http.ResponseWriter
	r               *http.Request
	requestID       string
	clientRequestID string
	status          int
	reason          reason.Reason
	attrs           []slog.Attr
}

func (x *exchange) add(attrs ...slog.Attr) { x.attrs = append(x.attrs, attrs...) }

// ServeHTTP answers one request and logs one line for it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	x := &exchange{w: w, r: r, requestID: RequestIDFromContext(r.Context()), clientRequestID: clientRequestID(r)}
	if x.requestID == "" {
		x.requestID = newRequestID()
	}
	w.Header().Set("request-id", x.requestID)
	if x.clientRequestID != "" {
		w.Header().Set("client-request-id", x.clientRequestID)
	}
	h.serve(x)

	level := slog.LevelInfo
	switch {
	case x.status >= 500 && x.status != http.StatusServiceUnavailable:
		level = slog.LevelError
	case x.status == http.StatusTooManyRequests || x.status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	}
	attrs := append([]slog.Attr{
		slog.String("request_id", x.requestID),
		slog.String("method", r.Method),
		slog.String("path", clip(r.URL.EscapedPath(), 300)),
		slog.Int("http_status", x.status),
	}, x.attrs...)
	if !x.reason.IsZero() {
		attrs = append(attrs, slog.String("reason", x.reason.String()))
	}
	if x.clientRequestID != "" {
		attrs = append(attrs, slog.String("client_request_id", x.clientRequestID))
	}
	attrs = append(attrs, slog.Int64("ms", h.now().Sub(start).Milliseconds()))
	h.log.LogAttrs(r.Context(), level, "api request", attrs...)
}

// serve routes x, and turns a panic below into a 500 in the envelope (when nothing was written
// yet) instead of a crashed invocation, which API Gateway would answer with a bare 502.
func (h *Handler) serve(x *exchange) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			cause := fmt.Errorf("panic: %v", v)
			if x.status == 0 {
				h.fail(x, failure(photo.ReasonInternal, false, 0, cause))
				return
			}
			x.add(slog.String("error", cause.Error()))
		}
	}()
	h.route(x)
}

// routeKind names the photo routes.
type routeKind int

const (
	routeNone routeKind = iota
	routeValue
	routeMeta
	routeUploads
)

// match finds the route of an escaped path and the escaped target path before /photo.
func match(p string) (routeKind, string) {
	rest := p
	versioned := false
	if len(rest) >= 6 && strings.EqualFold(rest[:6], "/v1.0/") {
		rest, versioned = rest[5:], true
	}
	if versioned && rest == "/uploads" {
		return routeUploads, ""
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return routeNone, ""
	}
	kind, target := routeNone, ""
	switch last := rest[i+1:]; {
	case strings.EqualFold(last, "photo") && i > 0:
		kind, target = routeMeta, rest[:i]
	case last == "$value" || strings.EqualFold(last, "%24value"):
		j := strings.LastIndexByte(rest[:i], '/')
		if j > 0 && strings.EqualFold(rest[j+1:i], "photo") {
			kind, target = routeValue, rest[:j]
		}
	}
	// ParseTarget would accept a target ending in /photo itself; such a path is no route.
	if k := strings.LastIndexByte(target, '/'); k >= 0 {
		if seg := target[k+1:]; strings.EqualFold(seg, "photo") || seg == "$value" || strings.EqualFold(seg, "%24value") {
			return routeNone, ""
		}
	}
	return kind, target
}

func (h *Handler) route(x *exchange) {
	kind, targetPath := match(x.r.URL.EscapedPath())
	var allow string
	switch kind {
	case routeNone:
		h.fail(x, &Error{why: ReasonNoRoute,
			Message: "no such route: this API serves only {target}/photo/$value, {target}/photo and POST /v1.0/uploads"})
		return
	case routeValue:
		allow = "GET, PUT, PATCH, DELETE"
	case routeMeta:
		allow = "GET"
	case routeUploads:
		allow = "POST"
	}
	if !methodAllowed(allow, x.r.Method) {
		h.fail(x, &Error{why: ReasonMethod, Allow: allow,
			Message: fmt.Sprintf("%s is not allowed here; allowed: %s", clip(x.r.Method, 20), allow)})
		return
	}
	claims, ok := ClaimsFromContext(x.r.Context())
	caller, aerr := callerFrom(claims, ok)
	if aerr != nil {
		h.fail(x, aerr)
		return
	}
	x.add(slog.String("caller", caller.OID))
	if caller.AppOnly {
		x.add(slog.Bool("app_only", true))
	}
	if kind == routeUploads {
		h.upload(x, caller)
		return
	}
	t, err := graph.ParseTarget(targetPath)
	if err != nil {
		h.fail(x, failure(graph.ReasonBadTarget, false, 0, err))
		return
	}
	a := accessWrite
	if x.r.Method == http.MethodGet {
		a = accessRead
	}
	t, aerr = authorise(caller, t, a, h.policy())
	if aerr != nil {
		h.fail(x, aerr)
		return
	}
	x.add(slog.String("target", t.String()))
	switch {
	case kind == routeMeta:
		h.getMeta(x, t)
	case x.r.Method == http.MethodGet:
		h.getValue(x, t)
	case x.r.Method == http.MethodDelete:
		h.delete(x, t)
	default:
		h.put(x, t)
	}
}

func (h *Handler) policy() Policy {
	return Policy{AdminRole: h.opts.AdminRole, UserScope: h.opts.UserScope}
}

func methodAllowed(allow, method string) bool {
	for _, m := range strings.Split(allow, ", ") {
		if m == method {
			return true
		}
	}
	return false
}

// fail answers with e and notes it for the log line.
func (h *Handler) fail(x *exchange, e *Error) {
	x.status, x.reason = e.Status(), e.why
	if e.Cause != nil {
		x.add(slog.String("error", e.Cause.Error()))
	}
	e.write(x.w, x.requestID, x.clientRequestID, h.now())
}

func (h *Handler) writeJSON(x *exchange, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		h.fail(x, failure(photo.ReasonInternal, false, 0, fmt.Errorf("encode response: %w", err)))
		return
	}
	x.status = status
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(status)
	_, _ = x.w.Write(body)
}

// PutResult is the answer to a successful PUT or PATCH.
type PutResult struct {
	Target  string `json:"target"` // the Graph target written, users/{oid}/… for the caller's own
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	Bytes   int    `json:"bytes"`
	Quality int    `json:"quality"`
	// Unchanged: Graph already held exactly this photo, so it was not written again.
	Unchanged bool `json:"unchanged,omitempty"`
}

// checkUpload refuses bodies that cannot be an image upload: compressed transfer codings and
// content types that are neither images nor a generic byte stream (forms, JSON, text). The
// bytes themselves decide the format; Content-Type is only checked for obvious mistakes, as a
// Graph client sends image/jpeg whatever the photo's format.
func checkUpload(r *http.Request) *Error {
	if ce := strings.TrimSpace(r.Header.Get("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return &Error{why: ReasonMediaType,
			Message: "send the image uncompressed (no Content-Encoding)"}
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (strings.HasPrefix(mt, "image/") || mt == "application/octet-stream") {
		return nil
	}
	return &Error{why: ReasonMediaType,
		Message: "send the image bytes as the body with Content-Type image/* (for example image/jpeg)"}
}

func (h *Handler) tooLarge(n int64) *Error {
	msg := fmt.Sprintf("the body is over the %d-byte limit of this route (Lambda's 6 MB payload, base64-encoded); "+
		"upload larger originals (up to %d bytes) with POST /v1.0/uploads", h.maxInline, h.opts.Photos.MaxSourceBytes())
	if n > 0 && n <= 1<<40 {
		msg = fmt.Sprintf("the body is %d bytes, over the %d-byte limit of this route (Lambda's 6 MB payload, base64-encoded); "+
			"upload larger originals (up to %d bytes) with POST /v1.0/uploads", n, h.maxInline, h.opts.Photos.MaxSourceBytes())
	}
	return &Error{why: ReasonBodyTooLarge, Message: msg}
}

func (h *Handler) getValue(x *exchange, t graph.Target) {
	data, res, err := h.opts.Graph.GetPhoto(x.r.Context(), t)
	x.add(graphAttrs(res)...)
	if err != nil {
		h.fail(x, failureOf(err))
		return
	}
	x.status = http.StatusOK
	x.add(slog.Int("photo_bytes", len(data)))
	x.w.Header().Set("Content-Type", http.DetectContentType(data))
	x.w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	x.w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(x.w, bytes.NewReader(data))
}

// PhotoMeta is Graph's profilePhoto resource, as GET …/photo answers it.
type PhotoMeta struct {
	ContentType string `json:"@odata.mediaContentType,omitempty"`
	ETag        string `json:"@odata.mediaEtag,omitempty"`
	ID          string `json:"id"`
	Height      int    `json:"height"`
	Width       int    `json:"width"`
}

func (h *Handler) getMeta(x *exchange, t graph.Target) {
	m, err := h.opts.Graph.GetPhotoMeta(x.r.Context(), t)
	x.add(graphAttrs(m.Result)...)
	if err != nil {
		h.fail(x, failureOf(err))
		return
	}
	h.writeJSON(x, http.StatusOK, PhotoMeta{ContentType: m.ContentType, ETag: m.ETag, ID: m.ID, Height: m.Height, Width: m.Width})
}

func (h *Handler) delete(x *exchange, t graph.Target) {
	if !t.SupportsDelete() {
		h.fail(x, &Error{why: ReasonDeleteContact,
			Allow: "GET, PUT, PATCH", Message: "Microsoft Graph deletes only user and group photos, not a contact's"})
		return
	}
	res, err := h.opts.Graph.DeletePhoto(x.r.Context(), t)
	x.add(graphAttrs(res)...)
	if err != nil {
		h.fail(x, failureOf(err))
		return
	}
	// Graph answers a photo delete with 200 and no body (profilephoto-delete); so does this
	// API, so a Graph client sees what it expects.
	x.status = http.StatusOK
	x.w.WriteHeader(http.StatusOK)
}

func graphAttrs(res graph.Result) []slog.Attr {
	if res.Attempts == 0 {
		return nil
	}
	return []slog.Attr{slog.Int("graph_status", res.Status), slog.String("graph_request_id", res.RequestID),
		slog.String("graph_client_request_id", res.ClientRequestID), slog.Int("graph_attempts", res.Attempts),
		slog.Int64("graph_ms", res.Duration.Milliseconds())}
}

// clientRequestID echoes a Graph client's client-request-id (a GUID by Graph's rules) when it
// is short and plain, as Graph does; anything else is dropped rather than reflected.
func clientRequestID(r *http.Request) string {
	v := r.Header.Get("client-request-id")
	if v == "" || len(v) > 64 {
		return ""
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return v
}

// newRequestID is a random GUID, for requests that arrive without API Gateway's id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
