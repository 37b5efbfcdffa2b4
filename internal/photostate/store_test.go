package photostate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/reason"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

const (
	tenantID = "6f1c1e2a-0000-4000-8000-00000000aaaa"
	clientID = "11111111-2222-4333-8444-555555555555"
	secret   = "photostate~test.secret"
	bucket   = "state"
	groupID  = "c3c3c3c3-0000-4000-8000-000000000003"
	options  = "size=648 crop=attention quality=85 max_bytes=4000000"
)

// userID is the object id of the i-th test user; its UPN is p{i}@contoso.com.
func userID(i int) string { return fmt.Sprintf("5ca1e000-0000-4000-8000-%012d", i) }

// env is a real S3 server with a state bucket and the Graph emulator with a Graph client.
type env struct {
	s3    *s3test.Server
	graph *graphtest.Server
	gc    *graph.Client
	clock *clock
	next  int // next unused user
	users int
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newEnv(t testing.TB, users int) *env {
	t.Helper()
	srv := s3test.MustStart(t, s3test.Options{})
	if err := srv.CreateBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	var us []graphtest.User
	for i := range users {
		us = append(us, graphtest.User{ID: userID(i), UPN: fmt.Sprintf("p%d@contoso.com", i),
			Contacts: []graphtest.Contact{{ID: "AAMkContact=", FolderID: "AAMkFolder="}}})
	}
	g := graphtest.New(graphtest.Options{Tenants: []graphtest.Tenant{{
		ID: tenantID, Domains: []string{"contoso.com"},
		Apps:   []graphtest.App{{ClientID: clientID, Secrets: []string{secret}}},
		Users:  us,
		Groups: []graphtest.Group{{ID: groupID, Unified: true}},
	}}})
	t.Cleanup(g.Close)
	gc, err := graph.NewClient(graph.StaticCredentials{TenantID: tenantID, ClientID: clientID, ClientSecret: secret},
		graph.Options{Endpoint: g.GraphURL(), Authority: g.AuthorityURL(), HTTPClient: g.Client(), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &env{s3: srv, graph: g, gc: gc, clock: &clock{t: time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)}, users: users}
}

func (e *env) store(t testing.TB, s S3, g Graph) *Store {
	t.Helper()
	if s == nil {
		s = e.s3.Client()
	}
	if g == nil {
		g = e.gc
	}
	st, err := New(s, g, Options{Bucket: bucket, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// target is a fresh user nobody has written yet.
func (e *env) target(t testing.TB) graph.Target {
	t.Helper()
	if e.next >= e.users {
		t.Fatalf("only %d test users", e.users)
	}
	e.next++
	return mustTarget(t, "users/"+userID(e.next-1))
}

func mustTarget(t testing.TB, s string) graph.Target {
	t.Helper()
	tg, err := graph.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// photo is a distinct JPEG per n, as the normaliser would make.
func photo(n int) []byte { return graphtest.JPEG(64+n, 64) }

// raw reads a target's record as stored.
func (e *env) raw(t testing.TB, st *Store, tg graph.Target) (Record, bool) {
	t.Helper()
	out, err := e.s3.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(st.Key(tg))})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "NoSuchKey" {
			return Record{}, false
		}
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	r, err := DecodeRecord(b)
	if err != nil {
		t.Fatalf("record %s: %v", b, err)
	}
	return r, true
}

// write runs one whole write as the pipeline does: Check, and unless unchanged the PUT and
// Remember.
func (e *env) write(t testing.TB, st *Store, tg graph.Target, jpeg []byte) (Verdict, error, *Write) {
	t.Helper()
	ctx := context.Background()
	w := st.Begin(tg, NewFingerprint(jpeg, options))
	v, err := w.Check(ctx)
	if err != nil || v.Unchanged {
		return v, err, w
	}
	if _, err := e.gc.PutPhoto(ctx, tg, jpeg); err != nil {
		t.Fatalf("put photo: %v", err)
	}
	return v, w.Remember(ctx), w
}

func (e *env) puts() int {
	n := 0
	for _, r := range e.graph.Requests() {
		if r.Kind == "graph" && r.Method == http.MethodPut {
			n++
		}
	}
	return n
}

// TestUnchangedPhotoIsNotWrittenAgain: the whole life of one target's record.
func TestUnchangedPhotoIsNotWrittenAgain(t *testing.T) {
	e := newEnv(t, 4)
	st := e.store(t, nil, nil)
	ctx := context.Background()
	tg := e.target(t)
	a, b := photo(1), photo(2)

	// First write: no record; a marker before the PUT, the written record after it.
	w := st.Begin(tg, NewFingerprint(a, options))
	v, err := w.Check(ctx)
	if err != nil || v.Unchanged || v.Why != WhyNoRecord {
		t.Fatalf("first check: %+v %v", v, err)
	}
	if r, ok := e.raw(t, st, tg); !ok || r.State != stateWriting || r.Photo != NewFingerprint(a, options).Photo {
		t.Fatalf("before the PUT the record is %+v (found %v), want a marker", r, ok)
	}
	if _, err := e.gc.PutPhoto(ctx, tg, a); err != nil {
		t.Fatal(err)
	}
	if err := w.Remember(ctx); err != nil {
		t.Fatalf("remember: %v", err)
	}
	held, _ := e.graph.Photo(tenantID, tg.String())
	r, _ := e.raw(t, st, tg)
	if r.State != stateWritten || r.MediaETag != held.ETag || r.Photo != digest(a) || r.Options != digest([]byte(options)) || r.Target != tg.String() {
		t.Fatalf("record %+v, Graph's ETag %s", r, held.ETag)
	}
	if s := w.Stats(); s.S3Requests != 3 || s.GraphReads != 1 {
		t.Errorf("a first write cost %d S3 requests and %d Graph reads; want 3 and 1", s.S3Requests, s.GraphReads)
	}

	// The same photo again, by another name of the same user: unchanged, one read of each.
	puts := e.puts()
	for _, name := range []string{tg.String(), "users/" + strings.ToUpper(userID(0)), "users/P0@contoso.com"} {
		w = st.Begin(mustTarget(t, name), NewFingerprint(a, options))
		v, err = w.Check(ctx)
		if name == "users/P0@contoso.com" {
			// A UPN is another key: the record is per name (see the package doc).
			if v.Unchanged || v.Why != WhyNoRecord {
				t.Errorf("%s: %+v", name, v)
			}
			continue
		}
		if err != nil || !v.Unchanged || v.MediaETag != held.ETag {
			t.Fatalf("%s: same photo: %+v %v", name, v, err)
		}
		if s := w.Stats(); s.S3Requests != 1 || s.GraphReads != 1 {
			t.Errorf("%s: a skip cost %d S3 requests and %d Graph reads; want 1 and 1", name, s.S3Requests, s.GraphReads)
		}
		if err := w.Remember(ctx); err == nil {
			t.Error("Remember after an unchanged verdict succeeded")
		}
	}
	if e.puts() != puts {
		t.Errorf("%d Graph writes for unchanged photos", e.puts()-puts)
	}

	// Other options: written. The check leaves its marker (as a crash before the PUT would),
	// so another photo right after finds a write in flight.
	for _, c := range []struct {
		fp  Fingerprint
		why string
	}{{NewFingerprint(a, options+" v2"), WhyOtherPhoto}, {NewFingerprint(b, options), WhyWriteInFlight}} {
		w := st.Begin(tg, c.fp)
		if v, err := w.Check(ctx); err != nil || v.Unchanged || v.Why != c.why {
			t.Errorf("%+v: %+v %v", c.fp, v, err)
		}
	}
	// A marker younger than the lease makes the next writer write without recording; one older
	// is abandoned.
	if v, err, _ := e.write(t, st, tg, a); v.Unchanged || v.Why != WhyWriteInFlight || !isNotRecorded(err) {
		t.Fatalf("behind a fresh marker: %+v %v", v, err)
	}
	e.clock.Add(DefaultLease)
	if v, err, _ := e.write(t, st, tg, a); v.Unchanged || v.Why != WhyAbandonedWrite || err != nil {
		t.Fatalf("behind an abandoned marker: %+v %v", v, err)
	}
	if v, err, _ := e.write(t, st, tg, a); !v.Unchanged || err != nil {
		t.Fatalf("after recording again: %+v %v", v, err)
	}

	// Changed in Outlook: Graph's version differs, the photo is written again and recorded.
	if _, err := e.graph.SetPhoto(tenantID, tg.String(), photo(9)); err != nil {
		t.Fatal(err)
	}
	if v, err, _ := e.write(t, st, tg, a); v.Unchanged || v.Why != WhyChangedInGraph || err != nil {
		t.Fatalf("after an outside change: %+v %v", v, err)
	}
	if held, _ := e.graph.Photo(tenantID, tg.String()); !bytes.Equal(held.Data, a) {
		t.Fatal("the outside change was not overwritten")
	}
	// Deleted in Graph: written again.
	if _, err := e.gc.DeletePhoto(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if v, err, _ := e.write(t, st, tg, a); v.Unchanged || v.Why != WhyNoPhotoInGraph || err != nil {
		t.Fatalf("after a delete: %+v %v", v, err)
	}
	if v, err, _ := e.write(t, st, tg, a); !v.Unchanged || err != nil {
		t.Fatalf("finally: %+v %v", v, err)
	}
	// Tonight's export has a new photo: written and recorded.
	if v, err, _ := e.write(t, st, tg, b); v.Unchanged || v.Why != WhyOtherPhoto || err != nil {
		t.Fatalf("a new photo: %+v %v", v, err)
	}
	if v, err, _ := e.write(t, st, tg, b); !v.Unchanged || err != nil {
		t.Fatalf("the new photo again: %+v %v", v, err)
	}
}

// TestKeys: one record per photo owner however it is spelt, a distinct one per owner.
func TestKeys(t *testing.T) {
	st, err := New(&s3Fake{}, graphFake{}, Options{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	key := func(s string) string { return st.Key(mustTarget(t, s)) }
	same := [][]string{
		{"users/Alice@Contoso.com", "users/alice@contoso.com", "/v1.0/users/ALICE@contoso.com/photo/$value"},
		{"users/alice@contoso.com/contacts/AAMk=", "users/ALICE@contoso.com/contactfolders/F1/contacts/AAMk="},
		{"groups/" + groupID, "groups/" + strings.ToUpper(groupID)},
	}
	seen := map[string]string{}
	for _, names := range same {
		k := key(names[0])
		if !strings.HasPrefix(k, DefaultPrefix) || !strings.HasSuffix(k, ".json") || len(k) != len(DefaultPrefix)+64+5 {
			t.Errorf("%s: key %q", names[0], k)
		}
		for _, n := range names[1:] {
			if key(n) != k {
				t.Errorf("%s and %s have different records", names[0], n)
			}
		}
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s share a record", names[0], other)
		}
		seen[k] = names[0]
	}
	if key("users/alice@contoso.com/contacts/AAMk=") == key("users/alice@contoso.com/contacts/aamk=") {
		t.Error("contact ids differing in case share a record (Exchange ids are case-sensitive)")
	}
}

func isNotRecorded(err error) bool {
	var nr *NotRecorded
	return errors.As(err, &nr)
}

// TestRecordsThisCodeCannotRead: a corrupt or foreign record is never a reason to skip; it is
// treated as a write in flight until it ages out.
func TestRecordsThisCodeCannotRead(t *testing.T) {
	e := newEnv(t, 8)
	st := e.store(t, nil, nil)
	ctx := context.Background()
	a := photo(1)
	for _, body := range []string{
		"not json",
		`{"format":2,"state":"written","target":"x","photo":"sha256:1","options":"sha256:2","mediaEtag":"\"1\"","writer":"w","at":"2025-03-01T02:00:00Z"}`,
		`{"format":1,"state":"done","target":"x","photo":"sha256:1","options":"sha256:2","writer":"w","at":"2025-03-01T02:00:00Z"}`,
		`{"format":1,"state":"written","target":"x","photo":"sha256:1","options":"sha256:2","writer":"w","at":"2025-03-01T02:00:00Z"}`,
		`{"format":1,"state":"written","target":"x","photo":"sha256:1","options":"sha256:2","mediaEtag":"\"1\"","writer":"w","at":"2025-03-01T02:00:00Z","extra":1}`,
		strings.Repeat(" ", maxRecordBytes+1),
	} {
		tg := e.target(t)
		if _, err := e.s3.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(st.Key(tg)), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		v, err, _ := e.write(t, st, tg, a)
		if v.Unchanged || v.Why != WhyRecordUnreadable || !isNotRecorded(err) {
			t.Errorf("record %.40q: %+v %v", body, v, err)
		}
		if r, ok := e.raw(t, st, tg); !ok || r.State != stateWriting {
			t.Errorf("record %.40q not replaced by a marker: %+v", body, r)
		}
	}
}

// TestStateBucketFailures: when the marker cannot be written the photo is not written either,
// with a reason that says whether to retry.
func TestStateBucketFailures(t *testing.T) {
	e := newEnv(t, 8)
	ctx := context.Background()
	a := photo(1)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	for _, c := range []struct {
		name      string
		client    S3
		bucket    string
		reason    reason.Reason
		transient bool
	}{
		{"no answer", e.s3.Client(func(o *s3.Options) { o.BaseEndpoint = aws.String(deadURL); o.RetryMaxAttempts = 1 }), bucket, ReasonRecordUnavailable, true},
		{"no such bucket", e.s3.Client(), "nowhere", ReasonRecordAccessDenied, false},
		{"refused", e.s3.Client(func(o *s3.Options) { o.Credentials = aws.AnonymousCredentials{} }), bucket, ReasonRecordAccessDenied, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := New(c.client, e.gc, Options{Bucket: c.bucket, Now: e.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			w := st.Begin(e.target(t), NewFingerprint(a, options))
			v, err := w.Check(ctx)
			var se *Error
			if !errors.As(err, &se) || se.Reason() != c.reason || se.Transient() != c.transient || v.Unchanged {
				t.Fatalf("check: %+v %v; want %s (transient %v)", v, err, c.reason, c.transient)
			}
			if err := w.Remember(ctx); !isNotRecorded(err) {
				t.Errorf("remember after a failed marker: %v", err)
			}
		})
	}
	// The record cannot be read: refused, the photo fails; unanswered, it is written without
	// being recorded.
	for _, c := range []struct {
		status    int
		code      string
		wantErr   reason.Reason
		requests  int
		recording bool
	}{{403, "AccessDenied", ReasonRecordAccessDenied, 1, false}, {503, "SlowDown", reason.Reason{}, 2, false}} {
		st := e.store(t, readFails{S3: e.s3.Client(), status: c.status, code: c.code}, nil)
		tg := e.target(t)
		w := st.Begin(tg, NewFingerprint(a, options))
		v, err := w.Check(ctx)
		if got := reasonOf(err); (err == nil) != c.wantErr.IsZero() || (err != nil && got != c.wantErr) || v.Why != WhyRecordUnreadable || w.Stats().S3Requests != c.requests {
			t.Errorf("read answered %d: %+v %v after %d requests", c.status, v, err, w.Stats().S3Requests)
		}
		if err == nil {
			if _, err := e.gc.PutPhoto(ctx, tg, a); err != nil {
				t.Fatal(err)
			}
			if err := w.Remember(ctx); !isNotRecorded(err) {
				t.Errorf("read answered %d: recorded (%v)", c.status, err)
			}
		}
	}

	// Graph unreadable while checking: no proof Graph holds the photo, so it is written.
	st := e.store(t, nil, nil)
	tg := e.target(t)
	if _, err, _ := e.write(t, st, tg, a); err != nil {
		t.Fatal(err)
	}
	e.graph.AddFault(graphtest.Fault{Kind: "graph", Method: http.MethodGet, Status: http.StatusServiceUnavailable, Times: 1})
	if v, err, _ := e.write(t, st, tg, a); v.Unchanged || v.Why != WhyGraphUnreadable || err != nil {
		t.Fatalf("graph unreadable: %+v %v", v, err)
	}
	// Graph unreadable after the write: nothing recorded, the photo stays written.
	w := st.Begin(tg, NewFingerprint(photo(2), options))
	if _, err := w.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.gc.PutPhoto(ctx, tg, photo(2)); err != nil {
		t.Fatal(err)
	}
	e.graph.AddFault(graphtest.Fault{Kind: "graph", Method: http.MethodGet, Status: http.StatusServiceUnavailable, Times: 1})
	if err := w.Remember(ctx); !isNotRecorded(err) {
		t.Fatalf("remember with Graph unreadable: %v", err)
	}
	if r, _ := e.raw(t, st, tg); r.State != stateWriting {
		t.Errorf("record %+v; want the marker left", r)
	}
	// An unresolved target is refused before any request.
	w = st.Begin(mustTarget(t, "me"), NewFingerprint(a, options))
	if _, err := w.Check(ctx); err == nil || w.Stats().S3Requests != 0 {
		t.Errorf("me: %v after %d requests", err, w.Stats().S3Requests)
	}
}

// TestClassify: what each S3 answer means for the record and the photo.
func TestClassify(t *testing.T) {
	answer := func(status int, code string) error {
		return &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code},
		}
	}
	for _, c := range []struct {
		err                      error
		reason                   reason.Reason
		transient, lost, missing bool
	}{
		{answer(412, "PreconditionFailed"), ReasonRecordError, false, true, false},
		{answer(409, "ConditionalRequestConflict"), ReasonRecordError, false, true, false},
		{answer(404, "NoSuchKey"), ReasonRecordError, false, true, true},
		{answer(404, "NoSuchBucket"), ReasonRecordAccessDenied, false, false, false},
		{answer(403, "AccessDenied"), ReasonRecordAccessDenied, false, false, false},
		{answer(503, "SlowDown"), ReasonRecordUnavailable, true, false, false},
		{answer(500, "InternalError"), ReasonRecordUnavailable, true, false, false},
		{answer(400, "InvalidRequest"), ReasonRecordError, false, false, false},
		{fmt.Errorf("dial: %w", errors.New("connection refused")), ReasonRecordUnavailable, true, false, false},
		{context.DeadlineExceeded, ReasonRecordUnavailable, true, false, false},
	} {
		e := classify("PutObject", c.err)
		if e.Reason() != c.reason || e.Transient() != c.transient || e.lost != c.lost || e.missing != c.missing {
			t.Errorf("%v: %s transient %v lost %v missing %v", c.err, e.Reason(), e.Transient(), e.lost, e.missing)
		}
		if !strings.Contains(e.Error(), "photo record: s3 PutObject: "+c.reason.String()) {
			t.Errorf("%v: text %q", c.err, e.Error())
		}
	}
}

func TestNew(t *testing.T) {
	for _, c := range []struct {
		s    S3
		g    Graph
		opts Options
	}{
		{nil, graphFake{}, Options{Bucket: bucket}},
		{&s3Fake{}, nil, Options{Bucket: bucket}},
		{&s3Fake{}, graphFake{}, Options{}},
		{&s3Fake{}, graphFake{}, Options{Bucket: bucket, Lease: -time.Second}},
	} {
		if _, err := New(c.s, c.g, c.opts); err == nil {
			t.Errorf("New(%v, %v, %+v) succeeded", c.s, c.g, c.opts)
		}
	}
}

// DecodeRecord reads JSON from the state bucket; it must refuse, never panic, and read back
// what the store writes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"format":1,"state":"written","target":"users/a","photo":"sha256:1","options":"sha256:2","mediaEtag":"\"1\"","writer":"w","at":"2025-03-01T02:00:00Z"}`))
	f.Add([]byte(`{"format":1,"state":"writing","target":"users/a","photo":"sha256:1","options":"sha256:2","writer":"w","at":"2025-03-01T02:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":1} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		if r.State != stateWritten && r.State != stateWriting {
			t.Fatalf("accepted state %q", r.State)
		}
		b2, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRecord(b2)
		if err != nil || !again.At.Equal(r.At) {
			t.Fatalf("round trip: %+v → %+v %v", r, again, err)
		}
		again.At = r.At
		if again != r {
			t.Fatalf("round trip: %+v → %+v", r, again)
		}
	})
}

// readFails answers every GetObject with an S3 error.
type readFails struct {
	S3
	status int
	code   string
}

func (r readFails) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: r.status}},
		Err:      &smithy.GenericAPIError{Code: r.code},
	}
}

// s3Fake and graphFake are for tests that make no calls.
type s3Fake struct{ S3 }
type graphFake struct{ Graph }
