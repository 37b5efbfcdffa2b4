package secretstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	smithy "github.com/aws/smithy-go"
)

const (
	testAccessKey = "AKIDEXAMPLE"
	testSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// newClient is the real SDK client pointed at url, with static credentials and retries
// without delay (the SDK's three attempts, so the tests see its retry behaviour, not its
// back-off).
func newClient(t *testing.T, url string, mod ...func(*secretsmanager.Options)) *secretsmanager.Client {
	t.Helper()
	opts := []func(*secretsmanager.Options){func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			so.RateLimiter = ratelimit.None
		})
	}}
	return secretsmanager.New(secretsmanager.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
	}, append(opts, mod...)...)
}

func get(t *testing.T, c *secretsmanager.Client, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.GetSecretValue(ctx, in)
}

func mustPut(t *testing.T, e *Emulator, name, value string) string {
	t.Helper()
	id, err := e.Put(name, value)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGetSecretValueWithTheSDK(t *testing.T) {
	srv := New(WithCredentials(testAccessKey, testSecretKey))
	defer srv.Close()
	c := newClient(t, srv.URL)

	first := mustPut(t, srv.Emulator, "graph/app", `{"v":1}`)
	second := mustPut(t, srv.Emulator, "graph/app", `{"v":2}`)
	third := mustPut(t, srv.Emulator, "graph/app", `{"v":3}`)
	if _, err := srv.PutBinary("bin", []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatal(err)
	}
	arn := srv.ARN("graph/app")
	if want := "arn:aws:secretsmanager:us-east-1:123456789012:secret:graph/app-"; !strings.HasPrefix(arn, want) || len(arn) != len(want)+6 {
		t.Fatalf("ARN = %q, want %s + 6 characters", arn, want)
	}

	for _, tc := range []struct {
		name       string
		in         secretsmanager.GetSecretValueInput
		wantValue  string
		wantBinary []byte
		wantVer    string
		wantStages []string
	}{
		{"by name", secretsmanager.GetSecretValueInput{SecretId: aws.String("graph/app")}, `{"v":3}`, nil, third, []string{StageCurrent}},
		{"by full ARN", secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}, `{"v":3}`, nil, third, []string{StageCurrent}},
		{"by partial ARN", secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:graph/app")}, `{"v":3}`, nil, third, []string{StageCurrent}},
		{"AWSPREVIOUS", secretsmanager.GetSecretValueInput{SecretId: aws.String("graph/app"), VersionStage: aws.String(StagePrevious)}, `{"v":2}`, nil, second, []string{StagePrevious}},
		{"old version by id", secretsmanager.GetSecretValueInput{SecretId: aws.String("graph/app"), VersionId: aws.String(first)}, `{"v":1}`, nil, first, nil},
		{"id and matching stage", secretsmanager.GetSecretValueInput{SecretId: aws.String("graph/app"), VersionId: aws.String(third), VersionStage: aws.String(StageCurrent)}, `{"v":3}`, nil, third, []string{StageCurrent}},
		{"SecretBinary", secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")}, "", []byte{0, 1, 2, 0xff}, "", []string{StageCurrent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := get(t, c, &tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantBinary != nil {
				if out.SecretString != nil || !bytes.Equal(out.SecretBinary, tc.wantBinary) {
					t.Fatalf("SecretString %v, SecretBinary %v; want only SecretBinary %v", out.SecretString, out.SecretBinary, tc.wantBinary)
				}
			} else if aws.ToString(out.SecretString) != tc.wantValue || out.SecretBinary != nil {
				t.Fatalf("SecretString = %q, SecretBinary %v; want %q", aws.ToString(out.SecretString), out.SecretBinary, tc.wantValue)
			}
			if tc.wantVer != "" && aws.ToString(out.VersionId) != tc.wantVer {
				t.Errorf("VersionId = %q, want %q", aws.ToString(out.VersionId), tc.wantVer)
			}
			if fmt.Sprint(out.VersionStages) != fmt.Sprint(tc.wantStages) && !(len(out.VersionStages) == 0 && len(tc.wantStages) == 0) {
				t.Errorf("VersionStages = %v, want %v", out.VersionStages, tc.wantStages)
			}
			if !strings.HasPrefix(aws.ToString(out.ARN), "arn:aws:secretsmanager:us-east-1:123456789012:secret:") || out.Name == nil {
				t.Errorf("ARN %q, Name %v", aws.ToString(out.ARN), out.Name)
			}
			if out.CreatedDate == nil || time.Since(*out.CreatedDate) > time.Minute || time.Since(*out.CreatedDate) < -time.Minute {
				t.Errorf("CreatedDate = %v, want about now", out.CreatedDate)
			}
		})
	}
}

