package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/imageproc"
)

var updateEvents = flag.Bool("update-events", false, "regenerate events/apigw-v2-*.json (the HEIC sample needs the vips command)")

// apiSample is one events/ file: an HTTP API payload 2.0 request in the shape `sam local
// generate-event apigateway http-api-proxy` produces, with what answering it must give.
type apiSample struct {
	file      string
	method    string
	rawPath   string
	claims    Claims // nil: no authoriser block (the route has none or it was bypassed)
	headers   map[string]string
	body      func(t *testing.T) []byte
	base64    bool
	format    imageproc.Format // what the body sniffs as; 0 for JSON
	requestID string
	// answer
	status int
	target string // PutResult.Target or Upload.Target
}

// Placeholder bearer token: header {"typ":"JWT","alg":"none"}, empty claims. API Gateway has
// already verified the real one; the function never reads it.
const sampleBearer = "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30."

func entraClaims(oid, name string, extra map[string]string) Claims {
	c := Claims{
		"aud": "api://graphphoto", "iss": "https://login.microsoftonline.com/" + tenantID + "/v2.0",
		"iat": "1764384900", "nbf": "1764384900", "exp": "1764388800", "ver": "2.0",
		"tid": tenantID, "oid": oid, "sub": "vLt7p0Wq3" + oid[:8], "azp": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		"name": name, "scp": "Photos.Write",
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func apiSamples() []apiSample {
	return []apiSample{
		{
			file: "apigw-v2-put-jpeg.json", method: "PUT", rawPath: "/v1.0/users/alice@contoso.com/photo/$value",
			claims:  entraClaims(aliceOID, "Alice Example", map[string]string{"upn": "alice@contoso.com", "preferred_username": "alice@contoso.com"}),
			headers: map[string]string{"content-type": "image/jpeg", "client-request-id": "0f3c1d2e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"},
			body:    func(t *testing.T) []byte { return samplePortraitJPEG(t, 640, 480) }, base64: true, format: imageproc.FormatJPEG,
			requestID: "Q1e3bgAAIAMEbXw=", status: 200, target: "users/" + aliceOID,
		},
		{
			file: "apigw-v2-put-heic.json", method: "PUT", rawPath: "/v1.0/users/bob@contoso.com/photo/$value",
			claims:  entraClaims(doraOID, "Dora Admin", map[string]string{"upn": "dora@contoso.com", "roles": "[Photos.ReadWrite.All]"}),
			headers: map[string]string{"content-type": "image/heic"},
			body:    func(t *testing.T) []byte { return samplePortraitHEIC(t, 800, 600) }, base64: true, format: imageproc.FormatHEIC,
			requestID: "Q1e3cgAAIAMEbXx=", status: 200, target: "users/bob@contoso.com",
		},
		{
			file: "apigw-v2-put-me.json", method: "PUT", rawPath: "/me/photo/$value",
			claims:  entraClaims(carolOID, "Carol Example", map[string]string{"preferred_username": "carol@contoso.com"}),
			headers: map[string]string{"content-type": "image/jpeg"},
			body:    func(t *testing.T) []byte { return samplePortraitJPEG(t, 320, 400) }, base64: true, format: imageproc.FormatJPEG,
			requestID: "Q1e3dgAAIAMEbXy=", status: 200, target: "users/" + carolOID,
		},
		{
			file: "apigw-v2-unauthorised.json", method: "PUT", rawPath: "/v1.0/me/photo/$value",
			headers: map[string]string{"content-type": "image/jpeg"},
			body:    func(t *testing.T) []byte { return samplePortraitJPEG(t, 64, 64) }, base64: true, format: imageproc.FormatJPEG,
			requestID: "Q1e3egAAIAMEbXz=", status: 401,
		},
		{
			file: "apigw-v2-post-upload.json", method: "POST", rawPath: "/v1.0/uploads",
			claims:  entraClaims(aliceOID, "Alice Example", map[string]string{"upn": "alice@contoso.com"}),
			headers: map[string]string{"content-type": "application/json"},
			body: func(*testing.T) []byte {
				return []byte(`{"target":"me","fileName":"IMG_0420.HEIC","size":6815744}`)
			},
			requestID: "Q1e3fgAAIAMEbX0=", status: 200, target: "users/" + aliceOID,
		},
	}
}

// build renders the sample as API Gateway would send it.
func (s apiSample) build(t *testing.T) events.APIGatewayV2HTTPRequest {
	body := s.body(t)
	headers := map[string]string{
		"accept": "*/*", "content-length": strconv.Itoa(len(body)), "host": "abc123defg.execute-api.eu-west-1.amazonaws.com",
		"user-agent": "graphphoto-sample/1.0", "x-amzn-trace-id": "Root=1-6929f0a0-3b2c1d0e9f8a7b6c5d4e3f2a",
		"x-forwarded-for": "203.0.113.10", "x-forwarded-port": "443", "x-forwarded-proto": "https",
	}
	if s.claims != nil {
		headers["authorization"] = sampleBearer
	}
	for k, v := range s.headers {
		headers[k] = v
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: s.rawPath, RawQueryString: "", Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", AccountID: "123456789012", Stage: "$default", RequestID: s.requestID,
			APIID: "abc123defg", DomainName: "abc123defg.execute-api.eu-west-1.amazonaws.com", DomainPrefix: "abc123defg",
			Time: "29/Nov/2025:03:00:00 +0000", TimeEpoch: 1764385200000,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: s.method, Path: s.rawPath, Protocol: "HTTP/1.1", SourceIP: "203.0.113.10", UserAgent: "graphphoto-sample/1.0",
			},
		},
		Body: string(body), IsBase64Encoded: s.base64,
	}
	if s.base64 {
		ev.Body = base64.StdEncoding.EncodeToString(body)
	}
	if s.claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: s.claims},
		}
	}
	return ev
}

