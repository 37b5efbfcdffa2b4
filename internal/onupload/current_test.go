package onupload

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// Only the key's current version reaches Graph: a redelivered, late or out-of-order event for
// an older version, or for one deleted since, is skipped as superseded, on the real S3 server
// (versitygw) with versioned and unversioned buckets.

// process runs one payload through the handler as Lambda would and returns its only result.
func (st *stack) process(payload []byte) Result {
	st.t.Helper()
	ev, err := Decode(payload)
	if err != nil {
		st.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-" + st.t.Name()})
	results := st.handler.Process(ctx, ev)
	if len(results) != 1 || len(results[0].Results) != 1 {
		st.t.Fatalf("results %+v, want one object", results)
	}
	return results[0].Results[0]
}

// wantSuperseded checks a result is the superseded skip: status skipped, nothing transient.
func wantSuperseded(t *testing.T, r Result) {
	t.Helper()
	if !r.Outcome.Skipped() || r.Outcome.Status != photo.StatusSkipped || r.Outcome.Reason != SkipSuperseded || r.Transient() {
		t.Fatalf("result %+v (tag note %q), want skipped/superseded", r.Outcome, r.TagNote)
	}
}

// holds reports whether Graph holds the user's photo made from src.
func (st *stack) holds(user string, src []byte) bool {
	st.t.Helper()
	got, ok := st.graph.Photo(tenantID, "users/"+user)
	want, err := imageproc.Normalise(context.Background(), src, imageproc.Options{})
	if err != nil {
		st.t.Fatal(err)
	}
	return ok && bytes.Equal(got.Data, want.JPEG)
}

// counts are the S3 requests so far: GetObject, GetObjectTagging, PutObjectTagging.
func (st *stack) counts() [3]int64 {
	return [3]int64{st.calls.gets.Load(), st.calls.getTags.Load(), st.calls.putTags.Load()}
}

func TestVersionsDeliveredInReverseOrder(t *testing.T) {
	st := newStack(t, stackOptions{})
	key := "photos/users/alice@contoso.com/portrait.jpg"
	older, newer := graphtest.JPEG(400, 300), graphtest.JPEG(300, 400)
	v1, etag1 := st.putETag(key, older, "", "")
	v2, etag2 := st.putETag(key, newer, "", "")

	// v2's event comes first (another instance, a faster shard): it is current, it is written.
	before := st.counts()
	if r := st.process(st.s3EventOf(key, v2, etag2)); r.Outcome.Status != photo.StatusSynced || r.VersionID != v2 {
		t.Fatalf("v2: %+v", r.Outcome)
	}
	if got := st.counts(); got != [3]int64{before[0] + 1, before[1], before[2] + 1} {
		t.Errorf("a current object without tags cost %v S3 requests (get, get tags, put tags), want get and put tags", diff(got, before))
	}
	// v1's event, late: skipped, tagged on v1, its body never read; Graph keeps v2's photo.
	before = st.counts()
	read := st.calls.bodyBytes.Load()
	r := st.process(st.s3EventOf(key, v1, etag1))
	if n := st.calls.bodyBytes.Load() - read; n != 0 {
		t.Errorf("%d bytes of the current version's body read for a superseded event", n)
	}
	wantSuperseded(t, r)
	if r.VersionID != v1 || r.SupersededBy != "version "+v2+" is current" || !r.Tagged {
		t.Errorf("result version %s, superseded by %q, tagged %v", r.VersionID, r.SupersededBy, r.Tagged)
	}
	if got := st.counts(); got != [3]int64{before[0] + 1, before[1] + 1, before[2] + 1} {
		t.Errorf("a superseded version cost %v S3 requests (get, get tags, put tags), want one each (its body unread)", diff(got, before))
	}
	if !st.holds("alice@contoso.com", newer) || st.graphPuts() != 1 {
		t.Errorf("Graph does not hold v2's photo alone (%d PUTs)", st.graphPuts())
	}
	if tags := st.versionTags(key, v1); tags[TagStatus] != "skipped" || tags[TagReason] != "superseded" {
		t.Errorf("v1 tags %v, want skipped/superseded", tags)
	}
	if tags := st.versionTags(key, v2); tags[TagStatus] != "synced" || len(tags) != 1 {
		t.Errorf("v2 tags %v, want synced only", tags)
	}
	line := st.lastLine(t)
	if line["message"] != "object skipped" || line["skipped"] != SkipSuperseded.String() || line["status"] != "skipped" || line["reason"] != SkipSuperseded.String() {
		t.Errorf("log line %v", line)
	}
}

func TestRedeliveredOldVersion(t *testing.T) {
	t.Run("after it was synced", func(t *testing.T) {
		st := newStack(t, stackOptions{})
		key := "photos/users/bob@contoso.com/b.jpg"
		older, newer := graphtest.JPEG(400, 300), graphtest.JPEG(300, 400)
		v1, etag1 := st.putETag(key, older, "", "")
		if r := st.process(st.s3EventOf(key, v1, etag1)); r.Outcome.Status != photo.StatusSynced {
			t.Fatalf("v1: %+v", r.Outcome)
		}
		v2, etag2 := st.putETag(key, newer, "", "")
		if r := st.process(st.s3EventOf(key, v2, etag2)); r.Outcome.Status != photo.StatusSynced {
			t.Fatalf("v2: %+v", r.Outcome)
		}
		// S3 delivers at least once: v1's event again puts nothing back over v2's photo, and v1
		// keeps the tag it got while it was current.
		r := st.process(st.s3EventOf(key, v1, etag1))
		wantSuperseded(t, r)
		if !st.holds("bob@contoso.com", newer) || st.graphPuts() != 2 {
			t.Errorf("Graph does not hold v2's photo (%d PUTs, want 2)", st.graphPuts())
		}
		if tags := st.versionTags(key, v1); tags[TagStatus] != "synced" {
			t.Errorf("v1 tags %v, want synced kept", tags)
		}
	})
	t.Run("after its first delivery failed", func(t *testing.T) {
		st := newStack(t, stackOptions{})
		key := "photos/users/carol@contoso.com/c.jpg"
		older, newer := graphtest.JPEG(400, 300), graphtest.JPEG(300, 400)
		v1, etag1 := st.putETag(key, older, "", "")
		st.graph.AddFault(graphtest.Fault{Kind: "graph", Method: "PUT", Status: 503})
		if r := st.process(st.s3EventOf(key, v1, etag1)); !r.Transient() {
			t.Fatalf("v1 with Graph down: %+v, want a transient failure", r.Outcome)
		}
		st.graph.ClearFaults()
		v2, etag2 := st.putETag(key, newer, "", "")
		if r := st.process(st.s3EventOf(key, v2, etag2)); r.Outcome.Status != photo.StatusSynced {
			t.Fatalf("v2: %+v", r.Outcome)
		}
		// The queue retries v1's message after v2 was written: v2 wins.
		wantSuperseded(t, st.process(st.s3EventOf(key, v1, etag1)))
		if !st.holds("carol@contoso.com", newer) {
			t.Error("Graph does not hold v2's photo")
		}
		if tags := st.versionTags(key, v1); tags[TagStatus] != "skipped" || tags[TagReason] != "superseded" {
			t.Errorf("v1 tags %v, want skipped/superseded", tags)
		}
	})
}

func TestDeletedThenDelivered(t *testing.T) {
	st := newStack(t, stackOptions{})
	key := "photos/users/dave@contoso.com/d.jpg"
	v1, etag1 := st.putETag(key, graphtest.JPEG(400, 300), "", "")
	if _, err := st.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	// The deletion (a delete marker) came after the upload; the upload's event comes later
	// still, and must not write the photo.
	r := st.process(st.s3EventOf(key, v1, etag1))
	wantSuperseded(t, r)
	if _, ok := st.graph.Photo(tenantID, "users/dave@contoso.com"); ok || st.graphPuts() != 0 {
		t.Errorf("a deleted upload reached Graph (%d PUTs)", st.graphPuts())
	}
	if tags := st.versionTags(key, v1); tags[TagStatus] != "skipped" || tags[TagReason] != "superseded" {
		t.Errorf("v1 tags %v, want skipped/superseded on the version that is still there", tags)
	}
	// A version removed for good (DeleteObject with its id) is gone: nothing to skip or tag.
	if _, err := st.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key), VersionId: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
	if r := st.process(st.s3EventOf(key, v1, etag1)); r.Outcome.Reason != ReasonSourceNotFound || r.Transient() || r.Tagged {
		t.Errorf("a removed version: %+v tagged %v, want source_not_found", r.Outcome, r.Tagged)
	}
}

