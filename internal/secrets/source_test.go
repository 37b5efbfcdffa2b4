package secrets

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	smithy "github.com/aws/smithy-go"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// answer is what the fake client returns for one call.
type answer struct {
	str *string
	bin []byte
	err error
}

// fakeClient is a GetSecretValueAPI answering from a script; the last answer repeats. When
// gate is not nil, each call waits for it to be closed.
type fakeClient struct {
	mu      sync.Mutex
	answers []answer
	calls   atomic.Int32
	entered chan struct{} // receives once per call, when not nil
	gate    chan struct{}
}

func (f *fakeClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	a := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	f.mu.Unlock()
	if a.err != nil {
		return nil, a.err
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: a.str, SecretBinary: a.bin, VersionId: aws.String("v1")}, nil
}

func (f *fakeClient) script(answers ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = answers
}

func secretValue(clientID string) answer {
	s := `{"tenantId":"` + testTenant + `","clientId":"` + clientID + `","clientSecret":"` + testClientSecret + `"}`
	return answer{str: &s}
}

func notFoundErr() error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
		Err: &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}}
}

func throttledErr() error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
		Err: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}}
}

func creds(t *testing.T, s *Source, fresh bool) (graph.Credentials, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Credentials(ctx, fresh)
}

func TestConcurrentFirstCallsShareOneRead(t *testing.T) {
	fc := &fakeClient{entered: make(chan struct{}, 100), gate: make(chan struct{})}
	fc.script(secretValue(testClient))
	s := NewSource(fc, "graph/app")

	const callers = 50
	var arrived, done sync.WaitGroup
	results := make(chan error, callers)
	for i := range callers {
		arrived.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			arrived.Done()
			c, err := s.Credentials(context.Background(), i%2 == 0) // fresh or not: both join
			if err == nil && c.ClientID != testClient {
				err = errors.New("wrong credentials")
			}
			results <- err
		}()
	}
	<-fc.entered // the read is under way and held
	arrived.Wait()
	for range 100 {
		runtime.Gosched() // let the callers reach Credentials before the read finishes
	}
	close(fc.gate)
	done.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := fc.calls.Load(); n != 1 {
		t.Fatalf("%d GetSecretValue calls for %d concurrent first callers, want 1", n, callers)
	}
}

