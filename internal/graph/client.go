package graph

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Clock is the time source of the client's retry loop; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() in that case.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Options configure a Client. The zero value talks to the credentials' cloud with PUT.
type Options struct {
	// Endpoint overrides the Graph base URL (without /v1.0), e.g. an emulator's https URL.
	Endpoint string
	// Authority overrides the token authority host (the tenant is appended); it turns MSAL's
	// instance discovery (authority validation) off, as a private authority cannot pass it.
	Authority string
	// HTTPClient sends Graph and token requests; default http.DefaultClient. It must not
	// compress request bodies (net/http never does). The client uses a copy that never follows
	// a redirect, whatever this one's CheckRedirect says (see NoRedirects).
	HTTPClient *http.Client
	// Logger gets one JSON-friendly line per attempt; default discards.
	Logger *slog.Logger
	// MaxAttempts bounds the tries of a call that fails transiently; default 4.
	MaxAttempts int
	// Method writes photos: http.MethodPut (default) or http.MethodPatch.
	Method string
	// BaseDelay and MaxDelay shape the exponential backoff (full jitter) used when Graph gives no
	// Retry-After: attempt n waits a random time in [0, min(MaxDelay, BaseDelay·2^(n-1))].
	// Defaults 1 s and 30 s.
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter is the longest wait the client accepts; a longer Retry-After ends the call
	// with the transient error so the trigger retries later. Default 60 s.
	MaxRetryAfter time.Duration
	// DeadlineHeadroom is kept free before the context's deadline: a wait that would end inside
	// it is not started (the caller needs time to record the outcome). Default 2 s.
	DeadlineHeadroom time.Duration
	// Clock and Jitter are injectable for tests; Jitter returns a duration in [0, max].
	Clock  Clock
	Jitter func(max time.Duration) time.Duration
}

// Client writes, reads and deletes profile photos through Microsoft Graph. Build one per
// process (Lambda container) and share it: it holds the MSAL client and its token cache.
type Client struct {
	opts   Options
	http   *http.Client
	log    *slog.Logger
	tokens *tokenSource
}

