package onupload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/imagetest"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/photostate"
	"github.com/graphphoto/graphphoto/internal/s3test"
	"github.com/graphphoto/graphphoto/internal/secrets"
	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
)

const (
	tenantID    = "7a1b2c3d-0000-4000-8000-00000000c0de"
	clientID    = "11111111-2222-4333-8444-555555555555"
	appSecret   = "onupload-test-client-secret-value"
	secretName  = "graphphoto/onupload"
	keyPrefix   = "photos/"
	sourceLimit = 20 << 20
)

// users are the directory of every test; the events/ samples name some of them.
var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy"}

// The versitygw server is shared by the package's tests (each test uses its own bucket) and
// started on first use: a test that needs it fails, never skips, when the binary is missing.
var shared struct {
	once sync.Once
	srv  *s3test.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Close()
	}
	os.Exit(code)
}

func s3Server(t testing.TB) *s3test.Server {
	t.Helper()
	shared.once.Do(func() {
		shared.srv, shared.err = s3test.Start(context.Background(), s3test.Options{Versioning: true})
	})
	if shared.err != nil {
		t.Fatalf("the S3 tests need the real versitygw: %v", shared.err)
	}
	return shared.srv
}

var bucketSeq atomic.Int64

// countingS3 passes calls to the real client and counts them, and the bytes of bodies read.
type countingS3 struct {
	S3
	gets, getTags, putTags, bodyBytes atomic.Int64
}

func (c *countingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, f ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	out, err := c.S3.GetObject(ctx, in, f...)
	if err == nil {
		out.Body = countedBody{out.Body, &c.bodyBytes}
	}
	return out, err
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
func (c *countingS3) GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, f ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	c.getTags.Add(1)
	return c.S3.GetObjectTagging(ctx, in, f...)
}
func (c *countingS3) PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, f ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error) {
	c.putTags.Add(1)
	return c.S3.PutObjectTagging(ctx, in, f...)
}

// stack is one test's world: a bucket on the real versitygw, a Graph emulator, a Secrets
// Manager emulator read through the real SDK, and the handler wired as main wires it.
type stack struct {
	t       *testing.T
	s3      *s3test.Server
	client  *s3.Client
	calls   *countingS3
	bucket  string
	graph   *graphtest.Server
	secrets *secretstest.Server
	handler *Handler
	logs    *syncBuffer
	metrics *syncBuffer
}

type stackOptions struct {
	secret           string // the client secret stored in Secrets Manager; default the right one
	maxSourceBytes   int
	unversioned      bool     // leave the bucket's versioning off
	metadataPrefixes []string // TARGET_METADATA_PREFIXES
	skipUnchanged    bool     // SKIP_UNCHANGED, with a state bucket of the test's own
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	srv := s3Server(t)
	st := &stack{t: t, s3: srv, client: srv.Client(), bucket: fmt.Sprintf("onupload-%d-%d", os.Getpid(), bucketSeq.Add(1))}
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, st.bucket); err != nil {
		t.Fatal(err)
	}
	if !o.unversioned {
		if err := srv.EnableVersioning(ctx, st.bucket); err != nil {
			t.Fatal(err)
		}
	}
	var dir []graphtest.User
	for i, u := range users {
		dir = append(dir, graphtest.User{ID: fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i+1), UPN: u + "@contoso.com"})
	}
	st.graph = graphtest.New(graphtest.Options{Tenants: []graphtest.Tenant{{
		ID:    tenantID,
		Apps:  []graphtest.App{{ClientID: clientID, Secrets: []string{appSecret}}},
		Users: dir,
	}}})
	t.Cleanup(st.graph.Close)

	st.secrets = secretstest.New()
	t.Cleanup(st.secrets.Close)
	secret := o.secret
	if secret == "" {
		secret = appSecret
	}
	value, _ := json.Marshal(map[string]string{"tenantId": tenantID, "clientId": clientID, "clientSecret": secret})
	if _, err := st.secrets.Put(secretName, string(value)); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(st.secrets.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDONUPLOADTEST", "onupload/test/key", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		}),
	})
	st.logs, st.metrics = &syncBuffer{}, &syncBuffer{}
	logger := obs.NewLogger(st.logs, slog.LevelDebug)
	gc, err := graph.NewClient(secrets.NewSource(sm, secretName, secrets.WithLogger(logger)), graph.Options{
		Endpoint: st.graph.GraphURL(), Authority: st.graph.AuthorityURL(), HTTPClient: st.graph.Client(), Logger: logger,
		MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	limit := o.maxSourceBytes
	if limit == 0 {
		limit = sourceLimit
	}
	p, err := photo.New(imageproc.Normalise, gc, imageproc.Options{}, limit)
	if err != nil {
		t.Fatal(err)
	}
	if o.skipUnchanged {
		state := st.bucket + "-state"
		if err := srv.CreateBucket(ctx, state); err != nil {
			t.Fatal(err)
		}
		records, err := photostate.New(st.client, gc, photostate.Options{Bucket: state})
		if err != nil {
			t.Fatal(err)
		}
		p.SkipUnchanged(records)
	}
	metrics, err := obs.NewMetrics(st.metrics, "GraphPhoto", nil, obs.Dimension{Name: "FunctionName", Value: "onupload-test"})
	if err != nil {
		t.Fatal(err)
	}
	st.calls = &countingS3{S3: st.client}
	st.handler, err = New(st.calls, p, Options{KeyPrefix: keyPrefix, MetadataPrefixes: o.metadataPrefixes, Logger: logger, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("handler output:\n%s%s", st.logs, st.metrics)
		}
	})
	return st
}

