package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/reason"
)

const (
	tenantID = "0c4b5b0e-5f3a-4c2e-9d7a-1b2c3d4e5f60"
	appID    = "a0a0a0a0-1111-4222-8333-444455556666"
	certID   = "c0c0c0c0-1111-4222-8333-444455556666"
	secret   = "Xy7~verySecretValue_ForTests.123"
	aliceID  = "11111111-aaaa-4bbb-8ccc-000000000001"
	groupID  = "22222222-aaaa-4bbb-8ccc-000000000002"
	secGroup = "33333333-aaaa-4bbb-8ccc-000000000003"
)

// fakeClock records the waits the client asks for instead of sleeping.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// capture is a RoundTripper that remembers every credential-like value on the wire, for the
// log-scan test: bearer tokens sent, access tokens received, client assertions sent.
type capture struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	if a := r.Header.Get("Authorization"); a != "" {
		c.add(strings.TrimPrefix(a, "Bearer "))
	}
	if r.Body != nil && strings.HasSuffix(r.URL.Path, "/token") {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		if form, err := url.ParseQuery(string(b)); err == nil {
			c.add(form.Get("client_assertion"))
			c.add(form.Get("client_secret"))
		}
	}
	resp, err := c.base.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/token") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(b, &tok) == nil {
			c.add(tok.AccessToken)
		}
	}
	return resp, err
}

func (c *capture) add(s string) {
	if s == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, s)
}

func (c *capture) values() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

type env struct {
	srv     *graphtest.Server
	cap     *capture
	clock   *fakeClock
	logs    *bytes.Buffer
	certPEM []byte
	keyPEM  []byte
}

