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
	"github.com/graphphoto/graphphoto/internal/reason"
)

// S3 is the part of the S3 API the handler calls; *s3.Client implements it. IAM needs the same
// actions (and their …Version forms on versioned buckets): s3:GetObject, s3:GetObjectTagging and
// s3:PutObjectTagging, and s3:ListBucket so that a missing key is a 404, not a 403.
type S3 interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
}

// The reasons of S3 failures. Stable: tags, logs and metrics carry them. The API never meets
// them; their HTTP answers say what each would be.
var (
	// ReasonSourceNotFound: the object (version) is gone: deleted, or the event is stale.
	ReasonSourceNotFound = reason.New("source_not_found", reason.Failed, http.StatusNotFound, "NotFound",
		"the uploaded object is gone")
	// ReasonSourceChanged: the object was overwritten while it was read.
	ReasonSourceChanged = reason.New("source_changed", reason.Transient, http.StatusConflict, "Conflict",
		"the uploaded object changed while it was read; retry")
	// ReasonS3AccessDenied: the function's role may not read or tag it.
	ReasonS3AccessDenied = reason.New("s3_access_denied", reason.Failed, http.StatusBadGateway, "BadGateway",
		"the function may not read or tag the uploaded object")
	// ReasonS3Unavailable: 5xx, throttling (503 SlowDown), no answer: retry.
	ReasonS3Unavailable = reason.New("s3_unavailable", reason.Transient, http.StatusServiceUnavailable, "ServiceUnavailable",
		"S3 is unavailable; retry")
	// ReasonS3Error: any other refusal.
	ReasonS3Error = reason.New("s3_error", reason.Failed, http.StatusBadGateway, "BadGateway",
		"S3 refused a request for the uploaded object")
)

// S3Error is a failed S3 call, classified for retries.
type S3Error struct {
	Op     string // GetObject, GetObjectTagging, PutObjectTagging
	Status int    // HTTP status, 0 without an answer
	Code   string // S3's error code, if any
	Err    error

	reason reason.Reason
}

func (e *S3Error) Error() string {
	s := "s3 " + e.Op + ": " + e.reason.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (%d %s)", e.Status, e.Code)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the SDK's error.
func (e *S3Error) Unwrap() error { return e.Err }

// Reason is the stable reason.
func (e *S3Error) Reason() reason.Reason { return e.reason }

// Transient reports whether the call may succeed later.
func (e *S3Error) Transient() bool { return e.reason.Transient() }

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
		e.reason = photo.ReasonTimeout // the invocation ran out of time
	case e.Status == http.StatusNotFound, e.Code == "NoSuchKey", e.Code == "NoSuchVersion", e.Code == "NotFound":
		e.reason = ReasonSourceNotFound
	case e.Status == http.StatusPreconditionFailed:
		// A precondition (If-Match) failed: the object changed while it was read; a newer
		// upload's own event brings it. Retrying this one is still right on an unversioned
		// bucket, where the key is all we have.
		e.reason = ReasonSourceChanged
	case e.Status == 0, e.Status >= 500, e.Status == http.StatusTooManyRequests,
		e.Code == "SlowDown", e.Code == "RequestTimeout", e.Code == "Throttling", e.Code == "RequestTimeTooSkewed":
		// Before the refusals: S3 answers a skewed clock with 403 RequestTimeTooSkewed, which
		// the SDK corrects on its next try.
		e.reason = ReasonS3Unavailable
	case e.Status == http.StatusForbidden, e.Code == "AccessDenied":
		e.reason = ReasonS3AccessDenied
	default:
		e.reason = ReasonS3Error
	}
	return e
}
