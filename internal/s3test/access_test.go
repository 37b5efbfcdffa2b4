package s3test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestGetObjectSaysWhatTheS3PathNeeds: one GetObject without a version tells the S3 path
// everything it decides on before reading the body, as S3 does: the current version's id, the
// length, the ETag and the number of tags (x-amz-tagging-count, absent without tags), and, when
// the key's current version is a delete marker, a 404 carrying x-amz-delete-marker. The access
// log counts every request at the server.
func TestGetObjectSaysWhatTheS3PathNeeds(t *testing.T) {
	srv := MustStart(t, Options{Versioning: true, AccessLog: true})
	ctx := context.Background()
	client := srv.Client()
	const bucket = "photos"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnableVersioning(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	put := func(key, tagging string) *s3.PutObjectOutput {
		t.Helper()
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("four"))}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		out, err := client.PutObject(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	plain := put("a/plain.jpg", "")
	tagged := put("a/tagged.jpg", "dept=hr&cost=4711")
	for _, tc := range []struct {
		key  string
		put  *s3.PutObjectOutput
		tags int32
	}{{"a/plain.jpg", plain, 0}, {"a/tagged.jpg", tagged, 2}} {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(tc.key)})
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		if aws.ToString(out.VersionId) != aws.ToString(tc.put.VersionId) || aws.ToString(out.VersionId) == "" ||
			aws.ToInt64(out.ContentLength) != 4 || aws.ToString(out.ETag) != aws.ToString(tc.put.ETag) || aws.ToInt32(out.TagCount) != tc.tags {
			t.Errorf("%s: version %q length %d etag %q tags %d; want %q 4 %q %d", tc.key, aws.ToString(out.VersionId),
				aws.ToInt64(out.ContentLength), aws.ToString(out.ETag), aws.ToInt32(out.TagCount), aws.ToString(tc.put.VersionId), aws.ToString(tc.put.ETag), tc.tags)
		}
	}

	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/plain.jpg")}); err != nil {
		t.Fatal(err)
	}
	_, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/plain.jpg")})
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 404 || re.Response.Header.Get("x-amz-delete-marker") != "true" {
		t.Errorf("GetObject of a deleted key: %v; want 404 with x-amz-delete-marker: true", err)
	}
	// The version itself is still there.
	old, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/plain.jpg"), VersionId: plain.VersionId})
	if err != nil {
		t.Fatalf("the deleted key's version: %v", err)
	}
	b, _ := io.ReadAll(old.Body)
	old.Body.Close()
	if string(b) != "four" {
		t.Errorf("version body %q", b)
	}

	reqs, err := srv.Requests()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range reqs {
		if r.Bucket == bucket && r.Key == "a/plain.jpg" {
			count[r.Operation]++
		}
	}
	if count["s3_PutObject"] != 1 || count["s3_GetObject"] != 3 || count["s3_DeleteObject"] != 1 || len(count) != 3 {
		t.Errorf("access log for a/plain.jpg: %v; want 1 PutObject, 3 GetObject, 1 DeleteObject", count)
	}
	var statuses []int
	for _, r := range reqs {
		if r.Key == "a/plain.jpg" && r.Operation == "s3_GetObject" {
			statuses = append(statuses, r.Status)
		}
	}
	if len(statuses) != 3 || statuses[0] != 200 || statuses[1] != 404 || statuses[2] != 200 {
		t.Errorf("GetObject statuses %v, want 200 404 200", statuses)
	}
}

func TestRequestsNeedsTheAccessLog(t *testing.T) {
	srv := MustStart(t, Options{})
	if _, err := srv.Requests(); err == nil {
		t.Error("Requests without Options.AccessLog gave no error")
	}
}

func TestParseAccessLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Request
		ok   bool
	}{
		{"log starts 2026-12-01 08:51:06.004638286 +0000 UTC m=+0.063054595", Request{}, false},
		{"AKIATEST bucket1 [01/December/2026:08:51:26 +0000] 127.0.0.1 AKIATEST 6C5WA8OIV9SBT4LO s3_GetObject k/a.jpg /bucket1/k/a.jpg 404 NoSuchKey 0 0 0 0 - aws-sdk-go-v2/1.0 -",
			Request{Operation: "s3_GetObject", Bucket: "bucket1", Key: "k/a.jpg", Status: 404}, true},
		{"- b1 [01/December/2026:08:51:09 +0000] 127.0.0.1 - IJM6B96WGH32864G s3_CreateBucket - /b1 400 InvalidBucketName 0 0 0 0 -",
			Request{Operation: "s3_CreateBucket", Bucket: "b1", Status: 400}, true},
		{`79a5 photos [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a5 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /photos?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" -`,
			Request{Operation: "REST.GET.VERSIONING", Bucket: "photos", Status: 200}, true},
	} {
		got, ok := parseAccessLine(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}