func newEnv(t *testing.T, graphResource string) *env {
	t.Helper()
	certPEM, keyPEM, err := graphtest.SelfSignedCertificate("graphphoto test app", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := graphtest.New(graphtest.Options{
		GraphResource: graphResource,
		Tenants: []graphtest.Tenant{{
			ID:      tenantID,
			Domains: []string{"contoso.onmicrosoft.com"},
			Apps: []graphtest.App{
				{ClientID: appID, Secrets: []string{secret}},
				{ClientID: certID, Certificates: [][]byte{certPEM}},
			},
			Users: []graphtest.User{
				{ID: aliceID, UPN: "alice@contoso.com", Contacts: []graphtest.Contact{{ID: "AAMkC1="}, {ID: "AAMkC2=", FolderID: "AAMkF1="}}},
				{ID: "44444444-aaaa-4bbb-8ccc-000000000004", UPN: "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"},
				{ID: "55555555-aaaa-4bbb-8ccc-000000000005", UPN: "$dollar@contoso.com"},
			},
			Groups: []graphtest.Group{{ID: groupID, Unified: true}, {ID: secGroup}},
		}},
	})
	t.Cleanup(srv.Close)
	return &env{srv: srv, cap: &capture{base: srv.Client().Transport}, clock: newFakeClock(), logs: &bytes.Buffer{}, certPEM: certPEM, keyPEM: keyPEM}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (e *env) client(t *testing.T, src graph.CredentialsSource, mod func(*graph.Options)) *graph.Client {
	t.Helper()
	opts := graph.Options{
		Endpoint:  e.srv.GraphURL(),
		Authority: e.srv.AuthorityURL(),
		HTTPClient: &http.Client{
			Transport: e.cap,
		},
		Logger: slog.New(slog.NewJSONHandler(&syncWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:  e.clock,
		Jitter: func(max time.Duration) time.Duration { return max },
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := graph.NewClient(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func secretCreds() graph.StaticCredentials {
	return graph.StaticCredentials{TenantID: tenantID, ClientID: appID, ClientSecret: secret}
}

func target(t *testing.T, s string) graph.Target {
	t.Helper()
	tg, err := graph.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func asGraphError(t *testing.T, err error) *graph.Error {
	t.Helper()
	var ge *graph.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *graph.Error", err, err)
	}
	return ge
}

func TestClientEveryEndpoint(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t, secretCreds(), nil)
	ctx := context.Background()
	jpg := graphtest.JPEG(300, 300)
	targets := []struct{ target, stored string }{
		{"users/alice@contoso.com", "users/" + aliceID},
		{"users/" + aliceID, "users/" + aliceID},
		{"users/bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "users/44444444-aaaa-4bbb-8ccc-000000000004"},
		{"users/$dollar@contoso.com", "users/55555555-aaaa-4bbb-8ccc-000000000005"},
		{"groups/" + groupID, "groups/" + groupID},
		{"users/alice@contoso.com/contacts/AAMkC1=", "users/" + aliceID + "/contacts/AAMkC1="},
		{"users/alice@contoso.com/contactfolders/AAMkF1=/contacts/AAMkC2=", "users/" + aliceID + "/contacts/AAMkC2="},
	}
	for _, tc := range targets {
		t.Run(tc.target, func(t *testing.T) {
			tg := target(t, tc.target)
			res, err := c.PutPhoto(ctx, tg, jpg)
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			if res.Status != 200 || res.Attempts != 1 || res.RequestID == "" || res.ClientRequestID == "" || res.Method != "PUT" || res.Bytes != len(jpg) {
				t.Errorf("put result %+v", res)
			}
			if p, ok := e.srv.Photo(tenantID, tc.stored); !ok || !bytes.Equal(p.Data, jpg) {
				t.Fatalf("emulator holds no photo at %s", tc.stored)
			}
			got, res, err := c.GetPhoto(ctx, tg)
			if err != nil || !bytes.Equal(got, jpg) || res.Bytes != len(jpg) {
				t.Fatalf("get: %v (%d bytes)", err, len(got))
			}
			meta, err := c.GetPhotoMeta(ctx, tg)
			if err != nil || meta.Width != 240 || meta.Height != 240 || meta.ID != "240x240" || meta.ETag == "" || meta.ContentType != "image/jpeg" {
				t.Fatalf("meta: %+v %v", meta, err)
			}
			if !tg.SupportsDelete() {
				if _, err := c.DeletePhoto(ctx, tg); err == nil {
					t.Fatal("contact delete was not refused")
				}
				return
			}
			if tg.Kind() == graph.KindGroup {
				// Graph does not let application permissions delete a group's photo.
				_, err := c.DeletePhoto(ctx, tg)
				if ge := asGraphError(t, err); ge.Reason() != graph.ReasonAccessDenied {
					t.Fatalf("group delete: %v", err)
				}
				return
			}
			if _, err := c.DeletePhoto(ctx, tg); err != nil {
				t.Fatalf("delete: %v", err)
			}
			_, _, err = c.GetPhoto(ctx, tg)
			if ge := asGraphError(t, err); ge.Reason() != graph.ReasonPhotoNotFound || ge.Transient() || ge.Status != 404 {
				t.Fatalf("get after delete: %v", err)
			}
		})
	}
	// The wire: one token for everything, one image/jpeg Content-Type per write, never
	// compressed, a fresh client-request-id on every request.
	seen := map[string]bool{}
	tokens := 0
	for _, r := range e.srv.Requests() {
		switch r.Kind {
		case "token":
			tokens++
		case "graph":
			if seen[r.ClientRequestID] || r.ClientRequestID == "" {
				t.Errorf("client-request-id %q reused or missing", r.ClientRequestID)
			}
			seen[r.ClientRequestID] = true
			if r.Method == "PUT" && (len(r.ContentType) != 1 || r.ContentType[0] != "image/jpeg" || r.ContentEncoding != "" || r.Bytes != int64(len(jpg))) {
				t.Errorf("write on the wire: %+v", r)
			}
		}
	}
	if tokens != 1 {
		t.Errorf("%d token requests; MSAL should have cached the first token", tokens)
	}
	// Logs name both request ids.
	if !strings.Contains(e.logs.String(), `"request_id"`) || !strings.Contains(e.logs.String(), `"client_request_id"`) {
		t.Error("logs lack request ids")
	}
}

func TestClientCertificateCredential(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t, graph.StaticCredentials{TenantID: "contoso.onmicrosoft.com", ClientID: certID, CertificatePEM: e.certPEM, PrivateKeyPEM: e.keyPEM}, nil)
	if _, err := c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64)); err != nil {
		t.Fatalf("put with certificate: %v", err)
	}
	// A certificate the app does not hold is refused by the token endpoint.
	otherCert, otherKey, err := graphtest.SelfSignedCertificate("other", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c = e.client(t, graph.StaticCredentials{TenantID: tenantID, ClientID: certID, CertificatePEM: otherCert, PrivateKeyPEM: otherKey}, nil)
	_, err = c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	if ge := asGraphError(t, err); ge.Reason() != graph.ReasonCredentialsInvalid || ge.Transient() || !strings.Contains(ge.Code, "AADSTS700027") {
		t.Fatalf("unregistered certificate: %v", err)
	}
	// A key that does not belong to the certificate is refused locally.
	c = e.client(t, graph.StaticCredentials{TenantID: tenantID, ClientID: certID, CertificatePEM: e.certPEM, PrivateKeyPEM: otherKey}, nil)
	_, err = c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	if ge := asGraphError(t, err); ge.Reason() != graph.ReasonCredentialsInvalid {
		t.Fatalf("mismatched key: %v", err)
	}
}

// rotatingSource answers with the old secret until asked for fresh credentials.
type rotatingSource struct {
	mu             sync.Mutex
	stale, current string
	calls, fresh   int
}

func (r *rotatingSource) Credentials(_ context.Context, fresh bool) (graph.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	s := r.stale
	if fresh {
		r.fresh++
		s = r.current
	}
	return graph.Credentials{TenantID: tenantID, ClientID: appID, ClientSecret: s}, nil
}

func TestClientCredentialRotation(t *testing.T) {
	e := newEnv(t, "")
	if err := e.srv.SetAppSecrets(tenantID, appID, "rotated-secret-value"); err != nil {
		t.Fatal(err)
	}
	src := &rotatingSource{stale: secret, current: "rotated-secret-value"}
	c := e.client(t, src, nil)
	if _, err := c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64)); err != nil {
		t.Fatalf("put after rotation: %v", err)
	}
	if src.fresh != 1 || src.calls != 2 {
		t.Errorf("source asked %d times, %d fresh; want 2 and 1", src.calls, src.fresh)
	}
	// Both secrets wrong: one fresh re-read, then a permanent credentials_invalid.
	src = &rotatingSource{stale: "wrong-1", current: "wrong-2"}
	c = e.client(t, src, nil)
	_, err := c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	ge := asGraphError(t, err)
	if ge.Reason() != graph.ReasonCredentialsInvalid || ge.Transient() || !strings.Contains(ge.Code, "AADSTS7000215") || ge.Status != 401 {
		t.Fatalf("wrong secrets: %v", err)
	}
	if src.fresh != 1 {
		t.Errorf("fresh re-reads = %d, want 1", src.fresh)
	}
	// Unknown tenant and unknown app are refusals too.
	for _, creds := range []graph.StaticCredentials{
		{TenantID: "nosuch.onmicrosoft.com", ClientID: appID, ClientSecret: secret},
		{TenantID: tenantID, ClientID: "99999999-0000-4000-8000-000000000000", ClientSecret: secret},
	} {
		_, err := e.client(t, creds, nil).PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
		if ge := asGraphError(t, err); ge.Reason() != graph.ReasonCredentialsInvalid || ge.Transient() {
			t.Errorf("%s/%s: %v", creds.TenantID, creds.ClientID, err)
		}
	}
	// Invalid credentials never reach the network.
	_, err = e.client(t, graph.StaticCredentials{TenantID: tenantID}, nil).PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	if ge := asGraphError(t, err); ge.Reason() != graph.ReasonCredentialsInvalid {
		t.Errorf("incomplete credentials: %v", err)
	}
}

func TestClientRefreshesTokenOnce(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t, secretCreds(), nil)
	ctx := context.Background()
	tg := target(t, "users/alice@contoso.com")
	if _, err := c.PutPhoto(ctx, tg, graphtest.JPEG(64, 64)); err != nil {
		t.Fatal(err)
	}
	e.srv.RevokeTokens()
	res, err := c.PutPhoto(ctx, tg, graphtest.JPEG(64, 64))
	if err != nil || res.Attempts != 2 {
		t.Fatalf("after revoke: %+v %v", res, err)
	}
	// A Graph that keeps answering 401 gets one refresh, then a permanent error.
	e.srv.AddFault(graphtest.Fault{Kind: "graph", Status: 401, Code: "InvalidAuthenticationToken"})
	res, err = c.PutPhoto(ctx, tg, graphtest.JPEG(64, 64))
	ge := asGraphError(t, err)
	if ge.Reason() != graph.ReasonCredentialsInvalid || ge.Transient() || res.Attempts != 2 {
		t.Fatalf("persistent 401: %+v %v", res, err)
	}
	if len(e.clock.Waits()) != 0 {
		t.Errorf("401 handling slept: %v", e.clock.Waits())
	}
}

func TestClientRetryTiming(t *testing.T) {
	dateIn30s := func(c *fakeClock) string { return c.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name      string
		faults    func(c *fakeClock) []graphtest.Fault
		opts      func(*graph.Options)
		deadline  time.Duration
		wantErr   reason.Reason // zero for success
		transient bool
		attempts  int
		waits     []time.Duration
	}{
		{name: "retry-after seconds", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Times: 1, Status: 429, RetryAfter: "7"}}
		}, attempts: 2, waits: []time.Duration{7 * time.Second}},
		{name: "retry-after date", faults: func(c *fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Times: 1, Status: 503, RetryAfter: dateIn30s(c)}}
		}, attempts: 2, waits: []time.Duration{30 * time.Second}},
		{name: "backoff doubles", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Times: 3, Status: 504}}
		}, attempts: 4, waits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{name: "backoff capped", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Times: 5, Status: 503}}
		}, opts: func(o *graph.Options) { o.MaxAttempts = 6; o.MaxDelay = 3 * time.Second },
			attempts: 6, waits: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}},
		{name: "attempts bounded", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Status: 429, RetryAfter: "1"}}
		}, wantErr: graph.ReasonThrottled, transient: true, attempts: 4, waits: []time.Duration{time.Second, time.Second, time.Second}},
		{name: "connection reset", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Method: "PUT", Times: 1, Reset: true}}
		}, attempts: 2, waits: []time.Duration{time.Second}},
		{name: "deadline too close", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Status: 429, RetryAfter: "10"}}
		}, deadline: 11 * time.Second, wantErr: graph.ReasonThrottled, transient: true, attempts: 1},
		{name: "deadline leaves room", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Times: 1, Status: 429, RetryAfter: "5"}}
		}, deadline: 20 * time.Second, attempts: 2, waits: []time.Duration{5 * time.Second}},
		{name: "retry-after too long", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Status: 429, RetryAfter: "315"}}
		}, wantErr: graph.ReasonThrottled, transient: true, attempts: 1},
		{name: "permanent not retried", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "graph", Status: 500, Code: "ErrorInternalServerError"}}
		}, wantErr: graph.ReasonGraph, attempts: 1},
		{name: "token endpoint unavailable", faults: func(*fakeClock) []graphtest.Fault {
			return []graphtest.Fault{{Kind: "token", Times: 1, Status: 503, RetryAfter: "2"}}
		}, attempts: 1, waits: []time.Duration{2 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			for _, f := range tc.faults(e.clock) {
				e.srv.AddFault(f)
			}
			c := e.client(t, secretCreds(), tc.opts)
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				// The client compares the deadline with its clock, so anchor both to it.
				ctx, cancel = context.WithDeadline(ctx, e.clock.Now().Add(tc.deadline))
				defer cancel()
			}
			res, err := c.PutPhoto(ctx, target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
			if tc.wantErr.IsZero() {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				ge := asGraphError(t, err)
				if ge.Reason() != tc.wantErr || ge.Transient() != tc.transient {
					t.Fatalf("error %v: reason %s transient %v", err, ge.Reason(), ge.Transient())
				}
			}
			if res.Attempts != tc.attempts {
				t.Errorf("attempts %d, want %d", res.Attempts, tc.attempts)
			}
			if got := e.clock.Waits(); !equalDurations(got, tc.waits) {
				t.Errorf("waits %v, want %v", got, tc.waits)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDefaultJitterStaysInBounds(t *testing.T) {
	e := newEnv(t, "")
	e.srv.AddFault(graphtest.Fault{Kind: "graph", Status: 503})
	c := e.client(t, secretCreds(), func(o *graph.Options) {
		o.Jitter = nil
		o.MaxAttempts = 8
		o.BaseDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	_, err := c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	if ge := asGraphError(t, err); ge.Reason() != graph.ReasonUnavailable || !ge.Transient() {
		t.Fatal(err)
	}
	caps := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	waits := e.clock.Waits()
	if len(waits) != len(caps) {
		t.Fatalf("waits %v", waits)
	}
	for i, w := range waits {
		if w < 0 || w > caps[i]*time.Millisecond {
			t.Errorf("wait %d = %v outside [0, %vms]", i, w, caps[i])
		}
	}
}

func TestClientRefusesLocally(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t, secretCreds(), nil)
	ctx := context.Background()
	user := target(t, "users/alice@contoso.com")
	tests := []struct {
		name   string
		call   func() error
		reason reason.Reason
	}{
		{"me", func() error { _, err := c.PutPhoto(ctx, target(t, "me"), graphtest.JPEG(64, 64)); return err }, graph.ReasonBadTarget},
		{"me contact get", func() error { _, _, err := c.GetPhoto(ctx, target(t, "me/contacts/C1")); return err }, graph.ReasonBadTarget},
		{"zero target", func() error { _, err := c.PutPhoto(ctx, graph.Target{}, graphtest.JPEG(64, 64)); return err }, graph.ReasonBadTarget},
		{"too large", func() error {
			_, err := c.PutPhoto(ctx, user, append(graphtest.JPEG(64, 64), make([]byte, graph.MaxPhotoBytes)...))
			return err
		}, graph.ReasonTooLarge},
		{"not a jpeg", func() error { _, err := c.PutPhoto(ctx, user, []byte("\x89PNG\r\n\x1a\n....")); return err }, graph.ReasonImageRejected},
		{"empty", func() error { _, err := c.PutPhoto(ctx, user, nil); return err }, graph.ReasonImageRejected},
		{"delete contact", func() error {
			_, err := c.DeletePhoto(ctx, target(t, "users/alice@contoso.com/contacts/AAMkC1="))
			return err
		}, graph.ReasonBadTarget},
	}
	for _, tc := range tests {
		err := tc.call()
		var r interface {
			Reason() reason.Reason
			Transient() bool
		}
		if !errors.As(err, &r) || r.Reason() != tc.reason || r.Transient() {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests reached the emulator", n)
	}
}

func TestClientGraphErrors(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t, secretCreds(), nil)
	ctx := context.Background()
	tests := []struct {
		target string
		jpeg   []byte
		status int
		code   string
		reason reason.Reason
	}{
		{"users/nobody@contoso.com", graphtest.JPEG(64, 64), 404, "Request_ResourceNotFound", graph.ReasonTargetNotFound},
		{"groups/" + secGroup, graphtest.JPEG(64, 64), 404, "ErrorNonExistentMailbox", graph.ReasonTargetNotFound},
		{"users/alice@contoso.com/contacts/missing", graphtest.JPEG(64, 64), 404, "ErrorItemNotFound", graph.ReasonTargetNotFound},
		{"users/alice@contoso.com", graphtest.JPEG(23, 23), 400, "ValidationWidthTooSmall", graph.ReasonImageRejected},
		{"users/alice@contoso.com", append([]byte{0xFF, 0xD8, 0xFF}, "not really"...), 500, "ErrorInternalServerError", graph.ReasonImageRejected},
	}
	for _, tc := range tests {
		res, err := c.PutPhoto(ctx, target(t, tc.target), tc.jpeg)
		ge := asGraphError(t, err)
		if ge.Status != tc.status || ge.Code != tc.code || ge.Reason() != tc.reason || ge.Transient() || ge.RequestID == "" || ge.ClientRequestID != res.ClientRequestID || res.Attempts != 1 {
			t.Errorf("%s: %v (%+v)", tc.target, err, res)
		}
		if !strings.Contains(err.Error(), ge.RequestID) || !strings.Contains(err.Error(), tc.reason.String()) {
			t.Errorf("error text lacks request id or reason: %s", err)
		}
	}
	// Groups' photos cannot be deleted by apps.
	_, err := c.DeletePhoto(ctx, target(t, "groups/"+groupID))
	if ge := asGraphError(t, err); ge.Reason() != graph.ReasonAccessDenied {
		t.Errorf("group delete: %v", err)
	}
}

// trap is a plain-HTTP server on another port, standing for wherever a redirect points: it
// records every request and answers 200, as a server that wants the write to look done would.
type trap struct {
	*httptest.Server
	mu  sync.Mutex
	got []string // what each request carried, without the credentials themselves
}

func newTrap(t *testing.T) *trap {
	tr := &trap{}
	tr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		tr.mu.Lock()
		tr.got = append(tr.got, fmt.Sprintf("%s %s (bearer token: %v, client secret: %v, %d body bytes)",
			r.Method, r.URL.Path, r.Header.Get("Authorization") != "", form.Get("client_secret") != "", len(b)))
		tr.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"trap-token","token_type":"Bearer","expires_in":3599}`))
	}))
	t.Cleanup(tr.Close)
	return tr
}

func (tr *trap) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

// TestClientRefusesRedirects: a 3xx from Graph or from the token authority is a permanent
// redirect_refused error; nothing reaches the redirect's target (no bearer token, no photo, no
// client secret), the call is not retried, and a redirected write is never reported as done.
// The test's HTTP client follows redirects, as net/http's default does: the Graph client must
// refuse them whatever it is given.
func TestClientRefusesRedirects(t *testing.T) {
	tests := []struct {
		name   string
		fault  graphtest.Fault
		op     string
		graphs int // requests that reach Graph
	}{
		{"307 from Graph", graphtest.Fault{Kind: "graph", Method: "PUT", Status: 307}, "put photo", 1},
		{"308 from Graph", graphtest.Fault{Kind: "graph", Method: "PUT", Status: 308}, "put photo", 1},
		{"302 from Graph", graphtest.Fault{Kind: "graph", Method: "PUT", Status: 302}, "put photo", 1},
		{"303 from Graph", graphtest.Fault{Kind: "graph", Method: "PUT", Status: 303}, "put photo", 1},
		{"307 from the token endpoint", graphtest.Fault{Kind: "token", Status: 307}, "token", 0},
		{"302 from the token endpoint", graphtest.Fault{Kind: "token", Status: 302}, "token", 0},
		{"307 from the authority's metadata", graphtest.Fault{Kind: "openid", Status: 307}, "token", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "")
			tr := newTrap(t)
			tt.fault.Location = tr.URL + "/v1.0/users/" + aliceID + "/photo/$value?sig=from-the-server#frag"
			e.srv.AddFault(tt.fault)
			src := &rotatingSource{stale: secret, current: secret}
			c := e.client(t, src, nil)
			res, err := c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
			if got := tr.requests(); len(got) > 0 {
				t.Fatalf("the redirect was followed: its target got %q", got)
			}
			ge := asGraphError(t, err)
			if ge.Reason() != graph.ReasonRedirect || ge.Transient() || ge.Status != tt.fault.Status || ge.Op != tt.op {
				t.Fatalf("error %v: reason %s transient %v status %d op %q", err, ge.Reason(), ge.Transient(), ge.Status, ge.Op)
			}
			// It says where it would have gone, without the query or fragment the server chose.
			if msg := err.Error(); !strings.Contains(msg, tr.URL+"/v1.0/users/") || strings.Contains(msg, "sig=") || strings.Contains(msg, "frag") {
				t.Errorf("error text: %s", msg)
			}
			if _, ok := e.srv.Photo(tenantID, "users/"+aliceID); ok {
				t.Error("a photo was stored")
			}
			graphs, tokens := 0, 0
			for _, r := range e.srv.Requests() {
				switch r.Kind {
				case "graph":
					graphs++
				case "token":
					tokens++
				}
			}
			// One attempt, no retry; a token refusal does not make the source re-read a secret.
			if graphs != tt.graphs || res.Attempts != tt.graphs || tokens > 1 || src.fresh != 0 {
				t.Errorf("graph requests %d, attempts %d, token requests %d, fresh reads %d", graphs, res.Attempts, tokens, src.fresh)
			}
		})
	}
}

func TestClientPatchMethod(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t, secretCreds(), func(o *graph.Options) { o.Method = "patch" })
	res, err := c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	if err != nil || res.Method != "PATCH" {
		t.Fatalf("%+v %v", res, err)
	}
	for _, r := range e.srv.Requests() {
		if r.Kind == "graph" && r.Method != "PATCH" {
			t.Errorf("sent %s", r.Method)
		}
	}
	if _, err := graph.NewClient(secretCreds(), graph.Options{Method: "POST"}); err == nil {
		t.Error("POST accepted")
	}
	if _, err := graph.NewClient(secretCreds(), graph.Options{Endpoint: "http://127.0.0.1:1"}); err == nil {
		t.Error("http endpoint accepted")
	}
}

func TestClientNationalCloudAudience(t *testing.T) {
	// An emulator standing in for GCC High's Graph accepts tokens for graph.microsoft.us only.
	e := newEnv(t, "https://graph.microsoft.us")
	us := secretCreds()
	us.Cloud = "usgov"
	if _, err := e.client(t, us, nil).PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64)); err != nil {
		t.Fatalf("usgov client: %v", err)
	}
	_, err := e.client(t, secretCreds(), nil).PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	if ge := asGraphError(t, err); ge.Reason() != graph.ReasonCredentialsInvalid || ge.Status != 401 {
		t.Fatalf("global token on a usgov Graph: %v", err)
	}
}

func TestTokenEndpointUnreachable(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t, secretCreds(), func(o *graph.Options) { o.Authority = "https://127.0.0.1:1"; o.MaxAttempts = 2 })
	res, err := c.PutPhoto(context.Background(), target(t, "users/alice@contoso.com"), graphtest.JPEG(64, 64))
	ge := asGraphError(t, err)
	if ge.Reason() != graph.ReasonNetwork || !ge.Transient() || res.Attempts != 0 || len(e.clock.Waits()) != 1 {
		t.Fatalf("%v (%+v, waits %v)", err, res, e.clock.Waits())
	}
}

func TestResolveEndpoints(t *testing.T) {
	tests := []struct {
		cloud, authority, graphURL, scope string
	}{
		{"", "https://login.microsoftonline.com/" + tenantID, "https://graph.microsoft.com", "https://graph.microsoft.com/.default"},
		{"global", "https://login.microsoftonline.com/" + tenantID, "https://graph.microsoft.com", "https://graph.microsoft.com/.default"},
		{"usgov", "https://login.microsoftonline.us/" + tenantID, "https://graph.microsoft.us", "https://graph.microsoft.us/.default"},
		{"usgovdod", "https://login.microsoftonline.us/" + tenantID, "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default"},
		{"china", "https://login.partner.microsoftonline.cn/" + tenantID, "https://microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default"},
	}
	for _, tc := range tests {
		ep, err := graph.ResolveEndpoints(graph.Credentials{TenantID: tenantID, Cloud: tc.cloud}, graph.Options{})
		if err != nil || ep.Authority != tc.authority || ep.Graph != tc.graphURL || ep.Scope != tc.scope || !ep.InstanceDiscovery {
			t.Errorf("%q: %+v %v", tc.cloud, ep, err)
		}
		if u := ep.PhotoURL(target(t, "users/a#EXT#@b.com"), false); u != tc.graphURL+"/v1.0/users/a%23EXT%23@b.com/photo/$value" {
			t.Errorf("photo URL %s", u)
		}
	}
	ep, err := graph.ResolveEndpoints(graph.Credentials{TenantID: tenantID, Cloud: "china"}, graph.Options{Authority: "https://127.0.0.1:9/", Endpoint: "https://127.0.0.1:9/"})
	if err != nil || ep.Authority != "https://127.0.0.1:9/"+tenantID || ep.Graph != "https://127.0.0.1:9" || ep.Scope != "https://microsoftgraph.chinacloudapi.cn/.default" || ep.InstanceDiscovery {
		t.Errorf("overrides: %+v %v", ep, err)
	}
	if u := ep.PhotoURL(target(t, "groups/g1"), true); u != "https://127.0.0.1:9/v1.0/groups/g1/photo" {
		t.Errorf("meta URL %s", u)
	}
	for _, bad := range []struct {
		c graph.Credentials
		o graph.Options
	}{
		{graph.Credentials{TenantID: tenantID, Cloud: "mars"}, graph.Options{}},
		{graph.Credentials{TenantID: "a/b"}, graph.Options{}},
		{graph.Credentials{}, graph.Options{}},
		{graph.Credentials{TenantID: tenantID}, graph.Options{Authority: "http://127.0.0.1:9"}},
	} {
		if _, err := graph.ResolveEndpoints(bad.c, bad.o); err == nil {
			t.Errorf("accepted %+v %+v", bad.c, bad.o)
		}
	}
}

// TestNoSecretInLogsOrErrors runs the client through successes and every kind of failure and
// scans all log output and error texts for the secrets, assertions and tokens that were on the
// wire.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	tg := target(t, "users/alice@contoso.com")
	jpg := graphtest.JPEG(64, 64)
	var errs []string
	record := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	wrong := "WrongSecret~ShouldNeverBeLogged.42"
	certCreds := graph.StaticCredentials{TenantID: tenantID, ClientID: certID, CertificatePEM: e.certPEM, PrivateKeyPEM: e.keyPEM}
	otherCert, otherKey, _ := graphtest.SelfSignedCertificate("other", time.Hour)

	c := e.client(t, secretCreds(), nil)
	_, err := c.PutPhoto(ctx, tg, jpg)
	record(err)
	e.srv.RevokeTokens()
	_, _, err = c.GetPhoto(ctx, tg)
	record(err)
	e.srv.AddFault(graphtest.Fault{Kind: "graph", Times: 2, Status: 401, Code: "InvalidAuthenticationToken"})
	_, err = c.PutPhoto(ctx, tg, jpg)
	record(err)
	e.srv.AddFault(graphtest.Fault{Kind: "graph", Times: 1, Reset: true})
	_, err = c.PutPhoto(ctx, tg, jpg)
	record(err)
	e.srv.AddFault(graphtest.Fault{Kind: "graph", Times: 1, Status: 307, Location: e.srv.URL + "/elsewhere"})
	_, err = c.PutPhoto(ctx, tg, jpg)
	record(err)
	e.srv.AddFault(graphtest.Fault{Kind: "token", Times: 1, Status: 307, Location: e.srv.URL + "/elsewhere"})
	_, err = e.client(t, secretCreds(), nil).PutPhoto(ctx, tg, jpg)
	record(err)
	_, err = c.PutPhoto(ctx, tg, append(jpg, make([]byte, graph.MaxPhotoBytes)...))
	record(err)

	_, err = e.client(t, graph.StaticCredentials{TenantID: tenantID, ClientID: appID, ClientSecret: wrong}, nil).PutPhoto(ctx, tg, jpg)
	record(err)
	_, err = e.client(t, certCreds, nil).PutPhoto(ctx, tg, jpg)
	record(err)
	_, err = e.client(t, graph.StaticCredentials{TenantID: tenantID, ClientID: certID, CertificatePEM: otherCert, PrivateKeyPEM: otherKey}, nil).PutPhoto(ctx, tg, jpg)
	record(err)
	_, err = e.client(t, graph.StaticCredentials{TenantID: tenantID, ClientID: certID, CertificatePEM: e.certPEM, PrivateKeyPEM: otherKey}, nil).PutPhoto(ctx, tg, jpg)
	record(err)
	e.srv.AddFault(graphtest.Fault{Kind: "token", Status: 503})
	_, err = e.client(t, secretCreds(), func(o *graph.Options) { o.MaxAttempts = 2 }).PutPhoto(ctx, tg, jpg)
	record(err)

	if len(errs) < 5 {
		t.Fatalf("only %d errors recorded; the scenarios did not fail as intended: %v", len(errs), errs)
	}
	secrets := []string{secret, wrong}
	for _, pemKey := range [][]byte{e.keyPEM, otherKey} {
		for _, line := range strings.Split(string(pemKey), "\n") {
			if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
				secrets = append(secrets, line)
			}
		}
	}
	wire := e.cap.values()
	if len(wire) < 6 {
		t.Fatalf("captured only %d credential values from the wire", len(wire))
	}
	secrets = append(secrets, wire...)
	haystacks := append([]string{e.logs.String()}, errs...)
	for _, h := range haystacks {
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(h, s) {
				t.Fatalf("secret value %.6s… found in %.200q", s, h)
			}
		}
		// A JWT or bearer header would show up like this even if we missed capturing it.
		if strings.Contains(h, "eyemu.") || strings.Contains(strings.ToLower(h), "bearer ") || strings.Contains(h, "PRIVATE KEY") {
			t.Fatalf("credential-like text in %.200q", h)
		}
	}
	if !strings.Contains(e.logs.String(), `"client_request_id"`) {
		t.Fatal("the log scan saw no client log lines")
	}
}
