package photo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photostate"
	"github.com/graphphoto/graphphoto/internal/reason"
	"github.com/graphphoto/graphphoto/internal/s3test"
	"github.com/graphphoto/graphphoto/internal/secrets"
)

const (
	tenantID = "7a1b2c3d-0000-4000-8000-00000000c0de"
	clientID = "11111111-2222-4333-8444-555555555555"
	secret   = "pipeline-test-secret-value"
	aliceID  = "aaaaaaaa-0000-4000-8000-000000000001"
)

func newGraph(t *testing.T) *graphtest.Server {
	t.Helper()
	srv := graphtest.New(graphtest.Options{Tenants: []graphtest.Tenant{{
		ID:    tenantID,
		Apps:  []graphtest.App{{ClientID: clientID, Secrets: []string{secret}}},
		Users: []graphtest.User{{ID: aliceID, UPN: "alice@contoso.com"}},
	}}})
	t.Cleanup(srv.Close)
	return srv
}

func newPipeline(t *testing.T, srv *graphtest.Server, src graph.CredentialsSource) *Pipeline {
	t.Helper()
	c, err := graph.NewClient(src, graph.Options{
		Endpoint: srv.GraphURL(), Authority: srv.AuthorityURL(), HTTPClient: srv.Client(),
		MaxAttempts: 2, MaxRetryAfter: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(imageproc.Normalise, c, imageproc.Options{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func creds(secretValue string) graph.StaticCredentials {
	return graph.StaticCredentials{TenantID: tenantID, ClientID: clientID, ClientSecret: secretValue}
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func target(t *testing.T, s string) graph.Target {
	t.Helper()
	tg, err := graph.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestRun(t *testing.T) {
	srv := newGraph(t)
	good := newPipeline(t, srv, creds(secret))
	tests := []struct {
		name      string
		p         *Pipeline
		target    string
		src       []byte
		status    Status
		reason    reason.Reason
		transient bool
	}{
		{"synced", good, "users/alice@contoso.com", pngOf(t, 900, 700), StatusSynced, reason.Reason{}, false},
		{"not an image", good, "users/alice@contoso.com", []byte("%PDF-1.7"), StatusRejected, imageproc.ReasonUnsupportedFormat, false},
		{"too small", good, "users/alice@contoso.com", pngOf(t, 20, 20), StatusRejected, imageproc.ReasonTooSmall, false},
		{"over the source limit", good, "users/alice@contoso.com", make([]byte, 1<<20+1), StatusRejected, ReasonSourceTooLarge, false},
		{"unknown user", good, "users/nobody@contoso.com", pngOf(t, 100, 100), StatusRejected, graph.ReasonTargetNotFound, false},
		{"wrong secret", newPipeline(t, srv, creds("not-the-secret")), "users/alice@contoso.com", pngOf(t, 100, 100), StatusFailed, graph.ReasonCredentialsInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := runBytes(tt.p, target(t, tt.target), tt.src)
			if o.Status != tt.status || o.Reason != tt.reason || o.Transient != tt.transient {
				t.Fatalf("outcome %s/%s transient=%v (%v), want %s/%s transient=%v", o.Status, o.Reason, o.Transient, o.Err, tt.status, tt.reason, tt.transient)
			}
			if o.Target != target(t, tt.target).String() || o.SourceBytes != len(tt.src) {
				t.Errorf("outcome names %q, %d bytes", o.Target, o.SourceBytes)
			}
		})
	}

	// The synced photo is what the normaliser made, and the outcome says so.
	o := runBytes(good, target(t, "users/alice@contoso.com"), pngOf(t, 900, 700))
	stored, ok := srv.Photo(tenantID, "users/"+aliceID)
	if !ok {
		t.Fatalf("no photo stored for alice; requests: %+v", srv.Requests())
	}
	if len(stored.Data) != o.PhotoBytes || stored.Width != 648 || o.Width != 648 || o.Height != 648 || o.SourceFormat != "png" {
		t.Errorf("stored %d bytes, outcome %+v", len(stored.Data), o)
	}
	if o.GraphRequestID == "" || o.ClientRequestID == "" || o.GraphStatus != 200 || o.Attempts != 1 {
		t.Errorf("graph ids missing from outcome: %+v", o)
	}
}

func TestRunThrottled(t *testing.T) {
	srv := newGraph(t)
	p := newPipeline(t, srv, creds(secret))
	srv.AddFault(graphtest.Fault{Kind: "graph", Method: "PUT", Status: 429, RetryAfter: "120"})
	o := runBytes(p, target(t, "users/alice@contoso.com"), pngOf(t, 100, 100))
	if o.Status != StatusFailed || o.Reason != graph.ReasonThrottled || !o.Transient {
		t.Fatalf("outcome %+v, want failed/throttled transient", o)
	}
	if o.RetryAfter.Seconds() != 120 {
		t.Errorf("retry after %v, want 120 s from Graph", o.RetryAfter)
	}
}

// TestRunRedirectRefused: a redirect from Graph or the token authority is a permanent failure
// of the write: failed, not retried, and never synced.
func TestRunRedirectRefused(t *testing.T) {
	for _, kind := range []string{"graph", "token"} {
		t.Run(kind, func(t *testing.T) {
			srv := newGraph(t)
			p := newPipeline(t, srv, creds(secret))
			srv.AddFault(graphtest.Fault{Kind: kind, Status: 307, Location: "http://127.0.0.1:1/elsewhere"})
			o := runBytes(p, target(t, "users/alice@contoso.com"), pngOf(t, 100, 100))
			if o.Status != StatusFailed || o.Reason != graph.ReasonRedirect || o.Transient {
				t.Fatalf("outcome %s/%s transient=%v (%v), want failed/%s permanent", o.Status, o.Reason, o.Transient, o.Err, graph.ReasonRedirect)
			}
			if _, ok := srv.Photo(tenantID, "users/"+aliceID); ok {
				t.Error("a photo was stored")
			}
		})
	}
}

// TestCredentialsFromSecretsManagerFailure: a Secrets Manager outage is transient, a missing
// secret is not.
func TestCredentialsSourceFailure(t *testing.T) {
	srv := newGraph(t)
	for _, tt := range []struct {
		err       error
		transient bool
	}{
		{fakeSourceErr{secrets.ReasonUnavailable, true}, true},
		{fakeSourceErr{secrets.ReasonNotFound, false}, false},
	} {
		p := newPipeline(t, srv, failingSource{tt.err})
		o := runBytes(p, target(t, "users/alice@contoso.com"), pngOf(t, 100, 100))
		if o.Status != StatusFailed || o.Transient != tt.transient {
			t.Errorf("%v: outcome %s/%s transient=%v", tt.err, o.Status, o.Reason, o.Transient)
		}
	}
}

type failingSource struct{ err error }

func (f failingSource) Credentials(context.Context, bool) (graph.Credentials, error) {
	return graph.Credentials{}, f.err
}

type fakeSourceErr struct {
	reason    reason.Reason
	transient bool
}

func (e fakeSourceErr) Error() string         { return "read secret: " + e.reason.String() }
func (e fakeSourceErr) Reason() reason.Reason { return e.reason }
func (e fakeSourceErr) Transient() bool       { return e.transient }

func TestClassify(t *testing.T) {
	tests := []struct {
		err       error
		status    Status
		reason    reason.Reason
		transient bool
	}{
		{nil, StatusSynced, reason.Reason{}, false},
		{&imageproc.Error{Code: imageproc.ReasonCorruptImage}, StatusRejected, imageproc.ReasonCorruptImage, false},
		{fmt.Errorf("wrapped: %w", &imageproc.Error{Code: imageproc.ReasonTooManyPixels}), StatusRejected, imageproc.ReasonTooManyPixels, false},
		{NoTarget("no metadata"), StatusRejected, ReasonNoTarget, false},
		{SourceTooLarge(10, 5), StatusRejected, ReasonSourceTooLarge, false},
		{context.DeadlineExceeded, StatusFailed, ReasonTimeout, true},
		{fmt.Errorf("normalise: %w", context.Canceled), StatusFailed, ReasonTimeout, true},
		{errors.New("something odd"), StatusFailed, ReasonInternal, true},
		{fakeSourceErr{graph.ReasonAccessDenied, false}, StatusFailed, graph.ReasonAccessDenied, false},
		{fakeSourceErr{graph.ReasonThrottled, true}, StatusFailed, graph.ReasonThrottled, true},
	}
	for _, tt := range tests {
		s, r, tr := Classify(tt.err)
		if s != tt.status || r != tt.reason || tr != tt.transient {
			t.Errorf("Classify(%v) = %s/%s/%v, want %s/%s/%v", tt.err, s, r, tr, tt.status, tt.reason, tt.transient)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(imageproc.Normalise, nil, imageproc.Options{}, 10); err == nil {
		t.Error("nil uploader accepted")
	}
	if _, err := New(imageproc.Normalise, failingUploader{}, imageproc.Options{Quality: 500}, 10); err == nil {
		t.Error("quality 500 accepted")
	}
	if _, err := New(imageproc.Normalise, failingUploader{}, imageproc.Options{}, 0); err == nil {
		t.Error("zero source limit accepted")
	}
}

type failingUploader struct{}

func (failingUploader) PutPhoto(context.Context, graph.Target, []byte) (graph.Result, error) {
	return graph.Result{}, errors.New("unreachable")
}

// bytesSource is a source over bytes in memory, as the API's body is.
type bytesSource struct {
	target graph.Target
	src    []byte
}

func (s bytesSource) Open(context.Context) (Input, error) {
	return Input{Target: s.target, Size: int64(len(s.src)), Body: bytes.NewReader(s.src)}, nil
}

// runBytes runs a job over src for target, with no recorder and no reporter.
func runBytes(p *Pipeline, target graph.Target, src []byte) Outcome {
	return p.Run(context.Background(), Job{Source: bytesSource{target, src}})
}

// TestRunSkipsUnchanged: with records, a photo Graph already holds is not written again; a new
// one, other options or an outside change are; a state bucket that refuses the marker stops the
// photo before Graph.
func TestRunSkipsUnchanged(t *testing.T) {
	srv := newGraph(t)
	s3srv := s3test.MustStart(t, s3test.Options{})
	ctx := context.Background()
	if err := s3srv.CreateBucket(ctx, "state"); err != nil {
		t.Fatal(err)
	}
	gc, err := graph.NewClient(creds(secret), graph.Options{Endpoint: srv.GraphURL(), Authority: srv.AuthorityURL(), HTTPClient: srv.Client(), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	records, err := photostate.New(s3srv.Client(), gc, photostate.Options{Bucket: "state"})
	if err != nil {
		t.Fatal(err)
	}
	pipeline := func(q int, r Records) *Pipeline {
		p, err := New(imageproc.Normalise, gc, imageproc.Options{Quality: q}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		p.SkipUnchanged(r)
		return p
	}
	puts := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Kind == "graph" && r.Method == "PUT" {
				n++
			}
		}
		return n
	}
	p := pipeline(0, records)
	alice, src := target(t, "users/alice@contoso.com"), pngOf(t, 300, 300)
	for i, c := range []struct {
		p       *Pipeline
		src     []byte
		outside bool
		reason  reason.Reason
		record  string
		writes  int
	}{
		{p, src, false, reason.Reason{}, photostate.WhyNoRecord, 1},
		{p, src, false, ReasonUnchanged, "", 0},
		{pipeline(70, records), src, false, reason.Reason{}, photostate.WhyOtherPhoto, 1},
		{p, src, false, reason.Reason{}, photostate.WhyOtherPhoto, 1},
		{p, src, true, reason.Reason{}, photostate.WhyChangedInGraph, 1},
		{p, pngOf(t, 320, 300), false, reason.Reason{}, photostate.WhyOtherPhoto, 1},
		{p, pngOf(t, 320, 300), false, ReasonUnchanged, "", 0},
	} {
		if c.outside {
			if _, err := srv.SetPhoto(tenantID, "users/"+aliceID, graphtest.JPEG(64, 64)); err != nil {
				t.Fatal(err)
			}
		}
		before := puts()
		o := runBytes(c.p, alice, c.src)
		if o.Status != StatusSynced || o.Reason != c.reason || o.Record != c.record || puts()-before != c.writes || o.RecordNote != "" {
			t.Fatalf("run %d: %s %q record %q note %q, %d writes; want synced %q record %q, %d writes (%v)",
				i, o.Status, o.Reason, o.Record, o.RecordNote, puts()-before, c.reason, c.record, c.writes, o.Err)
		}
		if o.Unchanged() != (c.reason == ReasonUnchanged) || o.PhotoBytes == 0 || o.RecordRequests == 0 || o.GraphReads == 0 {
			t.Errorf("run %d: unchanged %v, %d photo bytes, %d record requests, %d Graph reads", i, o.Unchanged(), o.PhotoBytes, o.RecordRequests, o.GraphReads)
		}
		attrs := map[string]bool{}
		for _, a := range o.LogAttrs() {
			attrs[a.Key] = true
		}
		if !attrs["record_ms"] || !attrs["record_s3_requests"] || !attrs["graph_reads"] || attrs["record"] != (c.record != "") {
			t.Errorf("run %d: log attributes %v", i, attrs)
		}
	}

	// The marker cannot be written: the photo is not written either.
	gone, err := photostate.New(s3srv.Client(), gc, photostate.Options{Bucket: "no-such-bucket"})
	if err != nil {
		t.Fatal(err)
	}
	before := puts()
	o := runBytes(pipeline(0, gone), alice, pngOf(t, 330, 300))
	if o.Status != StatusFailed || o.Reason != photostate.ReasonRecordAccessDenied || o.Transient || puts() != before {
		t.Errorf("no state bucket: %s %s transient %v, %d writes", o.Status, o.Reason, o.Transient, puts()-before)
	}
}
