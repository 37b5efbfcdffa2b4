package onupload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photo"
)

const sampleBucket = "hr-photo-uploads" // the bucket the events/ samples name

// sample reads an events/ file with its bucket replaced by the stack's, and the ETag of each
// object it names by the ETag of the object the test put at that key, as S3 would send it (the
// handler skips an event whose ETag is no longer the key's).
func (st *stack) sample(name string) []byte {
	st.t.Helper()
	payload := readEvent(st.t, name)
	ev, err := Decode(payload)
	if err != nil {
		st.t.Fatalf("%s: %v", name, err)
	}
	for _, item := range ev.Items {
		for _, o := range item.Objects {
			if o.ETag == "" {
				continue
			}
			head, err := st.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(o.Key)})
			if err != nil {
				continue // the test did not put it: the event stays as it is
			}
			payload = bytes.ReplaceAll(payload, []byte(o.ETag), []byte(strings.Trim(aws.ToString(head.ETag), `"`)))
		}
	}
	return bytes.ReplaceAll(payload, []byte(sampleBucket), []byte(st.bucket))
}

func TestPhotoArrivesWithTagsLogsAndMetrics(t *testing.T) {
	st := newStack(t, stackOptions{})
	src := corpus(t, "portrait_o6.jpg")
	// The sample names photos/users/bob@contoso.com/badge 2026.jpg: a key-layout target.
	key := "photos/users/bob@contoso.com/badge 2026.jpg"
	st.put(key, src, "", "dept=hr&cost-centre=4711")

	resp, err := st.invoke(st.sample("s3-put-key-target.json"))
	if resp != nil || err != nil {
		t.Fatalf("answer %v, %v; want nil, nil for an S3 notification that succeeded", resp, err)
	}
	got, ok := st.graph.Photo(tenantID, "users/bob@contoso.com")
	if !ok {
		t.Fatal("no photo in Graph for bob")
	}
	want, err := imageproc.Normalise(context.Background(), src, imageproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, want.JPEG) || got.ContentType != "image/jpeg" {
		t.Errorf("Graph holds %d bytes (%s), want the %d bytes Normalise makes", len(got.Data), got.ContentType, len(want.JPEG))
	}
	tags := st.tags(key)
	if tags[TagStatus] != "synced" || tags["dept"] != "hr" || tags["cost-centre"] != "4711" || len(tags) != 3 {
		t.Errorf("tags %v, want the owner's two and graph-photo-status=synced", tags)
	}

	var line map[string]any
	for _, l := range st.logs.lines(t) {
		if l["message"] == "photo synced" {
			line = l
		}
	}
	if line == nil {
		t.Fatalf("no 'photo synced' line in\n%s", st.logs)
	}
	for k, want := range map[string]any{
		"requestId": "req-" + t.Name(), "bucket": st.bucket, "key": key, "target": "users/bob@contoso.com",
		"status": "synced", "trigger": "s3", "target_from": "key", "source_bytes": float64(len(src)),
		"photo_bytes": float64(len(want.JPEG)), "tagged": true,
	} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
	for _, k := range []string{"graph_request_id", "client_request_id", "normalise_ms", "graph_ms", "total_ms", "version"} {
		if v, ok := line[k]; !ok || v == "" {
			t.Errorf("log line lacks %s: %v", k, line)
		}
	}
	if line["graph_request_id"] != st.graph.Requests()[len(st.graph.Requests())-1].RequestID {
		t.Errorf("graph_request_id %v is not the id Graph answered with", line["graph_request_id"])
	}
	if strings.Contains(st.logs.String(), appSecret) || strings.Contains(st.metrics.String(), appSecret) {
		t.Error("the client secret reached a log line")
	}

	emf := st.metrics.lines(t)
	if len(emf) != 1 {
		t.Fatalf("%d EMF lines, want one per object:\n%s", len(emf), st.metrics)
	}
	m := emf[0]
	for k, want := range map[string]any{"PhotosSynced": 1.0, "PhotosRejected": 0.0, "PhotosFailed": 0.0, "BytesIn": float64(len(src)),
		"BytesOut": float64(len(want.JPEG)), "FunctionName": "onupload-test", "requestId": "req-" + t.Name()} {
		if m[k] != want {
			t.Errorf("EMF %s = %v, want %v", k, m[k], want)
		}
	}
	if m["NormaliseMs"].(float64) <= 0 || m["GraphMs"].(float64) <= 0 {
		t.Errorf("EMF timings %v %v, want positive", m["NormaliseMs"], m["GraphMs"])
	}
	if _, ok := m["_aws"].(map[string]any); !ok {
		t.Errorf("EMF line without _aws: %v", m)
	}
}

