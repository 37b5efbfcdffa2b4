package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

const uploadBucket = "photo-uploads"

// TestPresignedUploadAgainstS3 asks for an upload URL and uses it with a plain net/http client
// against a real S3 server (versitygw): the object lands under the prefix with its target
// metadata and exactly the signed size. The server itself refuses a changed or missing target
// header, a body of another length and a request without the signed If-None-Match (403
// SignatureDoesNotMatch), and a second upload through the same grant (412 PreconditionFailed).
func TestPresignedUploadAgainstS3(t *testing.T) {
	s3srv := s3test.MustStart(t, s3test.Options{})
	ctx := context.Background()
	if err := s3srv.CreateBucket(ctx, uploadBucket); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := newFixture(t, clientSecret, func(o *Options) {
		o.Uploads = s3.NewPresignClient(s3srv.Client())
		o.UploadBucket = uploadBucket
		o.UploadPrefix = "incoming/"
		o.UploadURLTTL = 10 * time.Minute
		o.Now = func() time.Time { return now }
	})
	original := sourceJPEG(1200, 900)

	ask := func(t *testing.T, claims Claims, req UploadRequest) Upload {
		t.Helper()
		body, _ := json.Marshal(req)
		rec := f.do(t, claims, http.MethodPost, "/v1.0/uploads", body, map[string]string{"Content-Type": "application/json"})
		if rec.Code != http.StatusOK {
			t.Fatalf("POST /v1.0/uploads = %d: %s", rec.Code, rec.Body)
		}
		var up Upload
		if err := json.Unmarshal(rec.Body.Bytes(), &up); err != nil {
			t.Fatal(err)
		}
		return up
	}
	send := func(t *testing.T, up Upload, body []byte, edit func(http.Header)) (int, string) {
		t.Helper()
		req, err := http.NewRequest(up.Method, up.URL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range up.Headers {
			if strings.EqualFold(k, "Content-Length") {
				continue // net/http sets it from the body
			}
			req.Header.Set(k, v)
		}
		if edit != nil {
			edit(req.Header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			// S3 may answer 403 and close while a large body is still being sent: the request
			// was refused before its end, which is all a caller sees.
			if len(body) > 1<<20 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				return 0, "closed by the server while the body was sent"
			}
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	head := func(t *testing.T, key string) (*s3.HeadObjectOutput, error) {
		t.Helper()
		return s3srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(uploadBucket), Key: aws.String(key)})
	}

	t.Run("me, signed target lands", func(t *testing.T) {
		up := ask(t, aliceClaims(), UploadRequest{Target: "me", FileName: `C:\Users\alice\My Photos\IMG 0420.HEIC`, Size: int64(len(original))})
		if up.Method != http.MethodPut || up.Target != "users/"+aliceOID || up.MaxBytes != 20<<20 || up.Size != int64(len(original)) {
			t.Errorf("upload %+v", up)
		}
		if !strings.HasPrefix(up.Key, "incoming/") || !strings.HasSuffix(up.Key, "/IMG_0420.HEIC") || len(up.Key) != len("incoming/")+32+len("/IMG_0420.HEIC") {
			t.Errorf("key %q: want incoming/{32 hex}/IMG_0420.HEIC", up.Key)
		}
		if up.Headers["x-amz-meta-graph-target"] != "users/"+aliceOID {
			t.Errorf("headers %v: want the resolved target in x-amz-meta-graph-target", up.Headers)
		}
		if _, host := up.Headers["host"]; host {
			t.Error("Host is listed; HTTP libraries set it themselves")
		}
		if up.Headers["content-length"] != strconv.Itoa(len(original)) || up.Headers["if-none-match"] != "*" {
			t.Errorf("headers %v: want the exact length and if-none-match: *", up.Headers)
		}
		q := mustQuery(t, up.URL)
		for _, h := range []string{"x-amz-meta-graph-target", "content-length", "if-none-match"} {
			if !strings.Contains(q.Get("X-Amz-SignedHeaders"), h) {
				t.Errorf("signed headers %q do not bind %s", q.Get("X-Amz-SignedHeaders"), h)
			}
		}
		if q.Get("X-Amz-Expires") != "600" || up.ExpiresAt.Sub(now).Round(time.Minute) != 10*time.Minute {
			t.Errorf("expires %s at %s; want 600 s from now (%s)", q.Get("X-Amz-Expires"), up.ExpiresAt, now)
		}

		// Tampering first: the object must not exist after the refused attempts.
		for name, edit := range map[string]func(http.Header){
			"changed target":        func(h http.Header) { h.Set("x-amz-meta-graph-target", "users/"+bobOID) },
			"missing target":        func(h http.Header) { h.Del("x-amz-meta-graph-target") },
			"missing if-none-match": func(h http.Header) { h.Del("If-None-Match") },
		} {
			status, body := send(t, up, original, edit)
			if status != http.StatusForbidden || !strings.Contains(body, "SignatureDoesNotMatch") {
				t.Errorf("%s: S3 answered %d %s, want 403 SignatureDoesNotMatch", name, status, body)
			}
		}
		for name, body := range map[string][]byte{
			"a longer body":  append(append([]byte(nil), original...), 0),
			"a shorter body": original[:len(original)-1],
			"60 MiB":         make([]byte, 60<<20),
		} {
			status, text := send(t, up, body, nil)
			if (status != http.StatusForbidden || !strings.Contains(text, "SignatureDoesNotMatch")) && (status != 0 || name != "60 MiB") {
				t.Errorf("%s: S3 answered %d %.200s, want 403 SignatureDoesNotMatch", name, status, text)
			}
		}
		if _, err := head(t, up.Key); !isNotFound(err) {
			t.Fatalf("object exists after refused uploads: %v", err)
		}

		if status, body := send(t, up, original, nil); status != http.StatusOK {
			t.Fatalf("upload = %d: %s", status, body)
		}
		out, err := head(t, up.Key)
		if err != nil {
			t.Fatal(err)
		}
		// The grant is spent: the same request again, or other bytes of the same length, would
		// be a second photo around the API's throttle; S3 refuses both.
		other := sourceJPEG(1200, 900)
		other[len(other)/2] ^= 0xFF
		for name, body := range map[string][]byte{"the same bytes": original, "other bytes": other[:len(original)]} {
			if status, text := send(t, up, body, nil); status != http.StatusPreconditionFailed || !strings.Contains(text, "PreconditionFailed") {
				t.Errorf("second upload with %s: S3 answered %d %s, want 412 PreconditionFailed", name, status, text)
			}
		}
		if again, err := head(t, up.Key); err != nil || aws.ToString(again.ETag) != aws.ToString(out.ETag) {
			t.Errorf("the object changed after the refused uploads: %v, etag %v → %v", err, aws.ToString(out.ETag), aws.ToString(again.ETag))
		}
		if got := out.Metadata["graph-target"]; got != "users/"+aliceOID {
			t.Errorf("object metadata graph-target = %q", got)
		}
		if aws.ToInt64(out.ContentLength) != int64(len(original)) {
			t.Errorf("stored %d bytes, sent %d", aws.ToInt64(out.ContentLength), len(original))
		}
		// What the S3 path will read back parses to the same target.
		if tg, err := graph.ParseTarget(out.Metadata["graph-target"]); err != nil || tg.String() != "users/"+aliceOID {
			t.Errorf("metadata parses to %v, %v", tg, err)
		}
	})

	t.Run("own contact by upn", func(t *testing.T) {
		up := ask(t, aliceClaims(), UploadRequest{Target: "users/alice@contoso.com/contacts/" + aliceContact, Size: int64(len(original))})
		if status, body := send(t, up, original, nil); status != http.StatusOK {
			t.Fatalf("upload = %d: %s", status, body)
		}
		out, err := head(t, up.Key)
		if err != nil || out.Metadata["graph-target"] != "users/"+aliceOID+"/contacts/"+aliceContact {
			t.Errorf("head: %v, metadata %v", err, out)
		}
	})

	t.Run("admin names another user", func(t *testing.T) {
		up := ask(t, Claims{"oid": doraOID, "roles": "[Photos.ReadWrite.All]"}, UploadRequest{Target: "users/Bob%40contoso.com", Size: 1})
		if up.Headers["x-amz-meta-graph-target"] != "users/Bob@contoso.com" || !strings.HasSuffix(up.Key, "/photo") {
			t.Errorf("upload %+v", up)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			claims Claims
			body   string
			ctype  string
			status int
			reason string
		}{
			{"no claims", nil, `{"target":"me","size":1}`, "application/json", 401, ReasonNoIdentity.String()},
			{"other user", aliceClaims(), `{"target":"users/bob@contoso.com","size":1}`, "application/json", 403, ReasonForbidden.String()},
			{"group", aliceClaims(), `{"target":"groups/` + groupID + `","size":1}`, "application/json", 403, ReasonForbidden.String()},
			{"without the write scope", Claims{"oid": aliceOID, "scp": "User.Read"}, `{"target":"me","size":1}`, "application/json", 403, ReasonScopeRequired.String()},
			{"app-only me", Claims{"oid": doraOID, "roles": "[Photos.ReadWrite.All]"}, `{"target":"me","size":1}`, "application/json", 403, ReasonAppOnlyMe.String()},
			{"no size", aliceClaims(), `{"target":"me"}`, "application/json", 400, ReasonBadBody.String()},
			{"zero size", aliceClaims(), `{"target":"me","size":0}`, "application/json", 400, ReasonBadBody.String()},
			{"no target", aliceClaims(), `{}`, "application/json", 400, "bad_target"},
			{"bad target", aliceClaims(), `{"target":"users/../x"}`, "application/json", 400, "bad_target"},
			{"misspelt field", aliceClaims(), `{"traget":"me"}`, "application/json", 400, ReasonBadBody.String()},
			{"not JSON", aliceClaims(), `target=me`, "application/json", 400, ReasonBadBody.String()},
			{"two values", aliceClaims(), `{"target":"me"}{"target":"me"}`, "application/json", 400, ReasonBadBody.String()},
			{"form", aliceClaims(), `target=me`, "application/x-www-form-urlencoded", 415, ReasonMediaType.String()},
			{"negative size", aliceClaims(), `{"target":"me","size":-1}`, "application/json", 400, ReasonBadBody.String()},
			{"over the source limit", aliceClaims(), `{"target":"me","size":20971521}`, "application/json", 413, "source_too_large"},
			{"60 MiB", aliceClaims(), `{"target":"me","size":62914560}`, "application/json", 413, "source_too_large"},
			{"size as text", aliceClaims(), `{"target":"me","size":"1000"}`, "application/json", 400, ReasonBadBody.String()},
			{"huge body", aliceClaims(), `{"target":"me","fileName":"` + strings.Repeat("a", maxJSONBody) + `"}`, "application/json", 413, ReasonBodyTooLarge.String()},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := f.do(t, tt.claims, http.MethodPost, "/v1.0/uploads", []byte(tt.body), map[string]string{"Content-Type": tt.ctype})
				if rec.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
				}
				if r := graphError(t, rec).Error.InnerError.Reason; r != tt.reason {
					t.Errorf("reason %q, want %q", r, tt.reason)
				}
			})
		}
	})

	t.Run("disabled without a bucket", func(t *testing.T) {
		g := newFixture(t, clientSecret, nil)
		rec := g.do(t, aliceClaims(), http.MethodPost, "/v1.0/uploads", []byte(`{"target":"me","size":1}`), nil)
		if rec.Code != http.StatusNotFound || graphError(t, rec).Error.InnerError.Reason != ReasonUploadsDisabled.String() {
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

func TestCleanFileName(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "photo",
		"IMG_0001.HEIC":             "IMG_0001.HEIC",
		"../../etc/passwd":          "passwd",
		`C:\photos\me.jpg`:          "me.jpg",
		"..hidden":                  "hidden",
		"...":                       "photo",
		"été 2024.jpg":              "_t__2024.jpg",
		"a?b#c%2F.png":              "a_b_c_2F.png",
		"\x00\x01":                  "photo",
		strings.Repeat("x", 300):    strings.Repeat("x", 100),
		"photo/":                    "photo",
		"white space\tand\nnewline": "white_space_and_newline",
	} {
		if got := cleanFileName(in); got != want {
			t.Errorf("cleanFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	return errors.As(err, &nf)
}

// unboundPresigner signs like an SDK that would leave Content-Length and If-None-Match out of
// the signature (hoisted to the query, or dropped).
type unboundPresigner struct{ drop string }

func (p unboundPresigner) PresignPutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
	h := http.Header{"Host": {"s3.example.com"}, "X-Amz-Meta-Graph-Target": {in.Metadata["graph-target"]},
		"Content-Length": {strconv.FormatInt(aws.ToInt64(in.ContentLength), 10)}, "If-None-Match": {aws.ToString(in.IfNoneMatch)}}
	h.Del(p.drop)
	return &v4.PresignedHTTPRequest{URL: "https://s3.example.com/b/" + aws.ToString(in.Key) + "?X-Amz-Expires=900", Method: http.MethodPut, SignedHeader: h}, nil
}

// TestGrantRefusedUnlessBound: a grant whose length or single use is not in the signature is
// never handed out.
func TestGrantRefusedUnlessBound(t *testing.T) {
	for _, drop := range []string{"Content-Length", "If-None-Match"} {
		f := newFixture(t, clientSecret, func(o *Options) { o.Uploads, o.UploadBucket = unboundPresigner{drop: drop}, uploadBucket })
		rec := f.do(t, aliceClaims(), http.MethodPost, "/v1.0/uploads", []byte(`{"target":"me","size":1000}`), map[string]string{"Content-Type": "application/json"})
		if rec.Code != http.StatusInternalServerError || graphError(t, rec).Error.InnerError.Reason != ReasonPresignFailed.String() || strings.Contains(rec.Body.String(), "s3.example.com") {
			t.Errorf("without a signed %s: %d %s, want 500 %s and no URL", drop, rec.Code, rec.Body, ReasonPresignFailed)
		}
	}
	f := newFixture(t, clientSecret, func(o *Options) { o.Uploads, o.UploadBucket = unboundPresigner{}, uploadBucket })
	if rec := f.do(t, aliceClaims(), http.MethodPost, "/v1.0/uploads", []byte(`{"target":"me","size":1000}`), nil); rec.Code != http.StatusOK {
		t.Errorf("with both signed: %d %s", rec.Code, rec.Body)
	}
}
