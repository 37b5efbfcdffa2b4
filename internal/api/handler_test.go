package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/photostate"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

// authoriser stands in for API Gateway's JWT authoriser in front of a local server: it hands
// the handler the claims of a verified token, as NewRequest does from the event.
func authoriser(claims Claims, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
	})
}

// TestGraphClientUploadsUnchanged sends exactly what a client written for Graph sends (its base
// URL pointed at this API): PUT {base}/v1.0/me/photo/$value, Content-Type image/jpeg, raw bytes,
// a client-request-id; and the same without the version, as SDKs configured with a base URL
// ending in /v1.0 do not repeat it.
func TestGraphClientUploadsUnchanged(t *testing.T) {
	f := newFixture(t, clientSecret, nil)
	srv := httptest.NewServer(authoriser(aliceClaims(), f.handler))
	defer srv.Close()

	for _, path := range []string{"/v1.0/me/photo/$value", "/me/photo/$value", "/v1.0/users/alice@contoso.com/photo/$value"} {
		src := sourceJPEG(500, 400)
		req, err := http.NewRequest(http.MethodPut, srv.URL+path, bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "image/jpeg")
		req.Header.Set("Authorization", "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30.")
		req.Header.Set("client-request-id", "6f0c4b1e-9d2a-4c3b-8e5f-0a1b2c3d4e5f")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s = %d: %s", path, resp.StatusCode, body)
		}
		if resp.Header.Get("client-request-id") != "6f0c4b1e-9d2a-4c3b-8e5f-0a1b2c3d4e5f" || resp.Header.Get("request-id") == "" {
			t.Errorf("headers request-id %q client-request-id %q", resp.Header.Get("request-id"), resp.Header.Get("client-request-id"))
		}
		var got PutResult
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		stored, ok := f.graph.Photo(tenantID, "users/"+aliceOID)
		if !ok || got.Target != "users/"+aliceOID || got.Width != 400 || got.Height != 400 || got.Bytes != len(stored.Data) {
			t.Errorf("PUT %s answered %+v, stored %v %dx%d", path, got, ok, stored.Width, stored.Height)
		}
	}
	if strings.Contains(f.logs.String(), "eyJ0eXAi") {
		t.Error("the Authorization header reached the log")
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t, clientSecret, func(o *Options) { o.MaxInlineBytes = 64 << 10 })
	admin := Claims{"oid": doraOID, "upn": "dora@contoso.com", "roles": "[Photos.ReadWrite.All]", "scp": "Photos.Write"}
	jpeg := map[string]string{"Content-Type": "image/jpeg"}
	small := sourceJPEG(100, 100)
	tests := []struct {
		name         string
		method, path string
		body         []byte
		header       map[string]string
		status       int
		reason, code string
		allow        string
	}{
		{"unknown route", "GET", "/v1.0/users", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"graph but not photo", "GET", "/v1.0/users/alice@contoso.com/manager", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"photo sizes are not served", "GET", "/v1.0/me/photos/48x48/$value", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"uploads without version", "POST", "/uploads", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"root", "GET", "/", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"photo twice", "GET", "/v1.0/me/photo/photo/$value", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"value twice", "GET", "/v1.0/me/photo/$value/photo", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"trailing slash", "GET", "/v1.0/me/photo/$value/", nil, nil, 404, ReasonNoRoute.String(), "NotFound", ""},
		{"POST on value", "POST", "/v1.0/me/photo/$value", small, jpeg, 405, ReasonMethod.String(), "MethodNotAllowed", "GET, PUT, PATCH, DELETE"},
		{"PUT on metadata", "PUT", "/v1.0/me/photo", small, jpeg, 405, ReasonMethod.String(), "MethodNotAllowed", "GET"},
		{"GET uploads", "GET", "/v1.0/uploads", nil, nil, 405, ReasonMethod.String(), "MethodNotAllowed", "POST"},
		{"prefix of a method", "PAT", "/v1.0/me/photo/$value", nil, nil, 405, ReasonMethod.String(), "MethodNotAllowed", "GET, PUT, PATCH, DELETE"},
		{"unknown kind", "PUT", "/v1.0/sites/x/photo/$value", small, jpeg, 400, "bad_target", "BadRequest", ""},
		{"escaped slash in id", "PUT", "/v1.0/users/a%2Fb/photo/$value", small, jpeg, 400, "bad_target", "BadRequest", ""},
		{"dot dot", "GET", "/v1.0/users/../photo", nil, nil, 400, "bad_target", "BadRequest", ""},
		{"empty body", "PUT", "/v1.0/me/photo/$value", []byte{}, jpeg, 400, ReasonEmptyBody.String(), "BadRequest", ""},
		{"PDF", "PUT", "/v1.0/me/photo/$value", []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), jpeg, 415, "unsupported_format", "UnsupportedMediaType", ""},
		{"SVG", "PUT", "/v1.0/me/photo/$value", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"/>`), map[string]string{"Content-Type": "image/svg+xml"}, 415, "unsupported_format", "UnsupportedMediaType", ""},
		{"form upload", "PUT", "/v1.0/me/photo/$value", small, map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415, ReasonMediaType.String(), "UnsupportedMediaType", ""},
		{"compressed", "PUT", "/v1.0/me/photo/$value", small, map[string]string{"Content-Type": "image/jpeg", "Content-Encoding": "gzip"}, 415, ReasonMediaType.String(), "UnsupportedMediaType", ""},
		{"truncated JPEG", "PUT", "/v1.0/me/photo/$value", small[:len(small)/3], jpeg, 400, "corrupt_image", "InvalidImage", ""},
		{"too small", "PUT", "/v1.0/me/photo/$value", sourceJPEG(20, 20), jpeg, 400, "too_small", "ImageTooSmall", ""},
		{"over the inline limit", "PUT", "/v1.0/me/photo/$value", make([]byte, 64<<10+1), jpeg, 413, ReasonBodyTooLarge.String(), "RequestEntityTooLarge", ""},
		{"unknown user", "PUT", "/v1.0/users/nobody@contoso.com/photo/$value", small, jpeg, 404, "target_not_found", "Request_ResourceNotFound", ""},
		{"no photo yet", "GET", "/v1.0/groups/" + groupID + "/photo/$value", nil, nil, 404, "photo_not_found", "ImageNotFound", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, admin, tt.method, tt.path, tt.body, tt.header)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			env := graphError(t, rec)
			if env.Error.InnerError.Reason != tt.reason || env.Error.Code != tt.code {
				t.Errorf("code %q reason %q, want %q %q", env.Error.Code, env.Error.InnerError.Reason, tt.code, tt.reason)
			}
			if rec.Header().Get("Allow") != tt.allow {
				t.Errorf("Allow %q, want %q", rec.Header().Get("Allow"), tt.allow)
			}
			if rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
		})
	}
	if n := len(f.graph.Requests()); n == 0 {
		t.Error("no request reached Graph, so the Graph-side cases proved nothing")
	}
}