func TestCachedForTheContainersLife(t *testing.T) {
	clock := newFakeClock()
	fc := &fakeClient{}
	fc.script(secretValue("first"), secretValue("second"))
	s := NewSource(fc, "graph/app", WithClock(clock.Now))
	for range 5 {
		c, err := creds(t, s, false)
		if err != nil || c.ClientID != "first" {
			t.Fatalf("%v, %v", c, err)
		}
		clock.Advance(24 * time.Hour)
	}
	if n := fc.calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestFreshRereadIsRateLimited(t *testing.T) {
	clock := newFakeClock()
	fc := &fakeClient{}
	fc.script(secretValue("v1"), secretValue("v2"), secretValue("v3"))
	s := NewSource(fc, "graph/app", WithClock(clock.Now), WithMinRefreshInterval(30*time.Second))

	steps := []struct {
		advance   time.Duration
		fresh     bool
		wantID    string
		wantCalls int32
	}{
		{0, false, "v1", 1},
		{0, true, "v1", 1},                // just read: a fresh request gets the same answer
		{29 * time.Second, true, "v1", 1}, // still inside the interval
		{time.Second, true, "v2", 2},      // 30 s after the first read: read again
		{0, true, "v2", 2},
		{10 * time.Second, false, "v2", 2},
		{20 * time.Second, false, "v2", 2}, // not fresh: never re-read
		{0, true, "v3", 3},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		c, err := creds(t, s, st.fresh)
		if err != nil || c.ClientID != st.wantID || fc.calls.Load() != st.wantCalls {
			t.Fatalf("step %d: %v, %v after %d calls; want %s after %d", i, c.ClientID, err, fc.calls.Load(), st.wantID, st.wantCalls)
		}
	}
}

func TestZeroIntervalRereadsEveryFreshRequest(t *testing.T) {
	fc := &fakeClient{}
	fc.script(secretValue("v1"))
	s := NewSource(fc, "graph/app", WithClock(newFakeClock().Now), WithMinRefreshInterval(0))
	for range 3 {
		if _, err := creds(t, s, true); err != nil {
			t.Fatal(err)
		}
	}
	if n := fc.calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

func TestPermanentFailureIsRememberedForTheInterval(t *testing.T) {
	clock := newFakeClock()
	fc := &fakeClient{}
	fc.script(answer{err: notFoundErr()}, secretValue("created"))
	s := NewSource(fc, "graph/app", WithClock(clock.Now), WithMinRefreshInterval(30*time.Second))

	for i, fresh := range []bool{false, false, true} {
		_, err := creds(t, s, fresh)
		var se *Error
		if !errors.As(err, &se) || se.Reason() != ReasonNotFound || se.Transient() {
			t.Fatalf("call %d: %v; want permanent %s", i, err, ReasonNotFound)
		}
	}
	if n := fc.calls.Load(); n != 1 {
		t.Fatalf("%d calls within the interval, want 1", n)
	}
	clock.Advance(30 * time.Second)
	if c, err := creds(t, s, false); err != nil || c.ClientID != "created" {
		t.Fatalf("after the interval: %v, %v", c, err)
	}
}

func TestTransientFailureIsNotRemembered(t *testing.T) {
	fc := &fakeClient{}
	fc.script(answer{err: throttledErr()}, secretValue("ok"))
	s := NewSource(fc, "graph/app", WithClock(newFakeClock().Now))
	_, err := creds(t, s, false)
	var se *Error
	if !errors.As(err, &se) || se.Reason() != ReasonUnavailable || !se.Transient() {
		t.Fatalf("%v; want transient %s", err, ReasonUnavailable)
	}
	if c, err := creds(t, s, false); err != nil || c.ClientID != "ok" {
		t.Fatalf("second call: %v, %v", c, err)
	}
}

func TestFailedRereadKeepsTheCachedCredentials(t *testing.T) {
	clock := newFakeClock()
	fc := &fakeClient{}
	fc.script(secretValue("good"), answer{err: throttledErr()})
	s := NewSource(fc, "graph/app", WithClock(clock.Now))
	if _, err := creds(t, s, false); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := creds(t, s, true); err == nil {
		t.Fatal("fresh read during throttling succeeded")
	}
	if c, err := creds(t, s, false); err != nil || c.ClientID != "good" {
		t.Fatalf("after a failed re-read: %v, %v; want the cached credentials", c, err)
	}
}

func TestSecretValueKinds(t *testing.T) {
	good := secretValue(testClient)
	for _, tc := range []struct {
		name       string
		answer     answer
		wantReason reason.Reason
	}{
		{"SecretString", good, reason.Reason{}},
		{"SecretBinary holding the JSON", answer{bin: []byte(*good.str)}, reason.Reason{}},
		{"neither", answer{}, ReasonInvalid},
		{"invalid JSON", answer{str: aws.String("{" + testClientSecret)}, ReasonInvalid},
		{"missing field", answer{str: aws.String(`{"clientId":"c","clientSecret":"` + testClientSecret + `"}`)}, ReasonInvalid},
		{"binary not JSON", answer{bin: []byte{0xff, 0x00, 0x12}}, ReasonInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := &fakeClient{}
			fc.script(tc.answer)
			c, err := creds(t, NewSource(fc, "graph/app"), false)
			if tc.wantReason.IsZero() {
				if err != nil || c.ClientSecret != testClientSecret {
					t.Fatalf("%v, %v", c, err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) || se.Reason() != tc.wantReason || se.Transient() || se.SecretID() != "graph/app" {
				t.Fatalf("%v; want permanent %s", err, tc.wantReason)
			}
			assertNoSecret(t, err.Error(), testFixtures(t))
		})
	}
}

func TestCallerContextEndsTheWaitNotTheRead(t *testing.T) {
	fc := &fakeClient{entered: make(chan struct{}, 2), gate: make(chan struct{})}
	fc.script(secretValue(testClient))
	s := NewSource(fc, "graph/app")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Credentials(ctx, false)
		errc <- err
	}()
	<-fc.entered
	cancel()
	err := <-errc
	var se *Error
	if !errors.As(err, &se) || !se.Transient() || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v; want a transient error wrapping context.Canceled", err)
	}
	close(fc.gate) // the read finishes for the next caller
	if c, err := creds(t, s, false); err != nil || c.ClientID != testClient {
		t.Fatalf("%v, %v", c, err)
	}
	if n := fc.calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestLogsNameTheReadButNotTheSecret(t *testing.T) {
	var logs bytes.Buffer
	fc := &fakeClient{}
	fc.script(secretValue(testClient), answer{str: aws.String(`{"tenantId":"t","clientId":"c","clientSecret":"` + testClientSecret + `","cloud":"mars"}`)})
	clock := newFakeClock()
	s := NewSource(fc, "graph/app", WithClock(clock.Now), WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if _, err := creds(t, s, false); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := creds(t, s, true); err == nil {
		t.Fatal("bad cloud accepted")
	}
	out := logs.String()
	for _, want := range []string{`"msg":"credentials secret read"`, `"secret_id":"graph/app"`, `"version_id":"v1"`,
		`"msg":"credentials secret read failed"`, `"reason":"secret_invalid"`, `unknown cloud \"mars\"`} {
		if !bytes.Contains(logs.Bytes(), []byte(want)) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	assertNoSecret(t, out, testFixtures(t))
}
