package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// Presigner signs S3 PUT URLs (*s3.PresignClient).
type Presigner interface {
	PresignPutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// UploadRequest is the body of POST /v1.0/uploads.
type UploadRequest struct {
	// Target is any target form the photo routes take ("me", "users/{id}", …).
	Target string `json:"target"`
	// FileName is kept (cleaned) as the last part of the object key, for people reading the
	// bucket; optional.
	FileName string `json:"fileName,omitempty"`
	// Size is the original's exact length in bytes, 1 to the source limit; required. It is
	// signed as the upload's Content-Length, so the grant takes exactly that many bytes.
	Size int64 `json:"size"`
}

// Upload is the answer to POST /v1.0/uploads: send the original with Method to URL with exactly
// Headers (they are signed, so none can be changed or left out). A grant allows one PUT of
// exactly Size bytes to one fresh key, before ExpiresAt:
//   - content-length is signed: S3 refuses another length (403 SignatureDoesNotMatch);
//   - x-amz-meta-graph-target is signed: the target cannot be changed;
//   - if-none-match: * is signed: S3 stores the object only if the key does not exist yet, so
//     a second PUT through the same grant is refused (412 PreconditionFailed) and cannot write
//     a second photo around the API's throttle.
type Upload struct {
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	Key       string            `json:"key"`
	Target    string            `json:"target"`
	Size      int64             `json:"size"` // the only length the grant takes
	MaxBytes  int               `json:"maxBytes"`
	ExpiresAt time.Time         `json:"expiresAt"`
}

func (h *Handler) upload(x *exchange, caller Caller) {
	if h.opts.Uploads == nil || h.opts.UploadBucket == "" {
		h.fail(x, &Error{why: ReasonUploadsDisabled,
			Message: "presigned uploads are not enabled on this API"})
		return
	}
	var req UploadRequest
	if e := decodeJSON(x.r, &req); e != nil {
		h.fail(x, e)
		return
	}
	if strings.TrimSpace(req.Target) == "" {
		h.fail(x, &Error{why: graph.ReasonBadTarget,
			Message: `the body names no target: send {"target": "me"} or {"target": "users/{id}"}`})
		return
	}
	t, err := graph.ParseTarget(req.Target)
	if err != nil {
		h.fail(x, failure(graph.ReasonBadTarget, false, 0, err))
		return
	}
	t, aerr := authorise(caller, t, accessWrite, h.policy())
	if aerr != nil {
		h.fail(x, aerr)
		return
	}
	x.add(slog.String("target", t.String()))
	maxBytes := h.opts.Photos.MaxSourceBytes()
	switch {
	case req.Size <= 0:
		h.fail(x, &Error{why: ReasonBadBody,
			Message: `the body names no size: send the original's exact length in bytes, {"target": "me", "size": 123456}`})
		return
	case req.Size > int64(maxBytes):
		h.fail(x, &Error{why: photo.ReasonSourceTooLarge,
			Message: fmt.Sprintf("size %d is over the %d-byte limit for originals", req.Size, maxBytes)})
		return
	}
	key := h.opts.UploadPrefix + randomHex(16) + "/" + cleanFileName(req.FileName)
	// The S3 path parses the metadata with graph.ParseTarget, which takes the escaped form; it
	// is plain ASCII, as a signed header value must be. The key is fresh (128 random bits), so
	// If-None-Match: * lets exactly one PUT through; S3 and versitygw both evaluate it.
	in := &s3.PutObjectInput{
		Bucket:        aws.String(h.opts.UploadBucket),
		Key:           aws.String(key),
		Metadata:      map[string]string{h.opts.TargetMetadataKey: t.Path()},
		ContentLength: aws.Int64(req.Size),
		IfNoneMatch:   aws.String("*"),
	}
	signed, err := h.opts.Uploads.PresignPutObject(x.r.Context(), in, s3.WithPresignExpires(h.opts.UploadURLTTL))
	if err != nil {
		h.fail(x, &Error{why: ReasonPresignFailed,
			Message: "an upload URL could not be made", Cause: fmt.Errorf("presign put %s: %w", key, err)})
		return
	}
	// The grant is single-use and of one length only if both are signed; a presigner that
	// hoisted or dropped either would hand out a reusable, unbounded URL.
	for _, name := range []string{"Content-Length", "If-None-Match"} {
		if len(signed.SignedHeader.Values(name)) == 0 {
			h.fail(x, &Error{why: ReasonPresignFailed,
				Message: "an upload URL could not be made", Cause: fmt.Errorf("presign put %s: %s is not a signed header", key, name)})
			return
		}
	}
	up := Upload{URL: signed.URL, Method: signed.Method, Headers: map[string]string{}, Key: key, Target: t.String(),
		Size: req.Size, MaxBytes: maxBytes, ExpiresAt: expiry(signed.URL, h.now().Add(h.opts.UploadURLTTL))}
	for name, values := range signed.SignedHeader {
		if strings.EqualFold(name, "Host") {
			continue // the client's HTTP library sets it from the URL
		}
		up.Headers[strings.ToLower(name)] = strings.Join(values, ",")
	}
	x.add(slog.String("upload_key", key), slog.Time("upload_expires", up.ExpiresAt))
	h.writeJSON(x, http.StatusOK, up)
}

// decodeJSON reads a small JSON object, refusing unknown fields (a misspelt "target" must not
// pass silently).
func decodeJSON(r *http.Request, v any) *Error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		return &Error{why: ReasonMediaType,
			Message: "send a JSON body with Content-Type application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return &Error{why: ReasonBadBody,
			Message: "the request body could not be read", Cause: fmt.Errorf("read body: %w", err)}
	}
	if len(body) > maxJSONBody {
		return &Error{why: ReasonBodyTooLarge,
			Message: fmt.Sprintf("the JSON body is over %d bytes", maxJSONBody)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{why: ReasonBadBody,
			Message: `the body is not the JSON this route takes: {"target": "…", "size": 123456, "fileName": "…"}`,
			Cause:   fmt.Errorf("decode upload request: %w", err)}
	}
	if dec.More() {
		return &Error{why: ReasonBadBody, Message: "the body holds more than one JSON value"}
	}
	return nil
}

// cleanFileName keeps a readable, safe last key segment: the base name, with anything but
// letters, digits, ".", "-" and "_" replaced, no leading dots, at most 100 bytes.
func cleanFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if strings.Trim(s, "_") == "" {
		return "photo"
	}
	return s
}

// randomHex makes the unguessable part of a key: n random bytes, hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// expiry reads when a SigV4 presigned URL stops working (X-Amz-Date + X-Amz-Expires), which
// is what the client needs; fallback when the URL does not say.
func expiry(rawURL string, fallback time.Time) time.Time {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fallback.UTC().Truncate(time.Second)
	}
	q := u.Query()
	signedAt, err1 := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	secs, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err := errors.Join(err1, err2); err != nil {
		return fallback.UTC().Truncate(time.Second)
	}
	return signedAt.Add(time.Duration(secs) * time.Second).UTC()
}
