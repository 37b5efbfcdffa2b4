package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

const targetMetaKey = "graph-target"

func TestMetadataHeadAndTagging(t *testing.T) {
	srv := MustStart(t, Options{})
	ctx := context.Background()
	client := srv.Client()
	const bucket = "photos"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}

	body := []byte("not really a jpeg")
	key := "uploads/users/alice@contoso.com/portrait 1.jpg"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("image/jpeg"),
		Metadata:    map[string]string{targetMetaKey: "users/alice@contoso.com"},
	}); err != nil {
		t.Fatalf("put object: %v", err)
	}

	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head object: %v", err)
	}
	if got := head.Metadata[targetMetaKey]; got != "users/alice@contoso.com" {
		t.Errorf("metadata %s = %q, want users/alice@contoso.com (all: %v)", targetMetaKey, got, head.Metadata)
	}
	if got := aws.ToInt64(head.ContentLength); got != int64(len(body)) {
		t.Errorf("content length = %d, want %d", got, len(body))
	}
	if got := aws.ToString(head.ContentType); got != "image/jpeg" {
		t.Errorf("content type = %q, want image/jpeg", got)
	}

	// The tag set replaces the previous one, as on S3; a caller merges by reading first.
	for _, set := range [][]types.Tag{
		{{Key: aws.String("owner"), Value: aws.String("hr")}},
		{{Key: aws.String("owner"), Value: aws.String("hr")}, {Key: aws.String("graph-photo-status"), Value: aws.String("synced")}},
	} {
		if _, err := client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Tagging: &types.Tagging{TagSet: set},
		}); err != nil {
			t.Fatalf("put tagging: %v", err)
		}
	}
	tags, err := client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get tagging: %v", err)
	}
	got := map[string]string{}
	for _, tag := range tags.TagSet {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if len(got) != 2 || got["owner"] != "hr" || got["graph-photo-status"] != "synced" {
		t.Errorf("tags = %v, want owner=hr and graph-photo-status=synced", got)
	}

	// S3 allows 10 tags on an object; versitygw refuses the 11th like S3 does.
	var eleven []types.Tag
	for i := range 11 {
		eleven = append(eleven, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}
	_, err = client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Tagging: &types.Tagging{TagSet: eleven},
	})
	if code := apiErrorCode(err); code != "BadRequest" {
		t.Errorf("11 tags: error code %q (%v), want BadRequest", code, err)
	}

	// A tag value with characters outside S3's tag alphabet is refused.
	_, err = client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("reason"), Value: aws.String("bad;value")}}},
	})
	if code := apiErrorCode(err); code != "InvalidTag" {
		t.Errorf("tag value with ';': error code %q (%v), want InvalidTag", code, err)
	}

	_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("missing.jpg")})
	var notFound *types.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("head of a missing object: %v, want NotFound", err)
	}
}