// put uploads an object with optional target metadata and tags ("k=v&k2=v2"); it returns the
// version id.
func (st *stack) put(key string, body []byte, target, tagging string) string {
	st.t.Helper()
	version, _ := st.putETag(key, body, target, tagging)
	return version
}

// putETag is put, also returning the new object's ETag.
func (st *stack) putETag(key string, body []byte, target, tagging string) (string, string) {
	st.t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	if target != "" {
		in.Metadata = map[string]string{"graph-target": target}
	}
	if tagging != "" {
		in.Tagging = aws.String(tagging)
	}
	out, err := st.client.PutObject(context.Background(), in)
	if err != nil {
		st.t.Fatalf("put %s: %v", key, err)
	}
	return aws.ToString(out.VersionId), aws.ToString(out.ETag)
}

// versionTags reads one version's tags.
func (st *stack) versionTags(key, version string) map[string]string {
	st.t.Helper()
	out, err := st.client.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(st.bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		st.t.Fatalf("tags of %s version %s: %v", key, version, err)
	}
	m := map[string]string{}
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

func (st *stack) tags(key string) map[string]string {
	st.t.Helper()
	out, err := st.client.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(st.bucket), Key: aws.String(key)})
	if err != nil {
		st.t.Fatalf("tags of %s: %v", key, err)
	}
	m := map[string]string{}
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// invoke runs the handler as Lambda would, with a request id and a deadline.
func (st *stack) invoke(payload []byte) (any, error) {
	st.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-" + st.t.Name()})
	return st.handler.Handle(ctx, payload)
}

// graphPuts counts the photo writes Graph received for a user.
func (st *stack) graphPuts() int {
	n := 0
	for _, e := range st.graph.Requests() {
		if e.Kind == "graph" && (e.Method == "PUT" || e.Method == "PATCH") && strings.HasSuffix(e.Path, "/photo/$value") {
			n++
		}
	}
	return n
}

// s3Event is an S3 notification for keys of the stack's bucket, keys URL-encoded as S3 does.
func (st *stack) s3Event(keys ...string) []byte {
	var recs []string
	for _, k := range keys {
		recs = append(recs, fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-05-04T09:15:02.318Z",`+
			`"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":1}}}`,
			st.bucket, st.bucket, encodeKey(k)))
	}
	return []byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)
}

// s3EventOf is an S3 notification for one object as S3 sends it: the version (on a versioned
// bucket) and the ETag (bare, without quotes) of the object the event is about.
func (st *stack) s3EventOf(key, version, etag string) []byte {
	obj := fmt.Sprintf(`"key":%q,"size":1,"eTag":%q`, encodeKey(key), strings.Trim(etag, `"`))
	if version != "" {
		obj += fmt.Sprintf(`,"versionId":%q`, version)
	}
	return []byte(fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-05-04T09:15:02.318Z",`+
		`"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{%s}}}]}`,
		st.bucket, st.bucket, obj))
}

// encodeKey encodes like S3 events: form encoding, with "/" kept.
func encodeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

// corpus reads a test image (internal/imagetest: the repository's testdata/images, or a file
// generated from them).
func corpus(t testing.TB, name string) []byte {
	t.Helper()
	return imagetest.Read(t, name)
}