// TestUnchangedPhotoIsNotWrittenAgain: tonight's export of a photo Graph already holds is a new
// object, tagged synced with reason unchanged, logged and counted as unchanged, and not written;
// once the photo is changed in Graph from outside, the next export writes it again.
func TestUnchangedPhotoIsNotWrittenAgain(t *testing.T) {
	st := newStack(t, stackOptions{skipUnchanged: true})
	src := corpus(t, "portrait_o2.jpg")
	for night, want := range []struct {
		reason, message string
		writes          int
	}{{"", "photo synced", 1}, {"unchanged", "photo unchanged", 0}, {"", "photo synced", 1}} {
		if night == 2 {
			if _, err := st.graph.SetPhoto(tenantID, "users/heidi@contoso.com", graphtest.JPEG(120, 120)); err != nil {
				t.Fatal(err)
			}
		}
		key := fmt.Sprintf("hr-export/night%d/heidi.jpg", night)
		st.put(key, src, "users/heidi@contoso.com", "")
		before := st.graphPuts()
		if _, err := st.invoke(st.s3Event(key)); err != nil {
			t.Fatal(err)
		}
		if n := st.graphPuts() - before; n != want.writes {
			t.Errorf("night %d: %d Graph writes, want %d", night, n, want.writes)
		}
		if tags := st.tags(key); tags[TagStatus] != "synced" || tags[TagReason] != want.reason {
			t.Errorf("night %d: tags %v, want synced with reason %q", night, tags, want.reason)
		}
		line := st.lastLine(t)
		if line["message"] != want.message || line["key"] != key || line["record_ms"] == nil || line["graph_reads"] == nil {
			t.Errorf("night %d: log line %v", night, line)
		}
		emf := st.metrics.lines(t)
		m := emf[len(emf)-1]
		synced, unchanged := 1.0, 0.0
		if want.reason == "unchanged" {
			synced, unchanged = 0, 1
		}
		if m["PhotosSynced"] != synced || m["PhotosUnchanged"] != unchanged {
			t.Errorf("night %d: EMF PhotosSynced %v PhotosUnchanged %v, want %v %v", night, m["PhotosSynced"], m["PhotosUnchanged"], synced, unchanged)
		}
	}
	got, _ := st.graph.Photo(tenantID, "users/heidi@contoso.com")
	want, err := imageproc.Normalise(context.Background(), src, imageproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, want.JPEG) {
		t.Error("the outside change was left in place")
	}
}

func TestMetadataTargetWins(t *testing.T) {
	st := newStack(t, stackOptions{})
	key := "incoming/2026-05/Alice Smith (portrait).jpg"
	st.put(key, corpus(t, "portrait_o0.jpg"), "users/alice@contoso.com", "")
	if _, err := st.invoke(st.sample("s3-put-metadata-target.json")); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.graph.Photo(tenantID, "users/alice@contoso.com"); !ok {
		t.Error("no photo for alice")
	}
	if tags := st.tags(key); tags[TagStatus] != "synced" || len(tags) != 1 {
		t.Errorf("tags %v", tags)
	}
}

