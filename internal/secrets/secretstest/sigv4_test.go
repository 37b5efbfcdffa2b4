package secretstest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSignatureDocumentedExample checks the signature computation against the worked example
// of AWS's Signature Version 4 documentation (IAM ListUsers, 2015-08-30).
func TestSignatureDocumentedExample(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	a := authorization{
		scopeDate: "20150830", region: "us-east-1", service: "iam", terminator: "aws4_request",
		signedHeaders: []string{"content-type", "host", "x-amz-date"}, rawAmzDate: "20150830T123600Z",
	}
	const want = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	if got := a.expectedSignature(r, nil, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"); got != want {
		t.Fatalf("signature %s, want %s\ncanonical request:\n%s", got, want, canonicalRequest(r, nil, a.signedHeaders))
	}
}

// TestSignatureAgainstSDKSigner signs requests with the SDK's own signer (an independent
// implementation) and checks that the emulator accepts them, and rejects them once anything
// signed is changed.
func TestSignatureAgainstSDKSigner(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := NewEmulator(WithClock(func() time.Time { return now }), WithCredentials(testAccessKey, testSecretKey))
	if _, err := e.Put("s", "v"); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"SecretId":"s"}`)
	sign := func(t *testing.T, url string, mutate func(*http.Request)) *http.Request {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
		r.Header.Add("X-Amz-Meta-Spaced", "  a   b  ")
		r.Header.Add("X-Amz-Meta-Spaced", "c")
		creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hexSHA256(body), "secretsmanager", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		r.Body = httpBody(body)
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		url    string
		mutate func(*http.Request)
		want   int
	}{
		{"as signed", "http://127.0.0.1:1/", nil, 200},
		{"query string", "http://127.0.0.1:1/?b=2&a=1&a=0&sp=x%20y", nil, 200},
		{"body changed", "http://127.0.0.1:1/", func(r *http.Request) { r.Body = httpBody([]byte(`{"SecretId":"t"}`)) }, 400},
		{"signed header changed", "http://127.0.0.1:1/", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Spaced", "z") }, 400},
		{"host changed", "http://127.0.0.1:1/", func(r *http.Request) { r.Host = "127.0.0.1:2" }, 400},
		{"query changed", "http://127.0.0.1:1/?a=1", func(r *http.Request) { r.URL.RawQuery = "a=2" }, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			e.ServeHTTP(w, sign(t, tc.url, tc.mutate))
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != 200 && !strings.Contains(w.Body.String(), "InvalidSignatureException") {
				t.Fatalf("body %s, want InvalidSignatureException", w.Body)
			}
		})
	}
}

func httpBody(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
