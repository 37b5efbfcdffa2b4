package onupload

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/reason"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

// Every S3 failure class and the retry decision it drives, through s3test's Fake (S3 in memory,
// failing on demand); the real server's tests (stack_test.go, current_test.go) stay the reference
// for S3's own behaviour.

func TestClassifyS3(t *testing.T) {
	deadline, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	tests := []struct {
		name      string
		err       error
		reason    reason.Reason
		transient bool
		status    int
		code      string
	}{
		{"throttled: 503 SlowDown", s3test.APIError("GetObject", 503, "SlowDown", nil), ReasonS3Unavailable, true, 503, "SlowDown"},
		{"server fault: 500", s3test.APIError("GetObject", 500, "InternalError", nil), ReasonS3Unavailable, true, 500, "InternalError"},
		{"too many requests: 429", s3test.APIError("PutObjectTagging", 429, "TooManyRequests", nil), ReasonS3Unavailable, true, 429, "TooManyRequests"},
		{"request timeout: 400 RequestTimeout", s3test.APIError("GetObject", 400, "RequestTimeout", nil), ReasonS3Unavailable, true, 400, "RequestTimeout"},
		{"clock skew: 403 RequestTimeTooSkewed", s3test.APIError("GetObject", 403, "RequestTimeTooSkewed", nil), ReasonS3Unavailable, true, 403, "RequestTimeTooSkewed"},
		{"no answer: connection reset", s3test.NetworkError("GetObject"), ReasonS3Unavailable, true, 0, ""},
		{"refused: 403 AccessDenied", s3test.APIError("GetObject", 403, "AccessDenied", nil), ReasonS3AccessDenied, false, 403, "AccessDenied"},
		{"gone: 404 NoSuchKey", s3test.APIError("GetObject", 404, "NoSuchKey", nil), ReasonSourceNotFound, false, 404, "NoSuchKey"},
		{"gone: 404 NoSuchVersion", s3test.APIError("GetObjectTagging", 404, "NoSuchVersion", nil), ReasonSourceNotFound, false, 404, "NoSuchVersion"},
		{"deleted: 404 with a delete marker", s3test.APIError("GetObject", 404, "NoSuchKey", http.Header{"X-Amz-Delete-Marker": {"true"}}), ReasonSourceNotFound, false, 404, "NoSuchKey"},
		{"changed: 412", s3test.APIError("GetObject", 412, "PreconditionFailed", nil), ReasonSourceChanged, true, 412, "PreconditionFailed"},
		{"other refusal: 400", s3test.APIError("PutObjectTagging", 400, "InvalidTag", nil), ReasonS3Error, false, 400, "InvalidTag"},
		{"out of time", fmt.Errorf("operation error S3: GetObject: %w", deadline.Err()), photo.ReasonTimeout, true, 0, ""},
		{"cancelled", fmt.Errorf("read body: %w", context.Canceled), photo.ReasonTimeout, true, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := classifyS3("GetObject", tc.err)
			if e.Reason() != tc.reason || e.Transient() != tc.transient || e.Status != tc.status || e.Code != tc.code || !errors.Is(e, tc.err) {
				t.Errorf("%v: reason %s transient %v status %d code %q; want %s %v %d %q", e, e.Reason(), e.Transient(), e.Status, e.Code, tc.reason, tc.transient, tc.status, tc.code)
			}
			if _, r, tr := photo.Classify(e); r != tc.reason || tr != tc.transient {
				t.Errorf("photo.Classify: %s %v", r, tr)
			}
		})
	}
	if !isDeleteMarker(s3test.APIError("GetObject", 404, "NoSuchKey", http.Header{"X-Amz-Delete-Marker": {"true"}})) ||
		isDeleteMarker(s3test.APIError("GetObject", 404, "NoSuchKey", nil)) {
		t.Error("isDeleteMarker does not read x-amz-delete-marker")
	}
}

// fakeWorld is a handler over the Fake, with a photo pipeline whose normaliser and Graph are
// fakes too: the S3 path's decisions alone.
type fakeWorld struct {
	s3    *s3test.Fake
	graph *countingGraph
	h     *Handler
}

type countingGraph struct{ puts int }

