package s3test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// objectAPI is what the Fake and the SDK's client share, for running one scenario on both.
type objectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
}

// TestFakeAnswersAsTheRealServer runs one scenario against the Fake and against versitygw and
// compares what the S3 path reads: GetObject's version, length, ETag, tag count and metadata;
// the delete marker's 404; a version under it; NoSuchVersion; a tag write on a version.
func TestFakeAnswersAsTheRealServer(t *testing.T) {
	ctx := context.Background()
	srv := MustStart(t, Options{Versioning: true})
	if err := srv.CreateBucket(ctx, "photos"); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnableVersioning(ctx, "photos"); err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	realPut := func(key string, body []byte, meta map[string]string, tagging string) (string, string) {
		in := &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(key), Body: bytes.NewReader(body), Metadata: meta}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		out, err := client.PutObject(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId), aws.ToString(out.ETag)
	}
	realDelete := func(key string) {
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	fake := NewFake()
	for _, w := range []struct {
		name   string
		api    objectAPI
		put    func(key string, body []byte, meta map[string]string, tagging string) (string, string)
		delete func(key string)
	}{
		{"versitygw", client, realPut, realDelete},
		{"fake", fake, func(key string, body []byte, meta map[string]string, tagging string) (string, string) {
			tags := map[string]string{}
			if tagging != "" {
				tags["dept"] = "hr"
			}
			return fake.Put("photos", key, body, meta, tags)
		}, func(key string) { fake.Delete("photos", key) }},
	} {
		t.Run(w.name, func(t *testing.T) {
			v1, etag := w.put("k/a.jpg", []byte("four"), map[string]string{"graph-target": "users/alice@contoso.com"}, "dept=hr")
			v2, _ := w.put("k/b.jpg", []byte("fourty"), nil, "")
			out, err := w.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("k/a.jpg")})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if aws.ToString(out.VersionId) != v1 || aws.ToString(out.ETag) != etag || aws.ToInt64(out.ContentLength) != 4 || aws.ToInt32(out.TagCount) != 1 ||
				string(body) != "four" || out.Metadata["graph-target"] != "users/alice@contoso.com" {
				t.Errorf("GetObject: version %q etag %q length %d tags %d body %q metadata %v", aws.ToString(out.VersionId), aws.ToString(out.ETag),
					aws.ToInt64(out.ContentLength), aws.ToInt32(out.TagCount), body, out.Metadata)
			}
			out, err = w.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("k/b.jpg")})
			if err != nil || aws.ToString(out.VersionId) != v2 || out.TagCount != nil && *out.TagCount != 0 {
				t.Errorf("GetObject of an object without tags: %v %+v", err, out)
			}
			w.delete("k/a.jpg")
			_, err = w.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("k/a.jpg")})
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound || re.Response.Header.Get("x-amz-delete-marker") != "true" {
				t.Errorf("GetObject of a deleted key: %v", err)
			}
			if _, err := w.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("k/a.jpg"), VersionId: aws.String(v1)}); err != nil {
				t.Errorf("the version under the delete marker: %v", err)
			}
			_, err = w.api.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("photos"), Key: aws.String("k/a.jpg"), VersionId: aws.String(v2)})
			var api smithy.APIError
			if !errors.As(err, &api) || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound {
				t.Errorf("tags of a version of another key: %v", err)
			}
			if _, err := w.api.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("photos"), Key: aws.String("k/a.jpg"), VersionId: aws.String(v1),
				Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("graph-photo-status"), Value: aws.String("skipped")}}}}); err != nil {
				t.Fatal(err)
			}
			tags, err := w.api.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("photos"), Key: aws.String("k/a.jpg"), VersionId: aws.String(v1)})
			if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Value) != "skipped" {
				t.Errorf("tags after the write: %v %+v", err, tags)
			}
		})
	}
}

func TestFakeFaults(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	f.Put("b", "k", []byte("0123456789"), nil, nil)
	f.Put("b", "other", []byte("x"), nil, nil)
	f.Fail(Fault{Op: "GetObject", Key: "k", Err: APIError("GetObject", 503, "SlowDown", nil), Times: 1})
	f.Fail(Fault{Op: "GetObject.Body", Key: "k", Offset: 4, Err: errors.New("reset"), Times: 1})
	get := func(key string) (*s3.GetObjectOutput, error) {
		return f.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String(key)})
	}
	var api smithy.APIError
	if _, err := get("k"); !errors.As(err, &api) || api.ErrorCode() != "SlowDown" {
		t.Errorf("first GetObject: %v, want 503 SlowDown", err)
	}
	if _, err := get("other"); err != nil {
		t.Errorf("a fault for one key fired for another: %v", err)
	}
	out, err := get("k")
	if err != nil {
		t.Fatalf("second GetObject: %v (the fault fires once)", err)
	}
	b, err := io.ReadAll(out.Body)
	if string(b) != "0123" || err == nil || err.Error() != "reset" {
		t.Errorf("body %q, %v; want 4 bytes then the fault", b, err)
	}
	out, _ = get("k")
	if b, err := io.ReadAll(out.Body); string(b) != "0123456789" || err != nil {
		t.Errorf("third body %q, %v", b, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.GetObjectTagging(cancelled, &s3.GetObjectTaggingInput{Bucket: aws.String("b"), Key: aws.String("k")}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled call: %v", err)
	}
	if got := f.Calls(); len(got) != 5 || got[4] != "GetObjectTagging" {
		t.Errorf("calls %v", got)
	}
	var re *smithyhttp.ResponseError
	if err := NetworkError("GetObject"); errors.As(err, &re) {
		t.Errorf("a network error carries an HTTP answer: %v", err)
	}
}
