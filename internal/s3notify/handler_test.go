package s3notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/graphphoto/graphphoto/internal/s3test"
)

func TestHandlerAnswers(t *testing.T) {
	deliverErr := errors.New("queue full")
	tests := []struct {
		name      string
		method    string
		body      []byte
		deliver   error
		types     []string
		status    int
		reason    string
		delivered int
	}{
		{"put delivered", http.MethodPost, versitygwRecord(nil), nil, nil, http.StatusNoContent, "", 1},
		{"test event acknowledged", http.MethodPost, []byte(`{"Service":"S3","Event":"s3:TestEvent"}`), nil, nil, http.StatusNoContent, "", 0},
		{"tagging not selected", http.MethodPost, versitygwRecord(func(r map[string]any) { r["eventName"] = "s3:ObjectTagging:Put" }), nil, nil, http.StatusNoContent, "", 0},
		{"removal selected", http.MethodPost, versitygwRecord(func(r map[string]any) { r["eventName"] = "s3:ObjectRemoved:DeleteObjects" }), nil, []string{"ObjectRemoved:*"}, http.StatusNoContent, "", 1},
		{"exact type", http.MethodPost, versitygwRecord(func(r map[string]any) { r["eventName"] = "s3:ObjectCreated:Copy" }), nil, []string{"ObjectCreated:Put"}, http.StatusNoContent, "", 0},
		{"delivery fails", http.MethodPost, versitygwRecord(nil), deliverErr, nil, http.StatusServiceUnavailable, "delivery_failed", 1},
		{"malformed", http.MethodPost, []byte("nope"), nil, nil, http.StatusBadRequest, ReasonMalformedJSON, 0},
		{"too large", http.MethodPost, bytes.Repeat([]byte(" "), maxBody+1), nil, nil, http.StatusRequestEntityTooLarge, "body_too_large", 0},
		{"get", http.MethodGet, nil, nil, nil, http.StatusMethodNotAllowed, "method_not_allowed", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []events.S3Event
			h := NewHandler(func(ctx context.Context, ev events.S3Event) error {
				got = append(got, ev)
				return tc.deliver
			}, Options{EventTypes: tc.types})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/events", bytes.NewReader(tc.body)))
			if rec.Code != tc.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.reason != "" {
				var e struct{ Reason string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Reason != tc.reason {
					t.Errorf("body %s, want reason %s", rec.Body, tc.reason)
				}
			}
			if len(got) != tc.delivered {
				t.Errorf("delivered %d events, want %d", len(got), tc.delivered)
			}
		})
	}
}

func TestDeliveryOutlivesTheWebhookRequest(t *testing.T) {
	var ctxErr error
	h := NewHandler(func(ctx context.Context, ev events.S3Event) error {
		ctxErr = ctx.Err()
		return nil
	}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // versitygw gave up waiting
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(versitygwRecord(nil))).WithContext(ctx))
	if rec.Code != http.StatusNoContent || ctxErr != nil {
		t.Fatalf("status %d, deliver saw ctx error %v; want delivery with a live context", rec.Code, ctxErr)
	}
}

// collector is a Deliver that keeps events by decoded key.
type collector struct {
	mu     sync.Mutex
	events map[string][]events.S3Event
	arrive chan struct{}
}

func (c *collector) deliver(_ context.Context, ev events.S3Event) error {
	c.mu.Lock()
	key := ev.Records[0].S3.Object.URLDecodedKey
	c.events[key] = append(c.events[key], ev)
	c.mu.Unlock()
	c.arrive <- struct{}{}
	return nil
}

func (c *collector) await(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for range n {
		select {
		case <-c.arrive:
		case <-timeout:
			t.Fatalf("timed out waiting for %d notifications", n)
		}
	}
}

// TestRealVersitygwNotifications puts objects into a real versitygw whose webhook is this
// handler and checks the S3 events that come out.
// TestHandlerDeliversOnlyItsBuckets: versitygw posts every bucket's events to its one webhook;
// with Buckets set, only theirs reach the queue (S3 notifies only for a configured bucket).
func TestHandlerDeliversOnlyItsBuckets(t *testing.T) {
	in := func(bucket string) []byte {
		return versitygwRecord(func(r map[string]any) {
			b := r["s3"].(map[string]any)["bucket"].(map[string]any)
			b["name"], b["arn"] = bucket, "arn:aws:s3:::/"+bucket+"/a b.jpg"
		})
	}
	for _, c := range []struct {
		buckets []string
		bucket  string
		want    int
	}{{nil, "photos-state", 1}, {[]string{"photos"}, "photos", 1}, {[]string{"photos"}, "photos-state", 0}, {[]string{"a", "photos-state"}, "photos-state", 1}} {
		n := 0
		h := NewHandler(func(context.Context, events.S3Event) error { n++; return nil }, Options{Buckets: c.buckets})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(in(c.bucket))))
		if rec.Code != http.StatusNoContent || n != c.want {
			t.Errorf("buckets %v, event of %s: %d, %d delivered; want %d", c.buckets, c.bucket, rec.Code, n, c.want)
		}
	}
}