// TestUnversionedBucketComparesETags: without versions, the event's ETag tells whether the key
// still holds its object; a replaced one is skipped and the newer object's tags are left alone.
func TestUnversionedBucketComparesETags(t *testing.T) {
	st := newStack(t, stackOptions{unversioned: true})
	key := "photos/users/erin@contoso.com/e.jpg"
	older, newer := graphtest.JPEG(400, 300), graphtest.JPEG(300, 400)
	v, etag1 := st.putETag(key, older, "", "")
	if v != "" {
		t.Fatalf("an unversioned bucket gave version %q", v)
	}
	_, etag2 := st.putETag(key, newer, "", "dept=hr")
	before := st.counts()
	r := st.process(st.s3EventOf(key, "", etag1))
	wantSuperseded(t, r)
	if r.Tagged || st.graphPuts() != 0 {
		t.Errorf("tagged %v, %d Graph PUTs: the replaced object's event must touch neither", r.Tagged, st.graphPuts())
	}
	if got := st.counts(); got != [3]int64{before[0] + 1, before[1], before[2]} {
		t.Errorf("a replaced object cost %v S3 requests (get, get tags, put tags), want the get alone", diff(got, before))
	}
	if tags := st.tags(key); len(tags) != 1 || tags["dept"] != "hr" {
		t.Errorf("the current object's tags %v, want its own only", tags)
	}
	if r := st.process(st.s3EventOf(key, "", etag2)); r.Outcome.Status != photo.StatusSynced || !st.holds("erin@contoso.com", newer) {
		t.Errorf("the current object: %+v", r.Outcome)
	}
	// Events without an ETag (a Batch Operations task) work on whatever is current.
	if r := st.process(st.s3EventOf(key, "", "")); r.Outcome.Reason != SkipAlreadySynced {
		t.Errorf("no ETag: %+v skipped %q, want the current object (already synced)", r.Outcome, r.Outcome.Reason)
	}
}