// eventJSON is the sample file's text: the event without aws-lambda-go's always-present (and
// here empty) mTLS "authentication" block, keys sorted, two-space indent.
func eventJSON(t *testing.T, ev events.APIGatewayV2HTTPRequest) []byte {
	t.Helper()
	m := toMap(t, ev)
	delete(m["requestContext"].(map[string]any), "authentication")
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAPIEventSamples checks every events/ API sample: it decodes into aws-lambda-go's type and
// re-encodes to the same JSON, its body is what it declares, and answering it through the
// Lambda adapter, the handler, the real normaliser and the Graph emulator gives the expected
// status and target. With -update-events it writes the files first.
func TestAPIEventSamples(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "events")
	if *updateEvents {
		for _, s := range apiSamples() {
			if err := os.WriteFile(filepath.Join(dir, s.file), eventJSON(t, s.build(t)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	f := newFixture(t, clientSecret, func(o *Options) {
		// Presigning is local computation; no S3 server is needed to answer the upload sample.
		client := s3.New(s3.Options{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "example-secret-key", ""),
			BaseEndpoint: aws.String("https://s3.eu-west-1.amazonaws.com")})
		o.Uploads, o.UploadBucket, o.UploadPrefix = s3.NewPresignClient(client), uploadBucket, "uploads/"
	})
	lambda := NewLambda(f.handler, nil)
	for _, s := range apiSamples() {
		t.Run(s.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, s.file))
			if err != nil {
				t.Fatalf("%v (run go test ./internal/api -run TestAPIEventSamples -update-events)", err)
			}
			if len(raw) > 200<<10 {
				t.Errorf("%s is %d bytes; keep samples under 200 KB", s.file, len(raw))
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			var orig map[string]any
			if err := json.Unmarshal(raw, &orig); err != nil {
				t.Fatal(err)
			}
			again := toMap(t, ev)
			delete(again["requestContext"].(map[string]any), "authentication")
			if !reflect.DeepEqual(orig, again) {
				t.Errorf("%s does not survive a round trip through events.APIGatewayV2HTTPRequest", s.file)
			}
			decoded, err := DecodeEvent(raw)
			if err != nil || !reflect.DeepEqual(decoded, ev) {
				t.Errorf("DecodeEvent differs from encoding/json: %v", err)
			}
			if ev.Version != "2.0" || ev.RequestContext.HTTP.Method != s.method || ev.RawPath != s.rawPath || ev.IsBase64Encoded != s.base64 {
				t.Errorf("sample head: %s %s %s base64=%v", ev.Version, ev.RequestContext.HTTP.Method, ev.RawPath, ev.IsBase64Encoded)
			}
			body := []byte(ev.Body)
			if ev.IsBase64Encoded {
				if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatal(err)
				}
			}
			if s.format != 0 {
				if got := imageproc.Sniff(body); got != s.format {
					t.Errorf("body sniffs as %v, want %v", got, s.format)
				}
			}
			if ev.Headers["content-length"] != strconv.Itoa(len(body)) {
				t.Errorf("content-length header %q, body %d bytes", ev.Headers["content-length"], len(body))
			}

			res := lambda.Serve(context.Background(), ev)
			if res.StatusCode != s.status || res.Headers["request-id"] != s.requestID {
				t.Fatalf("answer %d request-id %q, want %d %q: %s", res.StatusCode, res.Headers["request-id"], s.status, s.requestID, res.Body)
			}
			if res.IsBase64Encoded || res.Headers["content-type"] != "application/json" {
				t.Errorf("JSON answers are text: base64=%v content-type %q", res.IsBase64Encoded, res.Headers["content-type"])
			}
			if s.status != http.StatusOK {
				var env envelope
				if err := json.Unmarshal([]byte(res.Body), &env); err != nil || env.Error.InnerError.RequestID != s.requestID {
					t.Errorf("error body %s", res.Body)
				}
				return
			}
			var got struct {
				Target string `json:"target"`
			}
			if err := json.Unmarshal([]byte(res.Body), &got); err != nil || got.Target != s.target {
				t.Errorf("answered target %q, want %q: %s", got.Target, s.target, res.Body)
			}
			if s.method == http.MethodPut {
				if _, ok := f.graph.Photo(tenantID, s.target); !ok {
					t.Errorf("no photo stored for %s", s.target)
				}
			}
		})
	}
}