// NewClient checks the options and returns a client. Credentials are read on the first call.
func NewClient(src CredentialsSource, opts Options) (*Client, error) {
	if src == nil {
		return nil, errors.New("graph client: nil credentials source")
	}
	switch strings.ToUpper(opts.Method) {
	case "":
		opts.Method = http.MethodPut
	case http.MethodPut, http.MethodPatch:
		opts.Method = strings.ToUpper(opts.Method)
	default:
		return nil, fmt.Errorf("graph client: method %q is neither PUT nor PATCH", opts.Method)
	}
	if opts.MaxAttempts < 0 || opts.BaseDelay < 0 || opts.MaxDelay < 0 || opts.MaxRetryAfter < 0 || opts.DeadlineHeadroom < 0 {
		return nil, errors.New("graph client: negative attempts or durations")
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 4
	}
	if opts.BaseDelay == 0 {
		opts.BaseDelay = time.Second
	}
	if opts.MaxDelay == 0 {
		opts.MaxDelay = 30 * time.Second
	}
	if opts.MaxRetryAfter == 0 {
		opts.MaxRetryAfter = 60 * time.Second
	}
	if opts.DeadlineHeadroom == 0 {
		opts.DeadlineHeadroom = 2 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Jitter == nil {
		opts.Jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return time.Duration(mrand.Int64N(int64(max) + 1))
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	opts.HTTPClient = NoRedirects(opts.HTTPClient)
	for _, u := range []string{opts.Endpoint, opts.Authority} {
		if u != "" && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("graph client: override %q is not an https URL (MSAL requires https)", u)
		}
	}
	c := &Client{opts: opts, http: opts.HTTPClient, log: opts.Logger}
	c.tokens = &tokenSource{src: src, opts: opts, log: opts.Logger}
	return c, nil
}

// NoRedirects returns a copy of c that never follows a redirect: the 3xx answer comes back as
// the response. net/http would send a 307 or 308 again, body included, to wherever Location
// points: a photo PUT with its Authorization header (kept for any port of the same host), or
// a token request with its client secret or assertion (MSAL's requests can replay their
// body). A 301, 302 or 303 would turn a write into a GET and report its 200 as success.
func NoRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// Method is the HTTP method PutPhoto uses.
func (c *Client) Method() string { return c.opts.Method }

// Result describes a finished call.
type Result struct {
	Method          string
	URL             string
	Status          int    // final HTTP status
	RequestID       string // Graph's request-id of the final attempt
	ClientRequestID string // our client-request-id of the final attempt
	Attempts        int    // HTTP requests sent to Graph
	Bytes           int    // body bytes sent (writes) or received (reads)
	Duration        time.Duration
}

// PhotoMeta is Graph's metadata of a stored photo (GET …/photo).
type PhotoMeta struct {
	ID          string // e.g. "240x240"
	Width       int
	Height      int
	ContentType string // @odata.mediaContentType
	ETag        string // @odata.mediaEtag, changes when the photo does
	Result      Result
}

// PutPhoto writes a JPEG as the target's photo with one Content-Type: image/jpeg.
func (c *Client) PutPhoto(ctx context.Context, t Target, jpeg []byte) (Result, error) {
	if err := usable(t); err != nil {
		return Result{}, err
	}
	switch {
	case len(jpeg) == 0:
		return Result{}, &Error{Op: "put photo", Target: t.String(), reason: ReasonImageRejected, Message: "empty photo"}
	case len(jpeg) > MaxPhotoBytes:
		return Result{}, &Error{Op: "put photo", Target: t.String(), reason: ReasonTooLarge,
			Message: fmt.Sprintf("photo is %d bytes; Graph accepts at most %d", len(jpeg), MaxPhotoBytes)}
	case len(jpeg) < 3 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 || jpeg[2] != 0xFF:
		return Result{}, &Error{Op: "put photo", Target: t.String(), reason: ReasonImageRejected, Message: "body is not a JPEG (no SOI marker)"}
	}
	res, _, err := c.do(ctx, "put photo", c.opts.Method, t, false, jpeg)
	return res, err
}

// GetPhoto reads the target's photo bytes.
func (c *Client) GetPhoto(ctx context.Context, t Target) ([]byte, Result, error) {
	if err := usable(t); err != nil {
		return nil, Result{}, err
	}
	res, body, err := c.do(ctx, "get photo", http.MethodGet, t, false, nil)
	if err != nil {
		return nil, res, err
	}
	return body, res, nil
}

// GetPhotoMeta reads the target's photo metadata.
func (c *Client) GetPhotoMeta(ctx context.Context, t Target) (PhotoMeta, error) {
	if err := usable(t); err != nil {
		return PhotoMeta{}, err
	}
	res, body, err := c.do(ctx, "get photo metadata", http.MethodGet, t, true, nil)
	if err != nil {
		return PhotoMeta{Result: res}, err
	}
	var m struct {
		ID          string `json:"id"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		ContentType string `json:"@odata.mediaContentType"`
		ETag        string `json:"@odata.mediaEtag"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return PhotoMeta{Result: res}, &Error{Op: "get photo metadata", Target: t.String(), Status: res.Status, RequestID: res.RequestID,
			ClientRequestID: res.ClientRequestID, reason: ReasonGraph, Message: "metadata is not JSON", Err: err}
	}
	return PhotoMeta{ID: m.ID, Width: m.Width, Height: m.Height, ContentType: m.ContentType, ETag: m.ETag, Result: res}, nil
}

// DeletePhoto removes the photo of a user or group; Graph cannot delete a contact's photo, so
// contact targets are refused without a request.
func (c *Client) DeletePhoto(ctx context.Context, t Target) (Result, error) {
	if err := usable(t); err != nil {
		return Result{}, err
	}
	if !t.SupportsDelete() {
		return Result{}, targetErr(t.String(), "graph deletes only user and group photos, not a %s's", t.Kind())
	}
	res, _, err := c.do(ctx, "delete photo", http.MethodDelete, t, false, nil)
	return res, err
}

// usable refuses targets an app-only client cannot send.
func usable(t Target) error {
	if t.IsZero() {
		return targetErr("", "empty target")
	}
	if t.IsMe() {
		return targetErr(t.String(), "me needs a signed-in caller; resolve it with ForCaller first (app-only tokens cannot call /me)")
	}
	return nil
}

// do sends one logical call with retries: transient failures (429, 503, 504, network, token
// endpoint unavailable) are retried up to MaxAttempts, waiting Retry-After or a jittered
// exponential backoff, never into the context's deadline headroom; a 401 gets one retry with a
// new token.
func (c *Client) do(ctx context.Context, op, method string, t Target, meta bool, body []byte) (Result, []byte, error) {
	start := c.opts.Clock.Now()
	res := Result{Method: method}
	forceToken, refreshed := false, false
	tries := 0 // attempts counted against MaxAttempts (the 401 refresh is not one)
	for {
		tries++
		out, err := func() ([]byte, error) {
			tok, ep, err := c.tokens.token(ctx, forceToken)
			forceToken = false
			if err != nil {
				return nil, err
			}
			res.URL = ep.PhotoURL(t, meta)
			return c.send(ctx, op, t, tok, &res, body, tries)
		}()
		res.Duration = c.opts.Clock.Now().Sub(start)
		if err == nil {
			return res, out, nil
		}
		var gerr *Error
		if !errors.As(err, &gerr) {
			return res, nil, err
		}
		if gerr.Target == "" {
			gerr.Target = t.String()
		}
		if gerr.Op != "token" && gerr.Op != "read credentials" && gerr.Status == http.StatusUnauthorized && !refreshed {
			refreshed, forceToken = true, true
			tries--
			c.log.WarnContext(ctx, "graph refused the token; retrying once with a new one", "op", op, "target", t.String(),
				"request_id", gerr.RequestID, "client_request_id", gerr.ClientRequestID)
			continue
		}
		if !gerr.Transient() || tries >= c.opts.MaxAttempts {
			return res, nil, gerr
		}
		wait := gerr.RetryAfter
		if wait == 0 {
			wait = c.opts.Jitter(c.backoffCap(tries))
		}
		if wait > c.opts.MaxRetryAfter {
			c.log.WarnContext(ctx, "graph asks for a longer wait than allowed; giving up for now", "op", op, "target", t.String(), "wait_ms", wait.Milliseconds())
			return res, nil, gerr
		}
		if dl, ok := ctx.Deadline(); ok && c.opts.Clock.Now().Add(wait+c.opts.DeadlineHeadroom).After(dl) {
			c.log.WarnContext(ctx, "no time left before the deadline to retry", "op", op, "target", t.String(), "wait_ms", wait.Milliseconds(),
				"deadline_in_ms", dl.Sub(c.opts.Clock.Now()).Milliseconds())
			return res, nil, gerr
		}
		c.log.InfoContext(ctx, "retrying graph call", "op", op, "target", t.String(), "reason", gerr.Reason(), "attempt", tries, "wait_ms", wait.Milliseconds())
		if err := c.opts.Clock.Sleep(ctx, wait); err != nil {
			return res, nil, gerr
		}
	}
}

// backoffCap is min(MaxDelay, BaseDelay·2^(n-1)).
func (c *Client) backoffCap(n int) time.Duration {
	d := c.opts.BaseDelay
	for i := 1; i < n && d < c.opts.MaxDelay; i++ {
		d *= 2
	}
	return min(d, c.opts.MaxDelay)
}

// send makes one HTTP attempt, filling res; a non-2xx answer becomes an *Error.
func (c *Client) send(ctx context.Context, op string, t Target, tok string, res *Result, body []byte, attempt int) ([]byte, error) {
	crid := newGUID()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, res.Method, res.URL, rd)
	if err != nil {
		return nil, &Error{Op: op, Target: t.String(), reason: ReasonBadRequest, Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("client-request-id", crid)
	req.Header.Set("return-client-request-id", "true")
	if body != nil {
		req.Header.Set("Content-Type", "image/jpeg")
	}
	if strings.HasSuffix(res.URL, "/photo") {
		req.Header.Set("Accept", "application/json")
	}
	res.Attempts++
	res.ClientRequestID, res.RequestID, res.Status = crid, "", 0
	began := c.opts.Clock.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		e := &Error{Op: op, Target: t.String(), ClientRequestID: crid, reason: ReasonNetwork, Err: errors.New(networkCause(err))}
		if ctx.Err() != nil {
			e.Err = ctx.Err()
		}
		c.log.WarnContext(ctx, "graph request failed", "op", op, "method", res.Method, "target", t.String(), "client_request_id", crid,
			"attempt", attempt, "error", e.Err.Error())
		return nil, e
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	res.Status, res.RequestID = resp.StatusCode, resp.Header.Get("request-id")
	level := slog.LevelInfo
	if resp.StatusCode >= 300 {
		level = slog.LevelWarn
	}
	n := len(body)
	if body == nil {
		n = len(data)
	}
	c.log.Log(ctx, level, "graph response", "op", op, "method", res.Method, "target", t.String(), "status", resp.StatusCode,
		"request_id", res.RequestID, "client_request_id", crid, "attempt", attempt, "bytes", n,
		"duration_ms", c.opts.Clock.Now().Sub(began).Milliseconds())
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if rerr != nil {
			return nil, &Error{Op: op, Target: t.String(), Status: resp.StatusCode, RequestID: res.RequestID, ClientRequestID: crid,
				reason: ReasonNetwork, Err: fmt.Errorf("read response: %w", rerr)}
		}
		res.Bytes = n
		return data, nil
	}
	return nil, parseGraphError(op, t, resp, data, crid, c.opts.Clock.Now())
}

// newGUID is a random (version 4) UUID for client-request-id.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
