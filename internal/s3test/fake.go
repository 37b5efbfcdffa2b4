package s3test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Fake is an S3 in memory for table tests of code that calls a few S3 methods through a small
// interface (the S3 path's GetObject, GetObjectTagging and PutObjectTagging): versioned objects
// with metadata and tags, answered as S3 answers them (the current version's id, length, ETag
// and x-amz-tagging-count with GetObject; 404 with x-amz-delete-marker when the current version
// is a delete marker), and failures injected per operation, shaped as the SDK returns them, so the
// caller's error classification sees what it sees in production. The real server (Start) stays
// the reference for S3's behaviour; the Fake is for what a real server cannot be made to do on
// demand (throttle, fail, drop a connection mid-body). It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	objects map[string][]*fakeVersion // bucket/key → versions, oldest first
	faults  []*Fault
	calls   []string
	seq     int
}

type fakeVersion struct {
	id       string
	marker   bool // a delete marker
	body     []byte
	etag     string
	metadata map[string]string
	tags     []types.Tag
}

// Fault makes calls fail. Op is the method (GetObject, GetObjectTagging, PutObjectTagging, or
// "GetObject.Body" for the body of a GetObject that succeeded, which then fails after Offset
// bytes); Key, when set, limits it to one key. Err is what the call returns (APIError or
// NetworkError make the SDK's shapes); Times bounds how often it fires (0: always).
type Fault struct {
	Op     string
	Key    string
	Err    error
	Offset int
	Times  int
	used   int
}

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{objects: map[string][]*fakeVersion{}} }

// Put stores a new version of bucket/key, as PutObject on a versioned bucket does, and returns
// its version id and quoted ETag. tags are the object's own tags.
func (f *Fake) Put(bucket, key string, body []byte, metadata map[string]string, tags map[string]string) (version, etag string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	sum := md5.Sum(body)
	v := &fakeVersion{id: fmt.Sprintf("v%04d", f.seq), body: append([]byte(nil), body...), etag: `"` + hex.EncodeToString(sum[:]) + `"`, metadata: metadata}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v.tags = append(v.tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	f.objects[bucket+"/"+key] = append(f.objects[bucket+"/"+key], v)
	return v.id, v.etag
}

// Delete puts a delete marker on bucket/key, as DeleteObject without a version does on a
// versioned bucket.
func (f *Fake) Delete(bucket, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.objects[bucket+"/"+key] = append(f.objects[bucket+"/"+key], &fakeVersion{id: fmt.Sprintf("v%04d", f.seq), marker: true})
}

// Tags returns a version's tags ("" for the current one) as a map; nil when there is no such
// version.
func (f *Fake) Tags(bucket, key, version string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.find(bucket, key, version)
	if v == nil || v.marker {
		return nil
	}
	m := map[string]string{}
	for _, t := range v.tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// Fail adds a fault; faults are tried in the order added.
func (f *Fake) Fail(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault)
}

// Calls returns the methods called so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// GetObject answers as S3 does: the named version, or the current one; 404 NoSuchKey (with
// x-amz-delete-marker when the current version is one), 404 NoSuchVersion for an unknown version.
func (f *Fake) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bucket, key, version := aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToString(in.VersionId)
	if err := f.call(ctx, "GetObject", key); err != nil {
		return nil, err
	}
	v := f.find(bucket, key, version)
	switch {
	case v == nil && version != "":
		return nil, APIError("GetObject", http.StatusNotFound, "NoSuchVersion", nil)
	case v == nil:
		return nil, APIError("GetObject", http.StatusNotFound, "NoSuchKey", nil)
	case v.marker:
		return nil, APIError("GetObject", http.StatusNotFound, "NoSuchKey", http.Header{"X-Amz-Delete-Marker": {"true"}})
	}
	if in.IfMatch != nil && aws.ToString(in.IfMatch) != v.etag {
		return nil, APIError("GetObject", http.StatusPreconditionFailed, "PreconditionFailed", nil)
	}
	out := &s3.GetObjectOutput{
		Body: io.NopCloser(bytes.NewReader(v.body)), ContentLength: aws.Int64(int64(len(v.body))),
		ETag: aws.String(v.etag), VersionId: aws.String(v.id), Metadata: v.metadata,
	}
	if len(v.tags) > 0 {
		out.TagCount = aws.Int32(int32(len(v.tags)))
	}
	for _, ft := range f.faults {
		if ft.Op == "GetObject.Body" && (ft.Key == "" || ft.Key == key) && (ft.Times == 0 || ft.used < ft.Times) {
			ft.used++
			out.Body = io.NopCloser(io.MultiReader(bytes.NewReader(v.body[:min(ft.Offset, len(v.body))]), failingReader{ft.Err}))
			break
		}
	}
	return out, nil
}

