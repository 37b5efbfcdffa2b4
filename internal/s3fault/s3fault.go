// Package s3fault sorts a failed S3 call into what its callers decide on: whether it may succeed
// later, whether the object (or the bucket) is not there, whether a condition failed, whether
// the caller is refused. Both of the functions' S3 clients read it, the S3 path's (onupload) and
// the photo records' (photostate), each mapping the kinds to reasons of its own.
package s3fault

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind is what a failure means to the caller.
type Kind int

// The kinds, from the HTTP status and S3's error code of the answer (none without one).
const (
	// Other is any other refusal (4xx): the same request fails again.
	Other Kind = iota
	// OutOfTime: the caller's context ended (the invocation's deadline, a cancel).
	OutOfTime
	// Unavailable: no answer, 5xx, throttling (503 SlowDown, 429), RequestTimeout, or a skewed
	// clock (403 RequestTimeTooSkewed, which the SDK corrects): it may succeed later.
	Unavailable
	// NotFound: no such key or version (404 NoSuchKey, NoSuchVersion, NotFound).
	NotFound
	// NoBucket: no such bucket (404 NoSuchBucket): the deployment is wrong, not the object.
	NoBucket
	// Precondition: a condition failed (412 PreconditionFailed), or another conditional write to
	// the key was in progress (409 ConditionalRequestConflict): the object changed meanwhile.
	Precondition
	// Refused: the caller may not (403 AccessDenied).
	Refused
)

// Fault is a sorted failure.
type Fault struct {
	Kind   Kind
	Status int    // HTTP status; 0 without an answer
	Code   string // S3's error code, "" without one
}

// Of sorts err, an error of the SDK's S3 client (or one wrapping it).
func Of(err error) Fault {
	var f Fault
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		f.Status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		f.Code = api.ErrorCode()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		f.Kind = OutOfTime
	case f.Code == "SlowDown", f.Code == "RequestTimeout", f.Code == "Throttling", f.Code == "RequestTimeTooSkewed",
		f.Status == 0, f.Status >= 500, f.Status == http.StatusTooManyRequests:
		// The codes first: S3 answers a skewed clock with 403.
		f.Kind = Unavailable
	case f.Code == "NoSuchBucket":
		f.Kind = NoBucket
	case f.Status == http.StatusNotFound, f.Code == "NoSuchKey", f.Code == "NoSuchVersion", f.Code == "NotFound":
		f.Kind = NotFound
	case f.Status == http.StatusPreconditionFailed, f.Status == http.StatusConflict,
		f.Code == "PreconditionFailed", f.Code == "ConditionalRequestConflict":
		f.Kind = Precondition
	case f.Status == http.StatusForbidden, f.Code == "AccessDenied":
		f.Kind = Refused
	default:
		f.Kind = Other
	}
	return f
}