// TestTooLargePointsAtUploads checks the 413 of the default limit (Lambda's 6 MB payload) with
// and without a declared length, and that nothing past the limit is normalised.
func TestTooLargePointsAtUploads(t *testing.T) {
	f := newFixture(t, clientSecret, nil)
	if f.handler.MaxInlineBytes() != DefaultMaxInlineBytes {
		t.Fatalf("inline limit %d, want %d", f.handler.MaxInlineBytes(), DefaultMaxInlineBytes)
	}
	// base64 of the largest inline body plus a realistic event stays under Lambda's 6 MB.
	if enc := (DefaultMaxInlineBytes + 2) / 3 * 4; enc+8<<10 > 6<<20 {
		t.Fatalf("a %d-byte body is %d bytes in base64, too close to Lambda's 6 MiB payload", DefaultMaxInlineBytes, enc)
	}
	big := append(sourceJPEG(64, 64), make([]byte, DefaultMaxInlineBytes)...)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // hides the length: no Content-Length
		}
		req := httptest.NewRequest(http.MethodPut, "/v1.0/me/photo/$value", body)
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "image/jpeg")
		req = req.WithContext(WithClaims(req.Context(), aliceClaims()))
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked=%v: status %d, want 413", chunked, rec.Code)
		}
		env := graphError(t, rec)
		if !strings.Contains(env.Error.Message, "POST /v1.0/uploads") || !strings.Contains(env.Error.Message, strconv.Itoa(DefaultMaxInlineBytes)) {
			t.Errorf("413 message does not point at the upload route and the limit: %q", env.Error.Message)
		}
	}
	assertNoGraphCalls(t, f)
}

func TestThrottlingAndOutagesCarryRetryAfter(t *testing.T) {
	tests := []struct {
		fault      graphtest.Fault
		status     int
		retryAfter string
		reason     string
	}{
		{graphtest.Fault{Kind: "graph", Status: 429, RetryAfter: "7"}, 429, "7", "throttled"},
		{graphtest.Fault{Kind: "graph", Status: 503, RetryAfter: "9"}, 503, "9", "unavailable"},
		{graphtest.Fault{Kind: "graph", Status: 504, RetryAfter: "3"}, 503, "3", "unavailable"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.fault.Status), func(t *testing.T) {
			f := newFixture(t, clientSecret, nil)
			f.graph.AddFault(tt.fault)
			for _, rq := range []struct{ method, path string }{
				{http.MethodPut, "/v1.0/me/photo/$value"}, {http.MethodGet, "/v1.0/me/photo/$value"},
				{http.MethodGet, "/v1.0/me/photo"}, {http.MethodDelete, "/v1.0/me/photo/$value"},
			} {
				rec := f.do(t, aliceClaims(), rq.method, rq.path, sourceJPEG(100, 100), map[string]string{"Content-Type": "image/jpeg"})
				if rec.Code != tt.status || rec.Header().Get("Retry-After") != tt.retryAfter {
					t.Fatalf("%s %s = %d Retry-After %q, want %d %q: %s", rq.method, rq.path, rec.Code, rec.Header().Get("Retry-After"), tt.status, tt.retryAfter, rec.Body)
				}
				if r := graphError(t, rec).Error.InnerError.Reason; r != tt.reason {
					t.Errorf("reason %q, want %q", r, tt.reason)
				}
			}
		})
	}
}