// GetObjectTagging returns a version's tags (the current one's without a version).
func (f *Fake) GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, _ ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key, version := aws.ToString(in.Key), aws.ToString(in.VersionId)
	if err := f.call(ctx, "GetObjectTagging", key); err != nil {
		return nil, err
	}
	v := f.find(aws.ToString(in.Bucket), key, version)
	if v == nil || v.marker {
		return nil, APIError("GetObjectTagging", http.StatusNotFound, map[bool]string{true: "NoSuchVersion", false: "NoSuchKey"}[version != ""], nil)
	}
	return &s3.GetObjectTaggingOutput{TagSet: append([]types.Tag(nil), v.tags...), VersionId: aws.String(v.id)}, nil
}

// PutObjectTagging replaces a version's tags, at most ten, as S3 does.
func (f *Fake) PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, _ ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key, version := aws.ToString(in.Key), aws.ToString(in.VersionId)
	if err := f.call(ctx, "PutObjectTagging", key); err != nil {
		return nil, err
	}
	v := f.find(aws.ToString(in.Bucket), key, version)
	if v == nil || v.marker {
		return nil, APIError("PutObjectTagging", http.StatusNotFound, "NoSuchKey", nil)
	}
	if in.Tagging == nil || len(in.Tagging.TagSet) > 10 {
		return nil, APIError("PutObjectTagging", http.StatusBadRequest, "BadRequest", nil)
	}
	v.tags = append([]types.Tag(nil), in.Tagging.TagSet...)
	return &s3.PutObjectTaggingOutput{VersionId: aws.String(v.id)}, nil
}

// call records a call and returns the first fault that fires for it, or ctx's error.
func (f *Fake) call(ctx context.Context, op, key string) error {
	f.calls = append(f.calls, op)
	if err := ctx.Err(); err != nil {
		return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: err}
	}
	for _, ft := range f.faults {
		if ft.Op == op && (ft.Key == "" || ft.Key == key) && (ft.Times == 0 || ft.used < ft.Times) {
			ft.used++
			return ft.Err
		}
	}
	return nil
}

func (f *Fake) find(bucket, key, version string) *fakeVersion {
	vs := f.objects[bucket+"/"+key]
	if version == "" {
		if len(vs) == 0 {
			return nil
		}
		return vs[len(vs)-1]
	}
	for _, v := range vs {
		if v.id == version {
			return v
		}
	}
	return nil
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// APIError is an S3 error answer as the SDK returns it from op: an operation error around an
// HTTP response error with the status and headers, around S3's error code.
func APIError(op string, status int, code string, header http.Header) error {
	if header == nil {
		header = http.Header{}
	}
	resp := &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status), Header: header,
		Request: &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "https", Host: "s3.amazonaws.com"}}}
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp},
			Err: &smithy.GenericAPIError{Code: code, Message: http.StatusText(status)}},
		RequestID: "FAKE" + strconv.Itoa(status),
	}}
}

// NetworkError is a call that got no answer, as the SDK returns it from op after its retries: a
// connection refused or reset.
func NetworkError(op string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: &smithyhttp.RequestSendError{
		Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}}
}
