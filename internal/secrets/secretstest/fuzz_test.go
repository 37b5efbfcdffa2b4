package secretstest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzServeHTTP feeds arbitrary Authorization headers, targets and bodies to the emulator:
// it must never panic, and every answer but a success is an awsJson error naming its type in
// the body and the x-amzn-ErrorType header.
func FuzzServeHTTP(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	auth := "AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
	f.Add(auth, "secretsmanager.GetSecretValue", []byte(`{"SecretId":"s"}`))
	f.Add(auth, "secretsmanager.GetSecretValue", []byte(`{"SecretId":"arn:aws:secretsmanager:us-east-1:123456789012:secret:s","VersionStage":"AWSPREVIOUS"}`))
	f.Add(auth, "secretsmanager.GetSecretValue", []byte(`{"SecretId":"s","VersionId":"00000000-0000-4000-8000-000000000000"}`))
	f.Add("AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", "secretsmanager.GetSecretValue", []byte(`{}`))
	f.Add("AWS4-HMAC-SHA256 a,b=,=c", "secretsmanager.ListSecrets", []byte(`{`))
	f.Add("", "", []byte(nil))
	f.Fuzz(func(t *testing.T, auth, target string, body []byte) {
		e := NewEmulator(WithClock(func() time.Time { return now }))
		if _, err := e.Put("s", "v"); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:1/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Amz-Date", "20260301T120000Z")
		r.Header.Set("X-Amz-Target", target)
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			return
		}
		var errBody struct {
			Type string `json:"__type"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &errBody); err != nil || errBody.Type == "" || w.Header().Get("X-Amzn-ErrorType") == "" {
			t.Fatalf("status %d, body %q, header %q", w.Code, w.Body, w.Header().Get("X-Amzn-ErrorType"))
		}
	})
}