// TestNoSecretsReachClientsOrLogs uses wrong credentials: Graph's token endpoint refuses them,
// the caller gets a 502 that says nothing internal, and neither the answer nor the log holds
// the secret or the caller's token.
func TestNoSecretsReachClientsOrLogs(t *testing.T) {
	const wrongSecret = "this-secret-value-must-never-be-shown-0123"
	f := newFixture(t, wrongSecret, nil)
	bearer := "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJvaWQiOiJzZWNyZXQifQ."
	rec := f.do(t, aliceClaims(), http.MethodPut, "/v1.0/me/photo/$value", sourceJPEG(100, 100),
		map[string]string{"Content-Type": "image/jpeg", "Authorization": bearer})
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d, want 502: %s", rec.Code, rec.Body)
	}
	env := graphError(t, rec)
	if env.Error.InnerError.Reason != "credentials_invalid" {
		t.Errorf("reason %q, want credentials_invalid", env.Error.InnerError.Reason)
	}
	logs := f.logs.String()
	for _, leak := range []string{wrongSecret, clientSecret, "eyJ0eXAi", "AADSTS"} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Errorf("response holds %q: %s", leak, rec.Body)
		}
		if leak != "AADSTS" && strings.Contains(logs, leak) {
			t.Errorf("log holds %q", leak)
		}
	}
	// The operators' side does say what failed.
	if !strings.Contains(logs, "credentials_invalid") {
		t.Errorf("the log does not name the failure: %s", logs)
	}
}

// TestUpstreamRedirectIsBadGateway: a redirect from Graph or the token authority is not
// followed; the caller gets a 502 naming redirect_refused, and nothing is stored.
func TestUpstreamRedirectIsBadGateway(t *testing.T) {
	for _, kind := range []string{"graph", "token"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, clientSecret, nil)
			f.graph.AddFault(graphtest.Fault{Kind: kind, Status: 307, Location: "http://127.0.0.1:1/elsewhere"})
			rec := f.do(t, aliceClaims(), http.MethodPut, "/v1.0/me/photo/$value", sourceJPEG(100, 100), map[string]string{"Content-Type": "image/jpeg"})
			if rec.Code != http.StatusBadGateway || rec.Header().Get("Retry-After") != "" {
				t.Fatalf("status %d Retry-After %q, want 502 and none: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			if env := graphError(t, rec); env.Error.InnerError.Reason != graph.ReasonRedirect.String() || strings.Contains(rec.Body.String(), "elsewhere") {
				t.Errorf("answer %s", rec.Body)
			}
			if _, ok := f.graph.Photo(tenantID, "users/"+aliceOID); ok {
				t.Error("a photo was stored")
			}
		})
	}
}

// TestRequestIDInResponsesAndLogs: API Gateway's request id (from the context) is answered and
// logged; without one the handler makes its own.
func TestRequestIDInResponsesAndLogs(t *testing.T) {
	f := newFixture(t, clientSecret, nil)
	req := httptest.NewRequest(http.MethodGet, "/v1.0/users/bob@contoso.com/photo", nil)
	req = req.WithContext(WithRequestID(WithClaims(context.Background(), aliceClaims()), "Zx9_abcDEF0gAAA="))
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || rec.Header().Get("request-id") != "Zx9_abcDEF0gAAA=" {
		t.Fatalf("status %d request-id %q", rec.Code, rec.Header().Get("request-id"))
	}
	graphError(t, rec)
	rec2 := f.do(t, aliceClaims(), http.MethodGet, "/v1.0/me/photo", nil, nil)
	own := rec2.Header().Get("request-id")
	if len(own) != 36 || own == "Zx9_abcDEF0gAAA=" {
		t.Errorf("generated request id %q", own)
	}
	lines := f.logs.lines(t)
	if len(lines) != 2 || lines[0]["request_id"] != "Zx9_abcDEF0gAAA=" || lines[1]["request_id"] != own {
		t.Fatalf("log lines %v", lines)
	}
	if lines[0]["reason"] != ReasonForbidden.String() || lines[0]["http_status"] != float64(403) || lines[0]["caller"] != aliceOID {
		t.Errorf("log line %v", lines[0])
	}
	// A client-request-id that is not a plain token is not reflected.
	rec3 := f.do(t, aliceClaims(), http.MethodGet, "/v1.0/me/photo", nil, map[string]string{"client-request-id": "<script>"})
	if rec3.Header().Get("client-request-id") != "" || strings.Contains(rec3.Body.String(), "script") {
		t.Errorf("reflected a hostile client-request-id: %q", rec3.Body.String())
	}
}