// TestFailureCases drives each failure the S3 path must handle (docs/architecture.md §4) through a
// direct S3 invocation and checks the tags, the answer and what Graph saw.
func TestFailureCases(t *testing.T) {
	good := func(t *testing.T) []byte { return corpus(t, "portrait_o3.jpg") }
	tests := []struct {
		name      string
		key       string
		body      func(t *testing.T) []byte
		setup     func(st *stack)
		opts      stackOptions
		status    string // graph-photo-status
		reason    string // graph-photo-reason ("" none)
		retry     bool   // the invocation returns an error so Lambda retries
		graphPuts int
	}{
		{name: "no target", key: "incoming/scan 7.jpg", body: good, status: "rejected", reason: "no_target"},
		{name: "bad image", key: "photos/users/carol@contoso.com/notes.jpg", body: func(*testing.T) []byte { return []byte("this is not an image, just text in a .jpg") },
			status: "rejected", reason: imageproc.ReasonUnsupportedFormat.String()},
		{name: "corrupt JPEG", key: "photos/users/carol@contoso.com/corrupt.jpg", body: func(t *testing.T) []byte { return corpus(t, "jpeg_corrupt_header_camera.jpg") },
			status: "rejected", reason: imageproc.ReasonCorruptImage.String()},
		{name: "pixel bomb", key: "photos/users/dave@contoso.com/bomb.png", body: func(t *testing.T) []byte { return corpus(t, "bomb_png_65536x65536.png") },
			status: "rejected", reason: imageproc.ReasonTooManyPixels.String()},
		{name: "unknown user", key: "photos/users/nobody@contoso.com/me.jpg", body: good, status: "rejected", reason: "target_not_found", graphPuts: 1},
		{name: "wrong secret", key: "photos/users/erin@contoso.com/me.jpg", body: good, opts: stackOptions{secret: "not-the-secret"},
			status: "failed", reason: "credentials_invalid"},
		{name: "throttling that clears", key: "photos/users/frank@contoso.com/me.jpg", body: good,
			setup: func(st *stack) {
				st.graph.AddFault(graphtest.Fault{Kind: "graph", Method: "PUT", Path: "/photo/$value", Status: 429, Times: 2})
			}, status: "synced", graphPuts: 3},
		{name: "throttling that does not clear", key: "photos/users/grace@contoso.com/me.jpg", body: good,
			setup: func(st *stack) {
				st.graph.AddFault(graphtest.Fault{Kind: "graph", Method: "PUT", Path: "/photo/$value", Status: 429})
			}, status: "failed", reason: "throttled", retry: true, graphPuts: 3},
		{name: "Graph unavailable", key: "photos/users/heidi@contoso.com/me.jpg", body: good,
			setup: func(st *stack) {
				st.graph.AddFault(graphtest.Fault{Kind: "graph", Method: "PUT", Status: 503})
			}, status: "failed", reason: "unavailable", retry: true, graphPuts: 3},
		{name: "a me target", key: "photos/me/selfie.jpg", body: good, status: "rejected", reason: "bad_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStack(t, tc.opts)
			if tc.setup != nil {
				tc.setup(st)
			}
			st.put(tc.key, tc.body(t), "", "")
			resp, err := st.invoke(st.s3Event(tc.key))
			var re *RetryError
			if tc.retry != errors.As(err, &re) || resp != nil {
				t.Errorf("answer %v, %v; want a retry error: %v", resp, err, tc.retry)
			}
			if err != nil && !tc.retry {
				t.Errorf("unexpected error %v", err)
			}
			tags := st.tags(tc.key)
			if tags[TagStatus] != tc.status || tags[TagReason] != tc.reason {
				t.Errorf("tags %v, want status %s reason %q", tags, tc.status, tc.reason)
			}
			if n := st.graphPuts(); n != tc.graphPuts {
				t.Errorf("%d photo writes reached Graph, want %d", n, tc.graphPuts)
			}
			if strings.Contains(st.logs.String(), appSecret) || (tc.opts.secret != "" && strings.Contains(st.logs.String(), tc.opts.secret)) {
				t.Error("a secret reached the logs")
			}
		})
	}
}