// apiCode returns the error code and HTTP status the SDK saw.
func apiCode(t *testing.T, err error) (string, int) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not an API error", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v has no HTTP response", err)
	}
	return apiErr.ErrorCode(), re.HTTPStatusCode()
}

func TestErrorsWithTheSDK(t *testing.T) {
	srv := New(WithCredentials(testAccessKey, testSecretKey))
	defer srv.Close()
	c := newClient(t, srv.URL)
	mustPut(t, srv.Emulator, "present", "x")
	mustPut(t, srv.Emulator, "deleted", "x")
	mustPut(t, srv.Emulator, "denied", "x")
	if err := srv.Delete("deleted"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Deny("denied"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		in       secretsmanager.GetSecretValueInput
		client   *secretsmanager.Client
		wantCode string
		wantMsg  string
		modelled any
	}{
		{"unknown name", secretsmanager.GetSecretValueInput{SecretId: aws.String("absent")}, c,
			"ResourceNotFoundException", "Secrets Manager can't find the specified secret.", new(*types.ResourceNotFoundException)},
		{"ARN of another account", secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:999999999999:secret:present")}, c,
			"ResourceNotFoundException", "", new(*types.ResourceNotFoundException)},
		{"unknown stage", secretsmanager.GetSecretValueInput{SecretId: aws.String("present"), VersionStage: aws.String(StagePrevious)}, c,
			"ResourceNotFoundException", "staging label: AWSPREVIOUS", nil},
		{"unknown version", secretsmanager.GetSecretValueInput{SecretId: aws.String("present"), VersionId: aws.String(strings.Repeat("a", 36))}, c,
			"ResourceNotFoundException", "VersionId: " + strings.Repeat("a", 36), nil},
		{"version id too short", secretsmanager.GetSecretValueInput{SecretId: aws.String("present"), VersionId: aws.String("short")}, c,
			"ValidationException", "Member must have length greater than or equal to 32", nil},
		{"marked for deletion", secretsmanager.GetSecretValueInput{SecretId: aws.String("deleted")}, c,
			"InvalidRequestException", "marked for deletion", new(*types.InvalidRequestException)},
		{"denied", secretsmanager.GetSecretValueInput{SecretId: aws.String("denied")}, c,
			"AccessDeniedException", "is not authorized to perform: secretsmanager:GetSecretValue on resource: denied", nil},
		{"wrong secret key", secretsmanager.GetSecretValueInput{SecretId: aws.String("present")},
			newClient(t, srv.URL, func(o *secretsmanager.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(testAccessKey, "not-the-key", "")
			}), "InvalidSignatureException", "does not match the signature you provided", nil},
		{"unknown access key", secretsmanager.GetSecretValueInput{SecretId: aws.String("present")},
			newClient(t, srv.URL, func(o *secretsmanager.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider("AKIDOTHER", testSecretKey, "")
			}), "UnrecognizedClientException", "The security token included in the request is invalid.", nil},
		{"signed for another region", secretsmanager.GetSecretValueInput{SecretId: aws.String("present")},
			newClient(t, srv.URL, func(o *secretsmanager.Options) { o.Region = "eu-west-1" }),
			"InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'.", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := get(t, tc.client, &tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			code, status := apiCode(t, err)
			if code != tc.wantCode || status != http.StatusBadRequest || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got %s (HTTP %d): %v; want %s (HTTP 400) containing %q", code, status, err, tc.wantCode, tc.wantMsg)
			}
			if tc.modelled != nil && !errors.As(err, tc.modelled) {
				t.Fatalf("%v is not the SDK's modelled %T", err, tc.modelled)
			}
		})
	}
}

