package secrets

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/reason"
	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
)

const (
	emuAccessKey = "AKIDSECRETSTEST"
	emuSecretKey = "emulator/secret/access/key/EXAMPLE"
)

// sdkClient is the real Secrets Manager client pointed at url, retrying as in production
// (three attempts) but without back-off delays.
func sdkClient(url, secretKey string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(emuAccessKey, secretKey, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		}),
	})
}

// TestThroughTheSDK reads credentials through the real SDK from the emulator and checks how
// each failure is classified.
func TestThroughTheSDK(t *testing.T) {
	fx := testFixtures(t)
	srv := secretstest.New(secretstest.WithCredentials(emuAccessKey, emuSecretKey))
	defer srv.Close()
	put := func(name, value string) {
		t.Helper()
		if _, err := srv.Put(name, value); err != nil {
			t.Fatal(err)
		}
	}
	good := secretJSONOf(t, map[string]any{"tenantId": testTenant, "clientId": testClient, "clientSecret": testClientSecret})
	put("graph/secret", good)
	put("graph/cert", secretJSONOf(t, map[string]any{"tenantId": testTenant, "clientId": testClient, "certificate": fx.certPEM, "privateKey": fx.pkcs8PEM, "cloud": "usgov"}))
	if _, err := srv.PutBinary("graph/binary", []byte(good)); err != nil {
		t.Fatal(err)
	}
	put("graph/incomplete", `{"tenantId":"`+testTenant+`","clientSecret":"`+testClientSecret+`"}`)
	put("graph/denied", good)
	put("graph/deleted", good)
	put("graph/undecryptable", good)
	if err := srv.Deny("graph/denied"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Delete("graph/deleted"); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	client := sdkClient(srv.URL, emuSecretKey)

	for _, tc := range []struct {
		name          string
		secretID      string
		client        *secretsmanager.Client
		faults        func()
		wantReason    reason.Reason // zero for success
		wantTransient bool
		wantInError   string
	}{
		{name: "client secret by name", secretID: "graph/secret"},
		{name: "client secret by ARN", secretID: srv.ARN("graph/secret")},
		{name: "certificate", secretID: "graph/cert"},
		{name: "SecretBinary", secretID: "graph/binary"},
		{name: "one throttling answer, retried by the SDK", secretID: "graph/secret", faults: func() { srv.FailNext(1, secretstest.Throttling()) }},
		{name: "not found", secretID: "graph/absent", wantReason: ReasonNotFound, wantInError: "ResourceNotFoundException"},
		{name: "access denied", secretID: "graph/denied", wantReason: ReasonAccessDenied, wantInError: "AccessDeniedException"},
		{name: "marked for deletion", secretID: "graph/deleted", wantReason: ReasonNotFound, wantInError: "InvalidRequestException"},
		{name: "KMS cannot decrypt", secretID: "graph/undecryptable", faults: func() { srv.FailNext(1, secretstest.DecryptionFailure()) },
			wantReason: ReasonAccessDenied, wantInError: "DecryptionFailure"},
		{name: "wrong AWS secret key", secretID: "graph/secret", client: sdkClient(srv.URL, "wrong"), wantReason: ReasonAccessDenied, wantInError: "InvalidSignatureException"},
		{name: "invalid content", secretID: "graph/incomplete", wantReason: ReasonInvalid, wantInError: "clientId is empty"},
		{name: "internal errors outlasting the retries", secretID: "graph/secret", faults: func() { srv.FailNext(3, secretstest.InternalServiceError()) },
			wantReason: ReasonUnavailable, wantTransient: true, wantInError: "InternalServiceError"},
		{name: "throttling outlasting the retries", secretID: "graph/secret", faults: func() { srv.FailNext(3, secretstest.Throttling()) },
			wantReason: ReasonUnavailable, wantTransient: true, wantInError: "ThrottlingException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			if c == nil {
				c = client
			}
			if tc.faults != nil {
				tc.faults()
			}
			s := NewSource(c, tc.secretID, WithLogger(logger))
			got, err := creds(t, s, false)
			if tc.wantReason.IsZero() {
				if err != nil || got.TenantID != testTenant || got.ClientID != testClient {
					t.Fatalf("%v, %v", got, err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not *secrets.Error", err, err)
			}
			if se.Reason() != tc.wantReason || se.Transient() != tc.wantTransient || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("%v: reason %s transient %v; want %s transient %v containing %q",
					err, se.Reason(), se.Transient(), tc.wantReason, tc.wantTransient, tc.wantInError)
			}
			assertNoSecret(t, err.Error(), fx)
		})
	}
	assertNoSecret(t, logs.String(), fx)
	if !strings.Contains(logs.String(), `"reason":"secret_access_denied"`) {
		t.Fatalf("failures not logged:\n%s", logs.String())
	}
}

// TestRotationThroughTheSDK: after the secret is rotated, a fresh request past the interval
// reads the new AWSCURRENT version.
func TestRotationThroughTheSDK(t *testing.T) {
	srv := secretstest.New()
	defer srv.Close()
	value := func(clientID string) string {
		return secretJSONOf(t, map[string]any{"tenantId": testTenant, "clientId": clientID, "clientSecret": testClientSecret})
	}
	if _, err := srv.Put("graph/app", value("before")); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	s := NewSource(sdkClient(srv.URL, emuSecretKey), "graph/app", WithClock(clock.Now))
	if c, err := creds(t, s, false); err != nil || c.ClientID != "before" {
		t.Fatalf("%v, %v", c, err)
	}
	if _, err := srv.Put("graph/app", value("after")); err != nil {
		t.Fatal(err)
	}
	if c, _ := creds(t, s, true); c.ClientID != "before" {
		t.Fatalf("re-read inside the interval: got %s", c.ClientID)
	}
	clock.Advance(DefaultMinRefreshInterval)
	if c, err := creds(t, s, true); err != nil || c.ClientID != "after" {
		t.Fatalf("after rotation: %v, %v", c, err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Fatalf("%d GetSecretValue calls, want 2", n)
	}
}

// TestNetworkFailuresAreTransient: no server, a server that hangs, a server that answers
// garbage.
func TestNetworkFailuresAreTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()

	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop) // before Close, which waits for the handlers
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	}))
	defer garbage.Close()

	for _, tc := range []struct {
		name string
		url  string
		opts []Option
	}{
		{"connection refused", closedURL, nil},
		{"timeout", hang.URL, []Option{WithFetchTimeout(100 * time.Millisecond)}},
		{"502 with an HTML body", garbage.URL, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSource(sdkClient(tc.url, emuSecretKey), "graph/app", tc.opts...)
			_, err := creds(t, s, false)
			var se *Error
			if !errors.As(err, &se) || se.Reason() != ReasonUnavailable || !se.Transient() {
				t.Fatalf("%v; want transient %s", err, ReasonUnavailable)
			}
		})
	}
}