func (g *countingGraph) PutPhoto(context.Context, graph.Target, []byte) (graph.Result, error) {
	g.puts++
	return graph.Result{Status: 200, Attempts: 1}, nil
}

func newFakeWorld(t *testing.T) *fakeWorld {
	t.Helper()
	w := &fakeWorld{s3: s3test.NewFake(), graph: &countingGraph{}}
	normalise := func(_ context.Context, src []byte, _ imageproc.Options) (imageproc.Photo, error) {
		return imageproc.Photo{JPEG: []byte{0xFF, 0xD8}, Bytes: 2, Width: 64, Height: 64, SourceFormat: imageproc.FormatJPEG}, nil
	}
	p, err := photo.New(normalise, w.graph, imageproc.Options{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if w.h, err = New(w.s3, p, Options{KeyPrefix: keyPrefix}); err != nil {
		t.Fatal(err)
	}
	return w
}

// sqsEvent is one SQS message carrying an S3 notification for one object version.
func sqsEvent(bucket, key, version, etag string) []byte {
	body := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q,"size":4,"versionId":%q,"eTag":%q}}}]}`,
		bucket, encodeKey(key), version, etag)
	return []byte(fmt.Sprintf(`{"Records":[{"messageId":"m-1","eventSource":"aws:sqs","body":%q}]}`, body))
}

func (w *fakeWorld) run(t *testing.T, payload []byte, timeout time.Duration) (Result, events.SQSEventResponse) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-fake"})
	ev, err := Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	results := w.h.Process(ctx, ev)
	answer, err := Answer(ev, results)
	if err != nil {
		t.Fatal(err)
	}
	return results[0].Results[0], answer.(events.SQSEventResponse)
}

func TestS3FailuresAndRetries(t *testing.T) {
	const bucket, key = "photos", "photos/users/alice@contoso.com/a.jpg"
	unavailable := s3test.APIError("GetObject", 503, "SlowDown", nil)
	tests := []struct {
		name      string
		ownTags   map[string]string
		fault     s3test.Fault
		status    photo.Status
		reason    reason.Reason // zero for a synced photo
		transient bool          // the message comes back (batchItemFailures)
		tagged    bool
		graphPuts int
	}{
		{name: "all well", status: photo.StatusSynced, tagged: true, graphPuts: 1},
		{name: "GetObject throttled (503 SlowDown)", fault: s3test.Fault{Op: "GetObject", Err: unavailable},
			status: photo.StatusFailed, reason: ReasonS3Unavailable, transient: true},
		{name: "GetObject without an answer", fault: s3test.Fault{Op: "GetObject", Err: s3test.NetworkError("GetObject")},
			status: photo.StatusFailed, reason: ReasonS3Unavailable, transient: true},
		{name: "GetObject refused (403)", fault: s3test.Fault{Op: "GetObject", Err: s3test.APIError("GetObject", 403, "AccessDenied", nil)},
			status: photo.StatusFailed, reason: ReasonS3AccessDenied},
		{name: "GetObject finds nothing (404)", fault: s3test.Fault{Op: "GetObject", Err: s3test.APIError("GetObject", 404, "NoSuchKey", nil)},
			status: photo.StatusFailed, reason: ReasonSourceNotFound},
		{name: "GetObject precondition (412)", fault: s3test.Fault{Op: "GetObject", Err: s3test.APIError("GetObject", 412, "PreconditionFailed", nil)},
			status: photo.StatusFailed, reason: ReasonSourceChanged, transient: true},
		{name: "the body breaks off", fault: s3test.Fault{Op: "GetObject.Body", Offset: 2, Err: errors.New("connection reset by peer")},
			status: photo.StatusFailed, reason: ReasonS3Unavailable, transient: true},
		{name: "tags unreadable (503)", ownTags: map[string]string{"dept": "hr"}, fault: s3test.Fault{Op: "GetObjectTagging", Err: s3test.APIError("GetObjectTagging", 503, "ServiceUnavailable", nil)},
			status: photo.StatusFailed, reason: ReasonS3Unavailable, transient: true},
		{name: "tags refused (403)", ownTags: map[string]string{"dept": "hr"}, fault: s3test.Fault{Op: "GetObjectTagging", Err: s3test.APIError("GetObjectTagging", 403, "AccessDenied", nil)},
			status: photo.StatusFailed, reason: ReasonS3AccessDenied},
		// The photo is in Graph; the tag is what failed. Transiently: the message comes back so
		// that the outcome gets recorded (a second PUT of the same photo is harmless).
		{name: "tag write throttled", fault: s3test.Fault{Op: "PutObjectTagging", Err: s3test.APIError("PutObjectTagging", 503, "SlowDown", nil)},
			status: photo.StatusSynced, transient: true, graphPuts: 1},
		{name: "tag write refused", fault: s3test.Fault{Op: "PutObjectTagging", Err: s3test.APIError("PutObjectTagging", 403, "AccessDenied", nil)},
			status: photo.StatusSynced, graphPuts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld(t)
			version, etag := w.s3.Put(bucket, key, []byte("JPEG"), nil, tc.ownTags)
			if tc.fault.Op != "" {
				w.s3.Fail(tc.fault)
			}
			r, answer := w.run(t, sqsEvent(bucket, key, version, etag), 30*time.Second)
			o := r.Outcome
			if o.Status != tc.status || o.Reason != tc.reason || o.Transient != tc.transient {
				t.Errorf("outcome %s/%s transient=%v (%v), want %s/%s transient=%v", o.Status, o.Reason, o.Transient, o.Err, tc.status, tc.reason, tc.transient)
			}
			if retried := len(answer.BatchItemFailures) == 1; retried != tc.transient {
				t.Errorf("batchItemFailures %v, want the message back: %v", answer.BatchItemFailures, tc.transient)
			}
			if r.Tagged != tc.tagged || w.graph.puts != tc.graphPuts {
				t.Errorf("tagged %v (%s), %d Graph PUTs; want %v, %d", r.Tagged, r.TagNote, w.graph.puts, tc.tagged, tc.graphPuts)
			}
			tags := w.s3.Tags(bucket, key, version)
			if tc.tagged != (tags[TagStatus] != "") || tags["dept"] != tc.ownTags["dept"] {
				t.Errorf("tags %v after %v", tags, w.s3.Calls())
			}
		})
	}
}

// TestS3SupersededByADeleteMarker: the key's current version is a delete marker (404 with
// x-amz-delete-marker); the event's version is still there, and is tagged skipped; once it is
// gone for good there is nothing to tag.
func TestS3SupersededByADeleteMarker(t *testing.T) {
	const bucket, key = "photos", "photos/users/bob@contoso.com/b.jpg"
	w := newFakeWorld(t)
	version, etag := w.s3.Put(bucket, key, []byte("JPEG"), nil, nil)
	w.s3.Delete(bucket, key)
	r, answer := w.run(t, sqsEvent(bucket, key, version, etag), 30*time.Second)
	if r.Outcome.Reason != SkipSuperseded || r.Outcome.Status != photo.StatusSkipped || !r.Tagged || len(answer.BatchItemFailures) != 0 || w.graph.puts != 0 {
		t.Errorf("outcome %+v tagged %v, answer %v, %d PUTs", r.Outcome, r.Tagged, answer, w.graph.puts)
	}
	if tags := w.s3.Tags(bucket, key, version); tags[TagStatus] != "skipped" || tags[TagReason] != "superseded" {
		t.Errorf("tags %v", tags)
	}
	if calls := w.s3.Calls(); fmt.Sprint(calls) != "[GetObject GetObjectTagging PutObjectTagging]" {
		t.Errorf("calls %v", calls)
	}
}

// TestS3NothingStartsNearTheDeadline: with less than the headroom and the least work left, no
// S3 request is made and the message comes back.
func TestS3NothingStartsNearTheDeadline(t *testing.T) {
	w := newFakeWorld(t)
	version, etag := w.s3.Put("photos", "photos/users/carol@contoso.com/c.jpg", []byte("JPEG"), nil, nil)
	r, answer := w.run(t, sqsEvent("photos", "photos/users/carol@contoso.com/c.jpg", version, etag), 2500*time.Millisecond)
	if r.Outcome.Reason != photo.ReasonTimeout || !r.Transient() || len(answer.BatchItemFailures) != 1 || len(w.s3.Calls()) != 0 {
		t.Errorf("outcome %+v, answer %v, calls %v", r.Outcome, answer, w.s3.Calls())
	}
}