func TestPresignedPutSignsTargetHeader(t *testing.T) {
	srv := MustStart(t, Options{})
	ctx := context.Background()
	const bucket = "uploads"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	presigner := s3.NewPresignClient(srv.Client())
	key := "incoming/0001.heic"
	req, err := presigner.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket:   aws.String(bucket),
		Key:      aws.String(key),
		Metadata: map[string]string{targetMetaKey: "users/bob@contoso.com"},
	}, s3.WithPresignExpires(15*time.Minute))
	if err != nil {
		t.Fatalf("presign: %v", err)
	}
	if !strings.Contains(req.URL, "X-Amz-SignedHeaders=") || !strings.Contains(req.URL, "x-amz-meta-graph-target") {
		t.Fatalf("presigned URL does not sign the target header: %s", req.URL)
	}
	if got := req.SignedHeader.Get("X-Amz-Meta-Graph-Target"); got != "users/bob@contoso.com" {
		t.Fatalf("signed header value = %q", got)
	}

	put := func(target string, body string) (int, string) {
		t.Helper()
		r, err := http.NewRequestWithContext(ctx, req.Method, req.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for name, values := range req.SignedHeader {
			if strings.EqualFold(name, "Host") {
				continue
			}
			for _, v := range values {
				r.Header.Add(name, v)
			}
		}
		if target == "" {
			r.Header.Del("X-Amz-Meta-Graph-Target")
		} else {
			r.Header.Set("X-Amz-Meta-Graph-Target", target)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("presigned put: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	tests := []struct {
		name     string
		target   string
		wantCode int
		wantErr  string
	}{
		{"changed target", "users/mallory@contoso.com", http.StatusForbidden, "SignatureDoesNotMatch"},
		{"target header dropped", "", http.StatusForbidden, "SignatureDoesNotMatch"},
		{"signed target", "users/bob@contoso.com", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := put(tc.target, "image bytes from "+tc.name)
			if code != tc.wantCode || !strings.Contains(body, tc.wantErr) {
				t.Fatalf("status %d body %q, want %d with %q", code, body, tc.wantCode, tc.wantErr)
			}
		})
	}

	head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head presigned upload: %v", err)
	}
	if got := head.Metadata[targetMetaKey]; got != "users/bob@contoso.com" {
		t.Errorf("uploaded target = %q, want users/bob@contoso.com", got)
	}
	if got := aws.ToInt64(head.ContentLength); got != int64(len("image bytes from signed target")) {
		t.Errorf("uploaded %d bytes: only the accepted upload must have landed", got)
	}
}

func TestVersioningGivesEachPutAVersion(t *testing.T) {
	srv := MustStart(t, Options{Versioning: true})
	ctx := context.Background()
	client := srv.Client()
	const bucket = "versioned"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnableVersioning(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, body := range []string{"first", "second"} {
		out, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("a.jpg"), Body: strings.NewReader(body),
		})
		if err != nil {
			t.Fatalf("put: %v", err)
		}
		ids = append(ids, aws.ToString(out.VersionId))
	}
	if ids[0] == "" || ids[0] == ids[1] {
		t.Fatalf("version ids %q: want two distinct ids", ids)
	}
	// Tags belong to a version: tagging the first leaves the second untagged.
	if _, err := client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String("a.jpg"), VersionId: aws.String(ids[0]),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("graph-photo-status"), Value: aws.String("synced")}}},
	}); err != nil {
		t.Fatalf("tag first version: %v", err)
	}
	for i, want := range []int{1, 0} {
		tags, err := client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{
			Bucket: aws.String(bucket), Key: aws.String("a.jpg"), VersionId: aws.String(ids[i]),
		})
		if err != nil {
			t.Fatalf("get tags of version %d: %v", i, err)
		}
		if len(tags.TagSet) != want {
			t.Errorf("version %d has %d tags, want %d", i, len(tags.TagSet), want)
		}
	}
}