func TestScriptedFaultsAndTheSDKRetries(t *testing.T) {
	srv := New()
	defer srv.Close()
	c := newClient(t, srv.URL)
	mustPut(t, srv.Emulator, "s", "value")

	// Two faults: the SDK's third attempt succeeds.
	srv.FailNext(1, InternalServiceError())
	srv.FailNext(1, Throttling())
	out, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil || aws.ToString(out.SecretString) != "value" {
		t.Fatalf("after two faults: %v, %v", out, err)
	}
	log := srv.Requests()
	if len(log) != 3 || log[0].Status != 500 || log[0].ErrorType != "InternalServiceError" ||
		log[1].Status != 400 || log[1].ErrorType != "ThrottlingException" || log[2].Status != 200 {
		t.Fatalf("request log = %+v, want 500 InternalServiceError, 400 ThrottlingException, 200", log)
	}
	for _, r := range log {
		if r.Target != "secretsmanager.GetSecretValue" || r.SecretID != "s" || r.AccessKeyID != testAccessKey || r.RequestID == "" {
			t.Fatalf("log entry %+v", r)
		}
	}

	// Three faults outlast the SDK's three attempts.
	for _, f := range []Fault{InternalServiceError(), Throttling()} {
		srv.FailNext(3, f)
		_, err = get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		code, status := apiCode(t, err)
		if code != f.Type || status != f.Status {
			t.Fatalf("got %s %d, want %s %d", code, status, f.Type, f.Status)
		}
		var maxErr *retry.MaxAttemptsError
		if !errors.As(err, &maxErr) {
			t.Fatalf("%v: want the SDK to have retried to its limit", err)
		}
	}
	if n := len(srv.Requests()); n != 9 {
		t.Fatalf("%d requests, want 9", n)
	}

	// A decryption failure is not retried by the SDK.
	srv.FailNext(1, DecryptionFailure())
	_, err = get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if !errors.As(err, new(*types.DecryptionFailure)) {
		t.Fatalf("%v: want DecryptionFailure", err)
	}
	if n := len(srv.Requests()); n != 10 {
		t.Fatalf("%d requests, want 10 (no retry of DecryptionFailure)", n)
	}
}

func TestRotationMovesStages(t *testing.T) {
	srv := New()
	defer srv.Close()
	c := newClient(t, srv.URL)
	ids := []string{mustPut(t, srv.Emulator, "r", "one"), mustPut(t, srv.Emulator, "r", "two"), mustPut(t, srv.Emulator, "r", "three")}
	for i, want := range [][]string{nil, {StagePrevious}, {StageCurrent}} {
		out, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String("r"), VersionId: aws.String(ids[i])})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(out.VersionStages) != fmt.Sprint(want) && !(len(want) == 0 && len(out.VersionStages) == 0) {
			t.Errorf("version %d stages = %v, want %v", i, out.VersionStages, want)
		}
	}
}

// TestEndpointFromEnvironment shows the way a process (the Lambda under the RIE, the local
// stack) reaches the emulator: AWS_ENDPOINT_URL_SECRETS_MANAGER read by LoadDefaultConfig.
func TestEndpointFromEnvironment(t *testing.T) {
	srv := New()
	defer srv.Close()
	mustPut(t, srv.Emulator, "env", "from-env")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := get(t, secretsmanager.NewFromConfig(cfg), &secretsmanager.GetSecretValueInput{SecretId: aws.String("env")})
	if err != nil || aws.ToString(out.SecretString) != "from-env" {
		t.Fatalf("%v, %v", out, err)
	}
}

