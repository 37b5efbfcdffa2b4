package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/graphphoto/graphphoto/internal/tool"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// The directory every test (and the events/ samples) uses. functions/api's test seeds the
// same users, so keep them in step.
const (
	tenantID     = "3f2a9d1e-6b7c-4d8e-9f01-23456789abcd"
	clientID     = "5e1f0000-1111-4222-8333-444455556666"
	clientSecret = "api-test-client-secret-value-0123456789"
	aliceOID     = "a11ce000-0000-4000-8000-000000000001"
	bobOID       = "b0b00000-0000-4000-8000-000000000002"
	carolOID     = "ca401000-0000-4000-8000-000000000003"
	doraOID      = "d04a0000-0000-4000-8000-000000000004" // holds the admin role in the samples
	aliceContact = "AAMkAGI2-alice-contact-1"
	aliceFolder  = "AAMkAGI2-alice-folder-1"
	bobContact   = "AAMkAGI2-bob-contact-1"
	groupID      = "6f1e0000-0000-4000-8000-00000000a0b1"
	adminRole    = "Photos.ReadWrite.All"
)

func directory() graphtest.Tenant {
	return graphtest.Tenant{
		ID:   tenantID,
		Apps: []graphtest.App{{ClientID: clientID, Secrets: []string{clientSecret}}},
		Users: []graphtest.User{
			{ID: aliceOID, UPN: "alice@contoso.com", Contacts: []graphtest.Contact{{ID: aliceContact, FolderID: aliceFolder}}},
			{ID: bobOID, UPN: "bob@contoso.com", Contacts: []graphtest.Contact{{ID: bobContact}}},
			{ID: carolOID, UPN: "carol@contoso.com"},
			{ID: doraOID, UPN: "dora@contoso.com"},
		},
		Groups: []graphtest.Group{{ID: groupID, Unified: true}},
	}
}

func newGraph(t *testing.T) *graphtest.Server {
	t.Helper()
	srv := graphtest.New(graphtest.Options{Tenants: []graphtest.Tenant{directory()}})
	t.Cleanup(srv.Close)
	return srv
}

// syncBuffer is a log sink tests read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines decodes the JSON log lines.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

type fixture struct {
	graph   *graphtest.Server
	handler *Handler
	logs    *syncBuffer
}

// newFixture is the handler with the real pipeline (libvips normaliser, Graph client) against a
// fresh Graph emulator. secret is the client secret the credentials carry.
func newFixture(t *testing.T, secret string, edit func(*Options)) *fixture {
	t.Helper()
	srv := newGraph(t)
	client, err := graph.NewClient(graph.StaticCredentials{TenantID: tenantID, ClientID: clientID, ClientSecret: secret}, graph.Options{
		Endpoint: srv.GraphURL(), Authority: srv.AuthorityURL(), HTTPClient: srv.Client(),
		MaxAttempts: 2, MaxRetryAfter: 1, // any Retry-After is handed to the caller, never slept through
	})
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := photo.New(imageproc.Normalise, client, imageproc.Options{}, 20<<20)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts := Options{Photos: pipeline, Graph: client, AdminRole: adminRole, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	if edit != nil {
		edit(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{graph: srv, handler: h, logs: logs}
}

// do sends one request through the handler as API Gateway would hand it over: claims (nil for
// none) in the context.
func (f *fixture) do(t *testing.T, claims Claims, method, path string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader = http.NoBody
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, "https://api.example.com"+path, r)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if claims != nil {
		req = req.WithContext(WithClaims(req.Context(), claims))
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// graphError decodes an error envelope, failing the test when the body is not one.
func graphError(t *testing.T, rec *httptest.ResponseRecorder) envelope {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d body is not a Graph error envelope: %q", rec.Code, rec.Body.String())
	}
	if env.Error.InnerError.RequestID == "" || env.Error.InnerError.RequestID != rec.Header().Get("request-id") {
		t.Errorf("innerError.request-id %q, header %q", env.Error.InnerError.RequestID, rec.Header().Get("request-id"))
	}
	if env.Error.InnerError.Date == "" {
		t.Error("innerError.date is empty")
	}
	return env
}

func aliceClaims() Claims {
	return Claims{"oid": aliceOID, "upn": "alice@contoso.com", "tid": tenantID, "scp": "Photos.Write"}
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot(t testing.TB) string { return tool.MustModuleRoot(t) }

// sourceJPEG is a small photo-like JPEG the normaliser accepts.
func sourceJPEG(w, h int) []byte { return graphtest.JPEG(w, h) }

// seed is a job's source for bytes in memory, for a photo put in place as an admin would.
type seed struct {
	target graph.Target
	src    []byte
}

func (s seed) Open(context.Context) (photo.Input, error) {
	return photo.Input{Target: s.target, Size: int64(len(s.src)), Body: bytes.NewReader(s.src)}, nil
}