// TestOversizedEvent builds the oversized sample (not stored: it is 6 MB) and checks the answer
// points at the upload route. The event is a valid Lambda payload: only the inline limit refuses it.
func TestOversizedEvent(t *testing.T) {
	ev := OversizedSample(t)
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(payload) > 6<<20 {
		t.Fatalf("oversized sample is %d bytes, over Lambda's 6 MiB payload: it could not reach the function", len(payload))
	}
	f := newFixture(t, clientSecret, nil)
	out, err := NewLambda(f.handler, nil).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	var env envelope
	if res.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal([]byte(res.Body), &env) != nil ||
		!strings.Contains(env.Error.Message, "POST /v1.0/uploads") || env.Error.InnerError.Reason != ReasonBodyTooLarge.String() {
		t.Fatalf("answer %d %s", res.StatusCode, res.Body)
	}
	assertNoGraphCalls(t, f)
}

// OversizedSample is apigw-v2-put-jpeg.json's request with a body one byte over the inline
// limit: a real JPEG followed by padding.
func OversizedSample(t *testing.T) events.APIGatewayV2HTTPRequest {
	s := apiSamples()[0]
	s.file, s.requestID = "apigw-v2-oversized.json", "Q1e3ggAAIAMEbX1="
	s.body = func(t *testing.T) []byte {
		b := samplePortraitJPEG(t, 640, 480)
		return append(b, make([]byte, DefaultMaxInlineBytes+1-len(b))...)
	}
	return s.build(t)
}

// samplePortrait is a synthetic head-and-shoulders picture (no real person, no licence).
func samplePortrait(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := float64(w)/2, float64(h)*0.42, float64(min(w, h))*0.22
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			c := color.RGBA{R: uint8(40 + 60*y/h), G: uint8(90 + 80*x/w), B: 170, A: 255} // backdrop
			if dx, dy := (fx-cx)/r, (fy-cy)/(r*1.25); dx*dx+dy*dy <= 1 {
				c = color.RGBA{R: 224, G: 172, B: 140, A: 255} // face
			} else if fy > cy+r*1.1 && (fx-cx)*(fx-cx) < (fy-cy)*(fy-cy)*1.6 {
				c = color.RGBA{R: 60, G: 60, B: 80, A: 255} // shoulders
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func samplePortraitJPEG(t *testing.T, w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, samplePortrait(w, h), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// samplePortraitHEIC encodes the portrait with libvips' heifsave (the vips command), only when
// regenerating the samples.
func samplePortraitHEIC(t *testing.T, w, h int) []byte {
	t.Helper()
	if !*updateEvents {
		t.Fatal("the HEIC body is only made with -update-events")
	}
	dir := t.TempDir()
	var b bytes.Buffer
	if err := png.Encode(&b, samplePortrait(w, h)); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "portrait.png"), filepath.Join(dir, "portrait.heic")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("vips", "heifsave", in, out, "--Q", "40", "--compression", "hevc").CombinedOutput(); err != nil {
		t.Fatalf("vips heifsave: %v: %s", err, msg)
	}
	heic, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return heic
}