func TestConcurrentPutAndGet(t *testing.T) {
	srv := New()
	defer srv.Close()
	c := newClient(t, srv.URL)
	mustPut(t, srv.Emulator, "c", "0")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := srv.Put("c", fmt.Sprint(i)); err != nil {
				t.Error(err)
			}
			if _, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String("c")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	current := 0
	srv.mu.Lock()
	for _, v := range srv.secrets["c"].versions {
		for _, s := range v.stages {
			if s == StageCurrent {
				current++
			}
		}
	}
	srv.mu.Unlock()
	if current != 1 {
		t.Fatalf("%d versions labelled AWSCURRENT, want 1", current)
	}
}

func TestSeed(t *testing.T) {
	e := NewEmulator()
	if err := e.Seed([]byte(`{"a":"1","b/c":"{\"x\":2}"}`)); err != nil {
		t.Fatal(err)
	}
	if e.ARN("a") == "" || e.ARN("b/c") == "" {
		t.Fatal("seeded secrets missing")
	}
	for _, bad := range []string{`[]`, `{"a":1}`, `{"bad name!":"x"}`, `not json`} {
		if err := e.Seed([]byte(bad)); err == nil {
			t.Errorf("Seed(%s) accepted", bad)
		}
	}
	if _, err := e.Put("", "x"); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := e.PutBinary("b", nil); err == nil {
		t.Error("empty SecretBinary accepted")
	}
	if err := e.Delete("absent"); err == nil {
		t.Error("Delete of an absent secret accepted")
	}
}

func TestListenAndServe(t *testing.T) {
	e := NewEmulator()
	mustPut(t, e, "standalone", "v")
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, "127.0.0.1:0", e, func(u string) { urls <- u }) }()
	u := <-urls
	out, err := get(t, newClient(t, u), &secretsmanager.GetSecretValueInput{SecretId: aws.String("standalone")})
	if err != nil || aws.ToString(out.SecretString) != "v" {
		t.Fatalf("%v, %v", out, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ListenAndServe after cancel: %v", err)
	}
	if err := ListenAndServe(context.Background(), "256.0.0.1:0", e, nil); err == nil {
		t.Fatal("listening on a bad address succeeded")
	}
}

// rawCall sends a hand-made request, to see answers the SDK never provokes.
func rawCall(t *testing.T, url, method, target, ctype, auth, body string) (*http.Response, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format(amzDateLayout))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

