package onupload

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/graphphoto/graphphoto/internal/photo"
)

// S3 is the part of the S3 API the handler calls; *s3.Client implements it. IAM needs the same
// four actions (and their …Version forms on versioned buckets): s3:GetObject (HeadObject and
// GetObject), s3:GetObjectTagging and s3:PutObjectTagging.
type S3 interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
}

// Reasons of S3 failures. Stable: tags, logs and metrics carry them.
const (
	ReasonSourceNotFound = "source_not_found" // the object (version) is gone: deleted, or the event is stale
	ReasonSourceChanged  = "source_changed"   // the object was overwritten between HeadObject and GetObject
	ReasonS3AccessDenied = "s3_access_denied" // the function's role may not read or tag it
	ReasonS3Unavailable  = "s3_unavailable"   // 5xx, throttling (503 SlowDown), no answer: retry
	ReasonS3Error        = "s3_error"         // any other refusal
)

// S3Error is a failed S3 call, classified for retries.
type S3Error struct {
	Op     string // HeadObject, GetObject, GetObjectTagging, PutObjectTagging
	Status int    // HTTP status, 0 without an answer
	Code   string // S3's error code, if any
	Err    error

	reason    string
	transient bool
}

func (e *S3Error) Error() string {
	s := "s3 " + e.Op + ": " + e.reason
	if e.Status != 0 {
		s += fmt.Sprintf(" (%d %s)", e.Status, e.Code)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the SDK's error.
func (e *S3Error) Unwrap() error { return e.Err }

// Reason is the stable reason code.
func (e *S3Error) Reason() string { return e.reason }

// Transient reports whether the call may succeed later.
func (e *S3Error) Transient() bool { return e.transient }

// classifyS3 decides whether an S3 failure is worth retrying: no answer, 5xx, throttling and a
// spent deadline are; a missing object, a refusal and other 4xx are not.
func classifyS3(op string, err error) *S3Error {
	e := &S3Error{Op: op, Err: err}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		e.Status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.reason, e.transient = photo.ReasonTimeout, true // the invocation ran out of time
	case e.Status == http.StatusNotFound, e.Code == "NoSuchKey", e.Code == "NoSuchVersion", e.Code == "NotFound":
		e.reason = ReasonSourceNotFound
	case e.Status == http.StatusPreconditionFailed:
		// If-Match failed: a newer upload replaced the object; its own event brings it. Retrying
		// this one is still right on an unversioned bucket, where the key is all we have.
		e.reason, e.transient = ReasonSourceChanged, true
	case e.Status == http.StatusForbidden, e.Code == "AccessDenied":
		e.reason = ReasonS3AccessDenied
	case e.Status == 0, e.Status >= 500, e.Status == http.StatusTooManyRequests,
		e.Code == "SlowDown", e.Code == "RequestTimeout", e.Code == "Throttling", e.Code == "RequestTimeTooSkewed":
		e.reason, e.transient = ReasonS3Unavailable, true
	default:
		e.reason = ReasonS3Error
	}
	return e
}
