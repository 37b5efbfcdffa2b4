package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/api"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/rietest"
	"github.com/graphphoto/graphphoto/internal/s3test"
	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
	"github.com/graphphoto/graphphoto/internal/tool"
)

// The directory the events/ API samples were written for (internal/api's tests use the same).
const (
	tenantID     = "3f2a9d1e-6b7c-4d8e-9f01-23456789abcd"
	clientID     = "5e1f0000-1111-4222-8333-444455556666"
	clientSecret = "bootstrap-test-client-secret-value-42"
	aliceOID     = "a11ce000-0000-4000-8000-000000000001"
	bobOID       = "b0b00000-0000-4000-8000-000000000002"
	carolOID     = "ca401000-0000-4000-8000-000000000003"
	doraOID      = "d04a0000-0000-4000-8000-000000000004"
	secretName   = "graphphoto/graph-app"
	bucket       = "photo-uploads"
)

// TestBootstrapAnswersSamples runs the real bootstrap under aws-lambda-rie with the Graph
// emulator (TLS, trusted through SSL_CERT_FILE), the Secrets Manager emulator and versitygw, and
// feeds it the events/ API samples plus the oversized one built here.
func TestBootstrapAnswersSamples(t *testing.T) {
	ctx := context.Background()
	gsrv := graphtest.New(graphtest.Options{Tenants: []graphtest.Tenant{{
		ID:   tenantID,
		Apps: []graphtest.App{{ClientID: clientID, Secrets: []string{clientSecret}}},
		Users: []graphtest.User{
			{ID: aliceOID, UPN: "alice@contoso.com"}, {ID: bobOID, UPN: "bob@contoso.com"},
			{ID: carolOID, UPN: "carol@contoso.com"}, {ID: doraOID, UPN: "dora@contoso.com"},
		},
	}}})
	defer gsrv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "graph-ca.pem")
	if err := gsrv.WriteCA(caFile); err != nil {
		t.Fatal(err)
	}
	sm := secretstest.New()
	defer sm.Close()
	if _, err := sm.Put(secretName, `{"tenantId":"`+tenantID+`","clientId":"`+clientID+`","clientSecret":"`+clientSecret+`"}`); err != nil {
		t.Fatal(err)
	}
	s3srv := s3test.MustStart(t, s3test.Options{})
	for _, b := range []string{bucket, bucket + "-state"} {
		if err := s3srv.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	boot := rietest.BuildBootstrap(t, ".")
	// Only libvips' HEIF module, as the Lambda image ships (see tool.VipsHome): the HEIC sample
	// proves that is enough.
	vipsHome, err := tool.VipsHome(t.TempDir(), "heif")
	if err != nil {
		t.Fatal(err)
	}
	rie := rietest.MustStart(t, boot, rietest.Options{
		FunctionName: "graphphoto-api",
		Timeout:      30 * time.Second,
		Env: map[string]string{
			"VIPSHOME":                         vipsHome,
			"GRAPH_SECRET_ID":                  secretName,
			"GRAPH_ENDPOINT":                   gsrv.GraphURL(),
			"GRAPH_AUTHORITY":                  gsrv.AuthorityURL(),
			"SSL_CERT_FILE":                    caFile,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL,
			"AWS_ENDPOINT_URL_S3":              s3srv.Endpoint,
			"AWS_ACCESS_KEY_ID":                s3srv.AccessKey,
			"AWS_SECRET_ACCESS_KEY":            s3srv.SecretKey,
			"S3_FORCE_PATH_STYLE":              "true",
			"UPLOAD_BUCKET":                    bucket,
			"UPLOAD_PREFIX":                    "uploads/",
			"STATE_BUCKET":                     bucket + "-state",
			"LOG_LEVEL":                        "info",
		},
	})

	eventsDir := filepath.Join(moduleRoot(t), "events")
	read := func(t *testing.T, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(eventsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	invoke := func(t *testing.T, payload []byte) (events.APIGatewayV2HTTPResponse, rietest.Result) {
		t.Helper()
		res, err := rie.InvokeResult(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		if res.FunctionError != nil {
			t.Fatalf("function error: %v", res.FunctionError)
		}
		var out events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Payload, &out); err != nil {
			t.Fatalf("answer is not an HTTP API response: %v: %s", err, res.Payload)
		}
		return out, res
	}

	tests := []struct {
		file, requestID string
		status          int
		target          string // stored photo (PUT) or upload target
		reason          string // error reason
		side            int    // square photo side: the source's shorter side (never upscaled)
	}{
		{"apigw-v2-put-jpeg.json", "Q1e3bgAAIAMEbXw=", 200, "users/" + aliceOID, "", 480},
		{"apigw-v2-put-heic.json", "Q1e3cgAAIAMEbXx=", 200, "users/bob@contoso.com", "", 600},
		{"apigw-v2-put-me.json", "Q1e3dgAAIAMEbXy=", 200, "users/" + carolOID, "", 320},
		{"apigw-v2-unauthorised.json", "Q1e3egAAIAMEbXz=", 401, "", api.ReasonNoIdentity.String(), 0},
		{"apigw-v2-post-upload.json", "Q1e3fgAAIAMEbX0=", 200, "users/" + aliceOID, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res, inv := invoke(t, read(t, tt.file))
			if res.StatusCode != tt.status || res.Headers["request-id"] != tt.requestID {
				t.Fatalf("answer %d request-id %q, want %d %q: %s", res.StatusCode, res.Headers["request-id"], tt.status, tt.requestID, res.Body)
			}
			if !logged(inv, tt.requestID) {
				t.Errorf("no JSON log line with request_id %s and the invocation's requestId in:\n%v", tt.requestID, inv.Logs)
			}
			if tt.status != 200 {
				var env struct {
					Error struct {
						Code       string `json:"code"`
						InnerError struct {
							RequestID string `json:"request-id"`
							Reason    string `json:"reason"`
						} `json:"innerError"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(res.Body), &env); err != nil || env.Error.InnerError.Reason != tt.reason || env.Error.InnerError.RequestID != tt.requestID {
					t.Errorf("error body %s", res.Body)
				}
				return
			}
			if strings.HasPrefix(tt.file, "apigw-v2-put-") {
				var put api.PutResult
				if err := json.Unmarshal([]byte(res.Body), &put); err != nil || put.Width != tt.side || put.Height != tt.side {
					t.Errorf("answer %s", res.Body)
				}
				stored, ok := gsrv.Photo(tenantID, tt.target)
				if !ok || len(stored.Data) != put.Bytes || stored.ContentType != "image/jpeg" {
					t.Errorf("stored %v %d bytes %q, answered %+v", ok, len(stored.Data), stored.ContentType, put)
				}
				return
			}
			// The upload URL works against S3 and binds the target.
			var up api.Upload
			if err := json.Unmarshal([]byte(res.Body), &up); err != nil || up.Target != tt.target {
				t.Fatalf("upload answer %s", res.Body)
			}
			size, _ := strconv.Atoi(up.Headers["content-length"])
			if size != 6815744 {
				t.Fatalf("signed content-length %q, want the sample's size", up.Headers["content-length"])
			}
			req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(make([]byte, size)))
			for k, v := range up.Headers {
				if k != "content-length" {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("upload = %d: %s", resp.StatusCode, body)
			}
			head, err := s3srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(up.Key)})
			if err != nil || head.Metadata["graph-target"] != tt.target || !strings.HasPrefix(up.Key, "uploads/") {
				t.Errorf("head %s: %v %v", up.Key, err, head)
			}
		})
	}

	t.Run("oversized", func(t *testing.T) {
		var ev map[string]any
		if err := json.Unmarshal(read(t, "apigw-v2-put-jpeg.json"), &ev); err != nil {
			t.Fatal(err)
		}
		jpeg, _ := base64.StdEncoding.DecodeString(ev["body"].(string))
		body := append(jpeg, make([]byte, api.DefaultMaxInlineBytes+1-len(jpeg))...)
		ev["body"] = base64.StdEncoding.EncodeToString(body)
		ev["headers"].(map[string]any)["content-length"] = strconv.Itoa(len(body))
		ev["requestContext"].(map[string]any)["requestId"] = "Q1e3ggAAIAMEbX1="
		payload, _ := json.Marshal(ev)
		if len(payload) > 6<<20 {
			t.Fatalf("payload %d bytes is over Lambda's 6 MiB: it would never reach the function", len(payload))
		}
		before := len(gsrv.Requests())
		res, _ := invoke(t, payload)
		if res.StatusCode != 413 || !strings.Contains(res.Body, "POST /v1.0/uploads") {
			t.Fatalf("answer %d: %s", res.StatusCode, res.Body)
		}
		if len(gsrv.Requests()) != before {
			t.Error("an oversized body reached Graph")
		}
	})

	if d, err := rie.InitDuration(ctx); err == nil {
		t.Logf("bootstrap init %v", d)
	}
	for _, r := range rie.Reports() {
		t.Logf("REPORT %s duration %v", r.RequestID, r.Duration)
	}
	if out := rie.Output(); strings.Contains(out, clientSecret) || strings.Contains(out, s3srv.SecretKey) || strings.Contains(out, "eyJ0eXAi") {
		t.Error("a secret, key or bearer token reached the function's output")
	}
}

// logged reports whether the invocation wrote a JSON line carrying both request ids.
func logged(inv rietest.Result, apiRequestID string) bool {
	for _, l := range inv.Logs {
		var m map[string]any
		if json.Unmarshal([]byte(l.Text), &m) != nil {
			continue
		}
		if m["request_id"] == apiRequestID && m["requestId"] == inv.RequestID && m["message"] == "api request" {
			return true
		}
	}
	return false
}

func moduleRoot(t *testing.T) string { return tool.MustModuleRoot(t) }