func TestOverTheSizeLimitIsNeverDownloaded(t *testing.T) {
	src := corpus(t, "portrait_o1.jpg")
	st := newStack(t, stackOptions{maxSourceBytes: len(src) - 1})
	key := "photos/users/ivan@contoso.com/big.jpg"
	st.put(key, src, "", "")
	if _, err := st.invoke(st.s3Event(key)); err != nil {
		t.Fatal(err)
	}
	// One GetObject says the length before the body; the body is never read.
	if n, read := st.calls.gets.Load(), st.calls.bodyBytes.Load(); n != 1 || read != 0 {
		t.Errorf("%d GetObject calls, %d bytes of the body read; want one call and none read for an object over the limit", n, read)
	}
	if tags := st.tags(key); tags[TagStatus] != "rejected" || tags[TagReason] != "source_too_large" {
		t.Errorf("tags %v", tags)
	}
	if st.graphPuts() != 0 {
		t.Error("Graph was called")
	}
}

func TestDuplicateDeliverySendsOnce(t *testing.T) {
	st := newStack(t, stackOptions{})
	key := "photos/users/judy@contoso.com/judy.jpg"
	st.put(key, corpus(t, "portrait_o2.jpg"), "", "")
	// Twice in one event (S3 may repeat a record) and once more in another invocation.
	if _, err := st.invoke(st.s3Event(key, key)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.invoke(st.s3Event(key)); err != nil {
		t.Fatal(err)
	}
	if n := st.graphPuts(); n != 1 {
		t.Errorf("%d photo writes reached Graph, want exactly 1", n)
	}
	skipped := 0
	for _, l := range st.logs.lines(t) {
		if l["skipped"] == SkipAlreadySynced.String() {
			skipped++
		}
	}
	if skipped != 2 {
		t.Errorf("%d deliveries logged as already synced, want 2", skipped)
	}
	// A new version of the same key is a new photo.
	st.put(key, corpus(t, "portrait_o4.jpg"), "", "")
	if _, err := st.invoke(st.s3Event(key)); err != nil {
		t.Fatal(err)
	}
	if n := st.graphPuts(); n != 2 {
		t.Errorf("after a new upload: %d photo writes, want 2", n)
	}
}

func TestSQSAnswersOnlyTransientFailures(t *testing.T) {
	st := newStack(t, stackOptions{})
	st.put("photos/users/carol@contoso.com/carol.jpg", corpus(t, "portrait_o5.jpg"), "", "")
	st.put("photos/users/dave@contoso.com/dave at desk.jpg", corpus(t, "portrait_o7.jpg"), "", "")
	// Dave's writes are throttled for good; carol's go through.
	st.graph.AddFault(graphtest.Fault{Kind: "graph", Method: "PUT", Path: "dave", Status: 429})

	resp, err := st.invoke(st.sample("sqs-batch.json"))
	if err != nil {
		t.Fatalf("an SQS batch must never fail as a whole: %v", err)
	}
	b, _ := json.Marshal(resp)
	if string(b) != `{"batchItemFailures":[{"itemIdentifier":"2e1f4c6d-8a0b-4c2d-9e3f-5a6b7c8d9e0f"}]}` {
		t.Errorf("answer %s", b)
	}
	if _, ok := st.graph.Photo(tenantID, "users/carol@contoso.com"); !ok {
		t.Error("no photo for carol")
	}
	if tags := st.tags("photos/users/dave@contoso.com/dave at desk.jpg"); tags[TagStatus] != "failed" || tags[TagReason] != "throttled" {
		t.Errorf("dave's tags %v", tags)
	}

	// A message that fails permanently is not reported: it must not come back.
	st.put("photos/users/nobody@contoso.com/x.jpg", corpus(t, "portrait_o5.jpg"), "", "")
	body, _ := json.Marshal(string(st.s3Event("photos/users/nobody@contoso.com/x.jpg")))
	resp, err = st.invoke([]byte(`{"Records":[{"messageId":"m-404","eventSource":"aws:sqs","body":` + string(body) + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(events.SQSEventResponse); len(r.BatchItemFailures) != 0 {
		t.Errorf("a permanent failure was reported for retry: %+v", r)
	}
}

func TestBatchOperations(t *testing.T) {
	st := newStack(t, stackOptions{})
	st.put("photos/users/erin@contoso.com/erin.jpg", corpus(t, "portrait_o8.jpg"), "", "")
	st.put("photos/users/frank@contoso.com/frank 2.jpg", corpus(t, "portrait_o6.jpg"), "", "")
	for _, file := range []string{"s3-batch-ops-1.0.json", "s3-batch-ops-2.0.json"} {
		resp, err := st.invoke(st.sample(file))
		if err != nil {
			t.Fatalf("%s: Batch Operations must never get a Go error: %v", file, err)
		}
		r := resp.(events.S3BatchJobResponse)
		if len(r.Results) != 1 || r.Results[0].ResultCode != BatchSucceeded || !strings.HasPrefix(r.Results[0].ResultString, "synced users/") {
			t.Errorf("%s: %+v", file, r)
		}
		if r.InvocationSchemaVersion != file[len("s3-batch-ops-"):len("s3-batch-ops-")+3] || r.InvocationID == "" {
			t.Errorf("%s: envelope %+v", file, r)
		}
	}
	for _, u := range []string{"erin", "frank"} {
		if _, ok := st.graph.Photo(tenantID, "users/"+u+"@contoso.com"); !ok {
			t.Errorf("no photo for %s", u)
		}
	}
	// A task for a key that is not there, and one that Graph throttles.
	st.put("photos/users/olivia@contoso.com/o.jpg", corpus(t, "portrait_o0.jpg"), "", "")
	st.graph.AddFault(graphtest.Fault{Kind: "graph", Method: "PUT", Path: "olivia", Status: 503})
	job := `{"invocationSchemaVersion":"2.0","invocationId":"inv-2","job":{"id":"j"},"tasks":[` +
		`{"taskId":"missing","s3Key":"photos/users/erin%40contoso.com/gone.jpg","s3VersionId":null,"s3Bucket":"` + st.bucket + `"},` +
		`{"taskId":"busy","s3Key":"photos/users/olivia%40contoso.com/o.jpg","s3VersionId":null,"s3Bucket":"` + st.bucket + `"}]}`
	resp, err := st.invoke([]byte(job))
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(events.S3BatchJobResponse)
	if len(r.Results) != 2 || r.Results[0].ResultCode != BatchPermanentFailure || r.Results[0].ResultString != "failed: source_not_found" ||
		r.Results[1].ResultCode != BatchTemporaryFailure {
		t.Errorf("%+v", r.Results)
	}
}

func TestEventBridgeObjectCreated(t *testing.T) {
	st := newStack(t, stackOptions{})
	key := "photos/users/grace@contoso.com/grace.jpg"
	version := st.put(key, corpus(t, "portrait_o7.jpg"), "", "")
	if version == "" {
		t.Fatal("versioned bucket gave no version id")
	}
	payload := bytes.ReplaceAll(st.sample("eventbridge-object-created.json"), []byte("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"), []byte(version))
	if resp, err := st.invoke(payload); resp != nil || err != nil {
		t.Fatalf("%v, %v", resp, err)
	}
	got, ok := st.graph.Photo(tenantID, "users/grace@contoso.com")
	want, _ := imageproc.Normalise(context.Background(), corpus(t, "portrait_o7.jpg"), imageproc.Options{})
	if !ok || !bytes.Equal(got.Data, want.JPEG) {
		t.Error("Graph does not hold the version the event named")
	}
	if tags := st.versionTags(key, version); tags[TagStatus] != "synced" {
		t.Errorf("the event's version has tags %v, want synced", tags)
	}
	// A newer upload of the same key, then the same event again: the newer version wins, and
	// neither it nor Graph is touched by the older one's event.
	newer := st.put(key, corpus(t, "portrait_o2.jpg"), "", "")
	if resp, err := st.invoke(payload); resp != nil || err != nil {
		t.Fatalf("%v, %v", resp, err)
	}
	if again, _ := st.graph.Photo(tenantID, "users/grace@contoso.com"); !bytes.Equal(again.Data, want.JPEG) || st.graphPuts() != 1 {
		t.Errorf("the older version's event wrote Graph again (%d PUTs)", st.graphPuts())
	}
	if tags := st.versionTags(key, newer); len(tags) != 0 {
		t.Errorf("the newest version got tags %v; the event named the older one", tags)
	}
}

func TestNearTheDeadlineNothingStarts(t *testing.T) {
	st := newStack(t, stackOptions{})
	key := "photos/users/peggy@contoso.com/p.jpg"
	st.put(key, corpus(t, "portrait_o0.jpg"), "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond) // < 2 s headroom + 1 s
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "late"})
	_, err := st.handler.Handle(ctx, st.s3Event(key))
	var re *RetryError
	if !errors.As(err, &re) || re.First.Outcome.Reason.String() != "timeout" {
		t.Fatalf("err = %v, want a retry for timeout", err)
	}
	if st.counts() != [3]int64{} || st.graphPuts() != 0 {
		t.Error("work started with too little time left")
	}
}

// TestMetadataPrefixes: with TARGET_METADATA_PREFIXES, whoever may put objects outside those
// prefixes cannot name a target through metadata: under photos/users/alice@… the key layout
// decides, and elsewhere nothing does; under hr-export/ the metadata is honoured.
func TestMetadataPrefixes(t *testing.T) {
	st := newStack(t, stackOptions{metadataPrefixes: []string{"hr-export/", "uploads/"}})
	src := graphtest.JPEG(320, 320)
	for _, tc := range []struct {
		key, meta, status, reason, wrote, note string
	}{
		{"hr-export/2026/heidi.jpg", "users/heidi@contoso.com", "synced", "", "heidi", ""},
		// Allowed to write under alice's folder only, the uploader names ivan in metadata: the
		// key layout wins, and ivan's photo is not touched.
		{"photos/users/judy@contoso.com/j.jpg", "users/ivan@contoso.com", "synced", "", "judy", "graph-target metadata ignored"},
		{"misc/ivan.jpg", "users/ivan@contoso.com", "rejected", photo.ReasonNoTarget.String(), "", "graph-target metadata ignored"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			st.put(tc.key, src, tc.meta, "")
			if _, err := st.invoke(st.s3Event(tc.key)); err != nil {
				t.Fatal(err)
			}
			if tags := st.tags(tc.key); tags[TagStatus] != tc.status || tags[TagReason] != tc.reason {
				t.Errorf("tags %v, want %s %s", tags, tc.status, tc.reason)
			}
			if tc.wrote != "" {
				if _, ok := st.graph.Photo(tenantID, "users/"+tc.wrote+"@contoso.com"); !ok {
					t.Errorf("no photo for %s", tc.wrote)
				}
			}
			line := st.lastLine(t)
			if note, _ := line["target_note"].(string); !strings.HasPrefix(note, tc.note) || (tc.note == "") != (note == "") {
				t.Errorf("target_note %q, want %q", note, tc.note)
			}
		})
	}
	if _, ok := st.graph.Photo(tenantID, "users/ivan@contoso.com"); ok {
		t.Error("metadata outside the prefixes set ivan's photo")
	}
}
