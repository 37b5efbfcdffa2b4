// Package stress holds the proofs under stress that drive the whole local stack: hostile uploads
// through the normaliser, the S3 path and the API; Graph faults; and a bulk backfill against a
// tenant-wide throttle. This file is the throttle: the Graph emulator has scripted and random
// faults but no rate limit, so a token bucket sits in front of it as a TLS reverse proxy.
package stress

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
)

// Throttle answers photo writes past a fixed rate with 429 and a Retry-After, as Graph's
// throttling does for a tenant (docs/graph-photo-api.md#throttling): a token bucket of Rate tokens
// a second holding at most Burst, starting empty. Reads and token requests pass untouched.
type Throttle struct {
	Rate  float64 // photo writes a second
	Burst float64 // bucket size; at least 1

	now func() time.Time

	mu        sync.Mutex
	tokens    float64
	last      time.Time
	passed    int
	throttled int
	firstPass time.Time
	lastPass  time.Time
	srv       *httptest.Server
}

// NewThrottle makes a throttle; now is its clock (time.Now when nil).
func NewThrottle(rate, burst float64, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{Rate: rate, Burst: max(burst, 1), now: now}
}

// Admit takes a token if there is one; otherwise it says how long until there will be.
func (t *Throttle) Admit() (ok bool, wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.last.IsZero() {
		t.last = now
	}
	t.tokens = math.Min(t.Burst, t.tokens+now.Sub(t.last).Seconds()*t.Rate)
	t.last = now
	if t.tokens >= 1 {
		t.tokens--
		t.passed++
		if t.firstPass.IsZero() {
			t.firstPass = now
		}
		t.lastPass = now
		return true, 0
	}
	t.throttled++
	return false, time.Duration((1 - t.tokens) / t.Rate * float64(time.Second))
}

// Counts returns how many writes passed and how many were throttled, and the time from the
// first write that passed to the last.
func (t *Throttle) Counts() (passed, throttled int, span time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.passed, t.throttled, t.lastPass.Sub(t.firstPass)
}

// Proxy starts the throttle in front of g; its signature is devstack.Options.GraphProxy.
func (t *Throttle) Proxy(g *graphtest.Server) (string, []byte, error) {
	target, err := url.Parse(g.GraphURL())
	if err != nil {
		return "", nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: g.CertPool()}, MaxIdleConnsPerHost: 64}
	// A reset upstream is a reset here too, not a 502 the client would classify differently.
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { panic(http.ErrAbortHandler) }
	t.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPhotoWrite(r) {
			if ok, wait := t.Admit(); !ok {
				writeThrottled(w, r, wait)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: t.srv.Certificate().Raw})
	return t.srv.URL, ca, nil
}

// Close stops the proxy.
func (t *Throttle) Close() {
	if t.srv != nil {
		t.srv.Close()
	}
}

func isPhotoWrite(r *http.Request) bool {
	return (r.Method == http.MethodPut || r.Method == http.MethodPatch) && strings.HasSuffix(r.URL.EscapedPath(), "/photo/$value")
}

// writeThrottled answers as Graph does when throttling: 429, Retry-After in whole seconds
// (at least 1), and the error envelope with the request ids.
func writeThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	reqID := newID()
	client := r.Header.Get("client-request-id")
	if client == "" {
		client = reqID
	}
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", reqID)
	w.Header().Set("client-request-id", client)
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": "TooManyRequests", "message": "Too many requests to the photo service for this tenant.",
		"innerError": map[string]string{"code": "throttledRequest", "date": time.Now().UTC().Format(time.RFC3339), "request-id": reqID, "client-request-id": client},
	}})
}

// Reset clears the counts (and empties the bucket) between phases of a run.
func (t *Throttle) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.passed, t.throttled, t.tokens = 0, 0, 0
	t.firstPass, t.lastPass, t.last = time.Time{}, time.Time{}, time.Time{}
}