func TestCloseStopsTheServer(t *testing.T) {
	srv, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.Logs(), "VersityGW") {
		t.Errorf("banner not captured; logs: %q", srv.Logs())
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(srv.Endpoint + "/"); err == nil {
		t.Fatalf("server still answers on %s after Close", srv.Endpoint)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStartReportsAMissingBinary(t *testing.T) {
	_, err := Start(context.Background(), Options{Binary: t.TempDir() + "/versitygw"})
	if err == nil {
		t.Fatal("start with a missing binary succeeded")
	}
}

func TestStartReportsAServerThatCannotStart(t *testing.T) {
	// Nothing listens on the webhook URL, so versitygw refuses to start (its start-up test event
	// is refused); the error must carry its output.
	_, err := Start(context.Background(), Options{EventWebhookURL: "http://127.0.0.1:1/events"})
	if err == nil {
		t.Fatal("start with an unreachable webhook succeeded")
	}
	if !strings.Contains(err.Error(), "webhook") {
		t.Errorf("error does not carry versitygw's reason: %v", err)
	}
}

func apiErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// TestConditionalWrites: versitygw enforces If-None-Match: * and If-Match on PutObject as S3
// does (412 PreconditionFailed; 404 NoSuchKey for If-Match on a missing key), which the photo
// records rely on (internal/photostate). It evaluates them under a per-key lock, so of two
// writers with the same condition exactly one succeeds.
func TestConditionalWrites(t *testing.T) {
	srv := MustStart(t, Options{})
	ctx := context.Background()
	client := srv.Client()
	const bucket = "state"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	put := func(key, body string, ifMatch, ifNoneMatch *string) (string, int) {
		out, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: strings.NewReader(body), IfMatch: ifMatch, IfNoneMatch: ifNoneMatch})
		if err != nil {
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) {
				t.Fatalf("put %s: %v", key, err)
			}
			return "", re.HTTPStatusCode()
		}
		return aws.ToString(out.ETag), http.StatusOK
	}
	first, status := put("r", "one", nil, aws.String("*"))
	if status != http.StatusOK || first == "" {
		t.Fatalf("create with If-None-Match *: %d", status)
	}
	if _, status := put("r", "two", nil, aws.String("*")); status != http.StatusPreconditionFailed {
		t.Errorf("If-None-Match * on an existing key: %d, want 412", status)
	}
	if _, status := put("r", "two", aws.String(`"0123456789abcdef0123456789abcdef"`), nil); status != http.StatusPreconditionFailed {
		t.Errorf("If-Match another ETag: %d, want 412", status)
	}
	second, status := put("r", "two", aws.String(first), nil)
	if status != http.StatusOK || second == first {
		t.Fatalf("If-Match the current ETag: %d, ETag %s after %s", status, second, first)
	}
	if _, status := put("r", "three", aws.String(first), nil); status != http.StatusPreconditionFailed {
		t.Errorf("If-Match a replaced ETag: %d, want 412", status)
	}
	if _, status := put("missing", "x", aws.String(first), nil); status != http.StatusNotFound {
		t.Errorf("If-Match on a missing key: %d, want 404", status)
	}
	// Racing writers with the same condition: one wins.
	wins := make(chan int, 8)
	for i := range 8 {
		go func() {
			_, status := put("r", fmt.Sprintf("racer %d", i), aws.String(second), nil)
			wins <- status
		}()
	}
	ok := 0
	for range 8 {
		if <-wins == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d of 8 writers If-Match the same ETag succeeded, want 1", ok)
	}
}

// TestAccessLogCountsRequests: with AccessLog, every request the server answered is counted by
// bucket and operation, failed ones included.
func TestAccessLogCountsRequests(t *testing.T) {
	srv := MustStart(t, Options{AccessLog: true})
	ctx := context.Background()
	client := srv.Client()
	for _, b := range []string{"a", "b"} {
		if err := srv.CreateBucket(ctx, b+"-bucket"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("a-bucket"), Key: aws.String("k 1"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k 1", "missing"} {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("a-bucket"), Key: aws.String(k)})
		if err == nil {
			out.Body.Close()
		}
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b-bucket"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		reqs, err := srv.Requests()
		if err != nil {
			t.Fatal(err)
		}
		count = map[string]int{}
		for _, r := range reqs {
			count[r.Bucket+" "+r.Operation]++
		}
		if count["b-bucket s3_PutObject"] == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the log is written after the answer
	}
	want := map[string]int{"a-bucket s3_CreateBucket": 1, "b-bucket s3_CreateBucket": 1, "a-bucket s3_PutObject": 1, "a-bucket s3_GetObject": 2, "b-bucket s3_PutObject": 1}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d, want %d (all: %v)", k, count[k], n, count)
		}
	}
	if _, err := MustStart(t, Options{}).Requests(); err == nil {
		t.Error("Requests without an access log succeeded")
	}
}