// metricsSink keeps the metric values of each line.
type metricsSink struct{ lines []map[string]float64 }

func (m *metricsSink) Write(_ context.Context, metrics []obs.Metric, _ map[string]any) error {
	line := map[string]float64{}
	for _, mt := range metrics {
		line[mt.Name] = mt.Value
	}
	m.lines = append(m.lines, line)
	return nil
}

func TestMetricsPerWrite(t *testing.T) {
	m := &metricsSink{}
	f := newFixture(t, clientSecret, func(o *Options) { o.Metrics = m })
	f.do(t, aliceClaims(), http.MethodPut, "/v1.0/me/photo/$value", sourceJPEG(100, 100), nil)
	f.do(t, aliceClaims(), http.MethodPut, "/v1.0/me/photo/$value", []byte("GIF89a not really"), nil)
	f.do(t, aliceClaims(), http.MethodGet, "/v1.0/me/photo", nil, nil) // reads write no metrics
	if len(m.lines) != 2 {
		t.Fatalf("%d metric lines, want 2", len(m.lines))
	}
	if m.lines[0]["PhotosSynced"] != 1 || m.lines[0]["BytesIn"] == 0 || m.lines[0]["BytesOut"] == 0 {
		t.Errorf("synced line %v", m.lines[0])
	}
	if m.lines[1]["PhotosRejected"] != 1 || m.lines[1]["PhotosSynced"] != 0 {
		t.Errorf("rejected line %v", m.lines[1])
	}
}

// TestSamePhotoTwiceIsNotWrittenAgain: a user who uploads the same picture twice gets 200 both
// times; the second says unchanged, is counted as such, and never reaches Graph.
func TestSamePhotoTwiceIsNotWrittenAgain(t *testing.T) {
	s3srv := s3test.MustStart(t, s3test.Options{})
	if err := s3srv.CreateBucket(context.Background(), "state"); err != nil {
		t.Fatal(err)
	}
	m := &metricsSink{}
	f := newFixture(t, clientSecret, func(o *Options) {
		records, err := photostate.New(s3srv.Client(), o.Graph, photostate.Options{Bucket: "state"})
		if err != nil {
			t.Fatal(err)
		}
		o.Photos.(*photo.Pipeline).SkipUnchanged(records)
		o.Metrics = m
	})
	puts := func() int {
		n := 0
		for _, r := range f.graph.Requests() {
			if r.Kind == "graph" && r.Method == http.MethodPut {
				n++
			}
		}
		return n
	}
	for i, want := range []bool{false, true} {
		before := puts()
		rec := f.do(t, aliceClaims(), http.MethodPut, "/v1.0/me/photo/$value", sourceJPEG(120, 100), map[string]string{"Content-Type": "image/jpeg"})
		var res PutResult
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != http.StatusOK || res.Unchanged != want || res.Bytes == 0 {
			t.Fatalf("upload %d: %d %s; want 200 with unchanged %v", i, rec.Code, rec.Body, want)
		}
		if n := puts() - before; (n == 0) != want {
			t.Errorf("upload %d: %d Graph writes", i, n)
		}
		if got := m.lines[len(m.lines)-1]; got["PhotosUnchanged"] != map[bool]float64{true: 1}[want] || got["PhotosSynced"] != map[bool]float64{false: 1}[want] {
			t.Errorf("upload %d: metrics %v", i, got)
		}
	}
}

type panickingWriter struct{ PhotoWriter }

func (panickingWriter) Run(context.Context, photo.Job) photo.Outcome {
	panic("libvips fell over")
}

func TestPanicBecomesInternalError(t *testing.T) {
	f := newFixture(t, clientSecret, func(o *Options) { o.Photos = panickingWriter{o.Photos} })
	rec := f.do(t, aliceClaims(), http.MethodPut, "/v1.0/me/photo/$value", sourceJPEG(100, 100), nil)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "libvips") {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if graphError(t, rec).Error.InnerError.Reason != photo.ReasonInternal.String() || !strings.Contains(f.logs.String(), "libvips fell over") {
		t.Errorf("reason or log wrong: %s", f.logs.String())
	}
}
