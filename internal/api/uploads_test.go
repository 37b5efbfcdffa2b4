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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

const uploadBucket = "photo-uploads"

// TestPresignedUploadAgainstS3 asks for an upload URL and uses it with a plain net/http client
// against a real S3 server (versitygw): the object lands under the prefix with its target
// metadata; a changed or missing target header, and a body of another size than the signed
// one, are refused by the server's signature check.
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
		up := ask(t, aliceClaims(), UploadRequest{Target: "me", FileName: `C:\Users\alice\My Photos\IMG 0420.HEIC`})
		if up.Method != http.MethodPut || up.Target != "users/"+aliceOID || up.MaxBytes != 20<<20 {
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
		q := mustQuery(t, up.URL)
		if !strings.Contains(q.Get("X-Amz-SignedHeaders"), "x-amz-meta-graph-target") {
			t.Errorf("signed headers %q do not bind the target", q.Get("X-Amz-SignedHeaders"))
		}
		if q.Get("X-Amz-Expires") != "600" || up.ExpiresAt.Sub(now).Round(time.Minute) != 10*time.Minute {
			t.Errorf("expires %s at %s; want 600 s from now (%s)", q.Get("X-Amz-Expires"), up.ExpiresAt, now)
		}

		// Tampering first: the object must not exist after the refused attempts.
		for name, edit := range map[string]func(http.Header){
			"changed target": func(h http.Header) { h.Set("x-amz-meta-graph-target", "users/"+bobOID) },
			"missing target": func(h http.Header) { h.Del("x-amz-meta-graph-target") },
		} {
			status, body := send(t, up, original, edit)
			if status != http.StatusForbidden || !strings.Contains(body, "SignatureDoesNotMatch") {
				t.Errorf("%s: S3 answered %d %s, want 403 SignatureDoesNotMatch", name, status, body)
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

	t.Run("signed size binds the body length", func(t *testing.T) {
		up := ask(t, aliceClaims(), UploadRequest{Target: "users/alice@contoso.com/contacts/" + aliceContact, Size: int64(len(original))})
		if up.Headers["content-length"] != "" && up.Headers["content-length"] != strconv.Itoa(len(original)) {
			t.Errorf("content-length header %q", up.Headers["content-length"])
		}
		if !strings.Contains(mustQuery(t, up.URL).Get("X-Amz-SignedHeaders"), "content-length") {
			t.Fatalf("content-length is not signed: %s", up.URL)
		}
		if status, body := send(t, up, append(append([]byte(nil), original...), 0), nil); status != http.StatusForbidden {
			t.Errorf("a longer body: S3 answered %d %s, want 403", status, body)
		}
		if status, body := send(t, up, original, nil); status != http.StatusOK {
			t.Fatalf("upload = %d: %s", status, body)
		}
		out, err := head(t, up.Key)
		if err != nil || out.Metadata["graph-target"] != "users/"+aliceOID+"/contacts/"+aliceContact {
			t.Errorf("head: %v, metadata %v", err, out)
		}
	})

	t.Run("admin names another user", func(t *testing.T) {
		up := ask(t, Claims{"oid": doraOID, "roles": "[Photos.ReadWrite.All]"}, UploadRequest{Target: "users/Bob%40contoso.com"})
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
			{"no claims", nil, `{"target":"me"}`, "application/json", 401, ReasonNoIdentity},
			{"other user", aliceClaims(), `{"target":"users/bob@contoso.com"}`, "application/json", 403, ReasonForbidden},
			{"group", aliceClaims(), `{"target":"groups/` + groupID + `"}`, "application/json", 403, ReasonForbidden},
			{"no target", aliceClaims(), `{}`, "application/json", 400, "bad_target"},
			{"bad target", aliceClaims(), `{"target":"users/../x"}`, "application/json", 400, "bad_target"},
			{"misspelt field", aliceClaims(), `{"traget":"me"}`, "application/json", 400, ReasonBadBody},
			{"not JSON", aliceClaims(), `target=me`, "application/json", 400, ReasonBadBody},
			{"two values", aliceClaims(), `{"target":"me"}{"target":"me"}`, "application/json", 400, ReasonBadBody},
			{"form", aliceClaims(), `target=me`, "application/x-www-form-urlencoded", 415, ReasonMediaType},
			{"negative size", aliceClaims(), `{"target":"me","size":-1}`, "application/json", 400, ReasonBadBody},
			{"over the source limit", aliceClaims(), `{"target":"me","size":20971521}`, "application/json", 413, "source_too_large"},
			{"huge body", aliceClaims(), `{"target":"me","fileName":"` + strings.Repeat("a", maxJSONBody) + `"}`, "application/json", 413, ReasonBodyTooLarge},
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
		rec := g.do(t, aliceClaims(), http.MethodPost, "/v1.0/uploads", []byte(`{"target":"me"}`), nil)
		if rec.Code != http.StatusNotFound || graphError(t, rec).Error.InnerError.Reason != ReasonUploadsDisabled {
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