func TestProtocolErrors(t *testing.T) {
	srv := New()
	defer srv.Close()
	mustPut(t, srv.Emulator, "s", "v")
	today := time.Now().UTC().Format(scopeDateLayout)
	goodAuth := "AWS4-HMAC-SHA256 Credential=AKID/" + today + "/us-east-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc"
	get := "secretsmanager.GetSecretValue"

	for _, tc := range []struct {
		name, method, target, ctype, auth, body string
		wantStatus                              int
		wantType, wantMsg                       string
	}{
		{"GET", http.MethodGet, get, contentType, goodAuth, "", 404, "com.amazon.coral.service#UnknownOperationException", ""},
		{"wrong content type", http.MethodPost, get, "application/json", goodAuth, `{"SecretId":"s"}`, 404, "com.amazon.coral.service#UnknownOperationException", ""},
		{"unknown target", http.MethodPost, "secretsmanager.StealSecret", contentType, goodAuth, `{}`, 400, "com.amazon.coral.service#UnknownOperationException", ""},
		{"other service's target", http.MethodPost, "AmazonSSM.GetParameter", contentType, goodAuth, `{}`, 400, "com.amazon.coral.service#UnknownOperationException", ""},
		{"not emulated", http.MethodPost, "secretsmanager.CreateSecret", contentType, goodAuth, `{}`, 400, "com.amazon.coral.service#UnknownOperationException", "emulates GetSecretValue only"},
		{"body not JSON", http.MethodPost, get, contentType, goodAuth, `{`, 400, "com.amazon.coral.service#SerializationException", ""},
		{"SecretId not a string", http.MethodPost, get, contentType, goodAuth, `{"SecretId":5}`, 400, "com.amazon.coral.service#SerializationException", ""},
		{"no Authorization", http.MethodPost, get, contentType, "", `{"SecretId":"s"}`, 400, "com.amazon.coral.service#MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"SigV2-style Authorization", http.MethodPost, get, contentType, "AWS AKID:sig", `{"SecretId":"s"}`, 400, "com.amazon.coral.service#MissingAuthenticationTokenException", ""},
		{"other algorithm", http.MethodPost, get, contentType, strings.Replace(goodAuth, "HMAC-SHA256", "ECDSA-P256-SHA256", 1), `{"SecretId":"s"}`, 400, "com.amazon.coral.service#IncompleteSignatureException", "Unsupported AWS 'algorithm'"},
		{"no Signature", http.MethodPost, get, contentType, strings.TrimSuffix(goodAuth, ", Signature=abc"), `{"SecretId":"s"}`, 400, "com.amazon.coral.service#IncompleteSignatureException", "requires 'Signature' parameter"},
		{"short Credential", http.MethodPost, get, contentType, strings.Replace(goodAuth, "/us-east-1/secretsmanager", "/secretsmanager", 1), `{"SecretId":"s"}`, 400, "com.amazon.coral.service#IncompleteSignatureException", "exactly 5 slash-delimited elements"},
		{"other service's scope", http.MethodPost, get, contentType, strings.Replace(goodAuth, "/secretsmanager/", "/ssm/", 1), `{"SecretId":"s"}`, 400, "com.amazon.coral.service#InvalidSignatureException", "scoped to correct service: 'secretsmanager'"},
		{"bad terminator", http.MethodPost, get, contentType, strings.Replace(goodAuth, "aws4_request", "aws4", 1), `{"SecretId":"s"}`, 400, "com.amazon.coral.service#InvalidSignatureException", "valid terminator"},
		{"scope date mismatch", http.MethodPost, get, contentType, strings.Replace(goodAuth, today, "20000101", 1), `{"SecretId":"s"}`, 400, "com.amazon.coral.service#InvalidSignatureException", "Date in Credential scope does not match"},
		{"host not signed", http.MethodPost, get, contentType, strings.Replace(goodAuth, "content-type;host;", "content-type;", 1), `{"SecretId":"s"}`, 400, "com.amazon.coral.service#InvalidSignatureException", "'Host' must be a 'SignedHeader'"},
		{"no SecretId", http.MethodPost, get, contentType, goodAuth, `{}`, 400, "com.amazon.coral.validate#ValidationException", "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
		{"not found", http.MethodPost, get, contentType, goodAuth, `{"SecretId":"absent"}`, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."},
		{"found", http.MethodPost, get, contentType, goodAuth, `{"SecretId":"s"}`, 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawCall(t, srv.URL, tc.method, tc.target, tc.ctype, tc.auth, tc.body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %v)", resp.StatusCode, tc.wantStatus, body)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			if tc.wantStatus == 200 {
				if body["SecretString"] != "v" {
					t.Fatalf("body %v", body)
				}
				return
			}
			code := tc.wantType[strings.LastIndex(tc.wantType, "#")+1:]
			if body["__type"] != tc.wantType || resp.Header.Get("X-Amzn-ErrorType") != code ||
				resp.Header.Get("Content-Type") != contentType || !strings.Contains(body["message"], tc.wantMsg) {
				t.Fatalf("got type %q, header %q, content type %q, message %q; want %q, %q, %q, %q",
					body["__type"], resp.Header.Get("X-Amzn-ErrorType"), resp.Header.Get("Content-Type"), body["message"],
					tc.wantType, code, contentType, tc.wantMsg)
			}
		})
	}
}

func TestSignatureClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew time.Duration
		want string
	}{
		{"expired", -20 * time.Minute, "Signature expired"},
		{"not yet current", 20 * time.Minute, "Signature not yet current"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(WithClock(func() time.Time { return time.Now().Add(-tc.skew) }))
			defer srv.Close()
			mustPut(t, srv.Emulator, "s", "v")
			_, err := get(t, newClient(t, srv.URL), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
			if code, _ := apiCode(t, err); code != "InvalidSignatureException" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v; want InvalidSignatureException %q", err, tc.want)
			}
		})
	}
}