func TestRealVersitygwNotifications(t *testing.T) {
	col := &collector{events: map[string][]events.S3Event{}, arrive: make(chan struct{}, 64)}
	handler := NewHandler(col.deliver, Options{EventTypes: []string{"ObjectCreated:*", "ObjectRemoved:*"}})
	var rawMu sync.Mutex
	var raw []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rawMu.Lock()
		raw = append(raw, string(b))
		rawMu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			rawMu.Lock()
			t.Logf("versitygw sent:\n%s", strings.Join(raw, "\n"))
			rawMu.Unlock()
		}
	})
	t.Cleanup(hook.Close)
	srv := s3test.MustStart(t, s3test.Options{EventWebhookURL: hook.URL + "/events", Region: "eu-west-1"})
	ctx := context.Background()
	client := srv.Client()
	const bucket = "uploads"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}

	objects := []struct{ key, encoded string }{
		{"photos/my portrait.jpg", "photos/my+portrait.jpg"},
		{"unicode/Zoë 写真.png", "unicode/Zo%C3%AB+%E5%86%99%E7%9C%9F.png"},
		{"plus/a+b=c.jpg", "plus/a%2Bb%3Dc.jpg"},
		{"users/alice@contoso.com/photo.heic", "users/alice%40contoso.com/photo.heic"},
	}
	etags := map[string]string{}
	for i, o := range objects {
		out, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:   aws.String(bucket),
			Key:      aws.String(o.key),
			Body:     strings.NewReader(strings.Repeat("x", 100+i)),
			Metadata: map[string]string{"graph-target": "users/alice@contoso.com"},
		})
		if err != nil {
			t.Fatalf("put %q: %v", o.key, err)
		}
		etags[o.key] = strings.Trim(aws.ToString(out.ETag), `"`)
	}
	// Tagging is not selected, so the S3 path tagging its own objects does not trigger it again.
	if _, err := client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String(objects[0].key),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("graph-photo-status"), Value: aws.String("synced")}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("copies/copy 1.jpg"),
		CopySource: aws.String(bucket + "/" + EncodeKey(objects[0].key)),
	}); err != nil {
		t.Fatalf("copy: %v", err)
	}
	if _, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(bucket),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String(objects[3].key)}}},
	}); err != nil {
		t.Fatalf("delete objects: %v", err)
	}
	col.await(t, len(objects)+2)

	col.mu.Lock()
	defer col.mu.Unlock()
	seen := map[string]bool{}
	for i, o := range objects {
		evs := col.events[o.key]
		want := 1
		if i == 3 {
			want = 2 // put, then the multi-object delete
		}
		if len(evs) != want {
			t.Fatalf("%q: %d events, want %d (all: %v)", o.key, len(evs), want, col.events)
		}
		r := evs[0].Records[0]
		if r.EventName != "ObjectCreated:Put" || r.EventSource != "aws:s3" || r.AWSRegion != "eu-west-1" {
			t.Errorf("%q: name %q source %q region %q", o.key, r.EventName, r.EventSource, r.AWSRegion)
		}
		if r.S3.Object.Key != o.encoded {
			t.Errorf("key %q, want %q", r.S3.Object.Key, o.encoded)
		}
		if r.S3.Object.Size != int64(100+i) || r.S3.Object.ETag != etags[o.key] {
			t.Errorf("%q: size %d eTag %q, want %d %q", o.key, r.S3.Object.Size, r.S3.Object.ETag, 100+i, etags[o.key])
		}
		if r.S3.Bucket.Name != bucket || r.S3.Bucket.Arn != "arn:aws:s3:::"+bucket {
			t.Errorf("bucket %q arn %q", r.S3.Bucket.Name, r.S3.Bucket.Arn)
		}
		if len(r.S3.Object.Sequencer) != 16 || seen[r.S3.Object.Sequencer] {
			t.Errorf("sequencer %q: want 16 hex digits, unique", r.S3.Object.Sequencer)
		}
		seen[r.S3.Object.Sequencer] = true
		if r.EventTime.IsZero() || r.EventTime.Location() != time.UTC {
			t.Errorf("event time %v, want a UTC time", r.EventTime)
		}
		// versitygw reads x-amz-request-id from the request's headers, where the SDK sends none,
		// so it arrives empty and is left out rather than invented.
		for k, v := range r.ResponseElements {
			if v == "" {
				t.Errorf("%q: empty response element %s", o.key, k)
			}
		}
		// The S3 wire form, as a Lambda function would receive it, decodes back to the key.
		b, err := Marshal(evs[0])
		if err != nil {
			t.Fatal(err)
		}
		var back events.S3Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Records[0].S3.Object.URLDecodedKey != o.key {
			t.Errorf("wire form decodes to %q, want %q", back.Records[0].S3.Object.URLDecodedKey, o.key)
		}
	}
	if del := col.events[objects[3].key][1].Records[0]; del.EventName != "ObjectRemoved:Delete" {
		t.Errorf("multi-object delete event %q, want ObjectRemoved:Delete", del.EventName)
	}
	cp := col.events["copies/copy 1.jpg"]
	if len(cp) != 1 || cp[0].Records[0].EventName != "ObjectCreated:Copy" || cp[0].Records[0].S3.Object.Key != "copies/copy+1.jpg" {
		t.Errorf("copy events: %+v", cp)
	}
}