func diff(a, b [3]int64) [3]int64 {
	return [3]int64{a[0] - b[0], a[1] - b[1], a[2] - b[2]}
}

// lastLine is the handler's last JSON log line.
func (st *stack) lastLine(t *testing.T) map[string]any {
	t.Helper()
	lines := st.logs.lines(t)
	if len(lines) == 0 {
		t.Fatal("no log line")
	}
	return lines[len(lines)-1]
}

// TestS3RequestsPerObject: what each kind of object costs in S3 requests, counted at the S3
// interface. A new object without tags costs the GetObject that reads it and the tag write;
// tags of its own add one GetObjectTagging (to keep them, and to find a synced version); a
// redelivered synced version costs those two reads and nothing of its body.
func TestS3RequestsPerObject(t *testing.T) {
	st := newStack(t, stackOptions{})
	src := graphtest.JPEG(320, 320)
	for _, tc := range []struct {
		name, key, tagging string
		again              bool     // deliver a second time, after it was synced
		want               [3]int64 // get, get tags, put tags
		bodyRead           bool
	}{
		{name: "new, no tags", key: "photos/users/alice@contoso.com/a.jpg", want: [3]int64{1, 0, 1}, bodyRead: true},
		{name: "new, with the owner's tags", key: "photos/users/bob@contoso.com/b.jpg", tagging: "dept=hr", want: [3]int64{1, 1, 1}, bodyRead: true},
		{name: "synced already", key: "photos/users/carol@contoso.com/c.jpg", again: true, want: [3]int64{1, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version, etag := st.putETag(tc.key, src, "", tc.tagging)
			if tc.again {
				if r := st.process(st.s3EventOf(tc.key, version, etag)); r.Outcome.Status != photo.StatusSynced {
					t.Fatalf("first delivery: %+v", r.Outcome)
				}
			}
			before, read := st.counts(), st.calls.bodyBytes.Load()
			r := st.process(st.s3EventOf(tc.key, version, etag))
			if got := diff(st.counts(), before); got != tc.want {
				t.Errorf("%v S3 requests (get, get tags, put tags), want %v", got, tc.want)
			}
			if n := st.calls.bodyBytes.Load() - read; (n == int64(len(src))) != tc.bodyRead || (!tc.bodyRead && n != 0) {
				t.Errorf("%d bytes of the body read; want all of it: %v", n, tc.bodyRead)
			}
			if tc.again && r.Outcome.Reason != SkipAlreadySynced {
				t.Errorf("redelivery: %+v, want already_synced", r.Outcome)
			}
			if tags := st.versionTags(tc.key, version); tags[TagStatus] != "synced" || (tc.tagging != "" && tags["dept"] != "hr") {
				t.Errorf("tags %v", tags)
			}
		})
	}
}
