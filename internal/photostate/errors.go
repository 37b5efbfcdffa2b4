package photostate

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// The reasons of *Error. Stable: tags, logs and metrics carry them.
var (
	// ReasonRecordUnavailable: the state bucket did not answer (5xx, throttling, no answer, out
	// of time). Transient: the photo is tried again later.
	ReasonRecordUnavailable = reason.New("record_unavailable", reason.Transient, http.StatusServiceUnavailable, "ServiceUnavailable",
		"the photo service is unavailable; retry after the time in Retry-After")
	// ReasonRecordAccessDenied: the function may not write its records (the role's grants, or
	// the bucket is missing). Permanent until the deployment is fixed.
	ReasonRecordAccessDenied = reason.New("record_access_denied", reason.Failed, http.StatusBadGateway, "BadGateway",
		"the photo service's records cannot be written; quote the request-id when reporting it")
	// ReasonRecordError: any other refusal of the state bucket.
	ReasonRecordError = reason.New("record_error", reason.Failed, http.StatusBadGateway, "BadGateway",
		"the photo service's records cannot be written; quote the request-id when reporting it")
)

// Error is a failed call to the state bucket that stops a photo: a Graph write is never made
// without its marker (see the package doc), so when the marker cannot be written the photo is
// not written either.
type Error struct {
	Op     string // "s3 GetObject", "s3 PutObject", or "check" for a target with no record
	Status int    // HTTP status, 0 without an answer
	Code   string // S3's error code, if any
	Err    error

	reason  reason.Reason
	lost    bool // a conditional write found the record changed (412, 409) or gone (404)
	missing bool // a read found no record (404 NoSuchKey)
}

func (e *Error) Error() string {
	s := "photo record: " + e.Op + ": " + e.reason.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (%d %s)", e.Status, e.Code)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the SDK's error.
func (e *Error) Unwrap() error { return e.Err }

// Reason is the stable reason.
func (e *Error) Reason() reason.Reason { return e.reason }

// Transient reports whether the call may succeed later.
func (e *Error) Transient() bool { return e.reason.Transient() }

// classify sorts an S3 failure: a lost condition, a missing record, or a failure with a reason.
func classify(op string, err error) *Error {
	e := &Error{Op: "s3 " + op, Err: err}
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
		e.reason = ReasonRecordUnavailable
	case e.Status == http.StatusPreconditionFailed, e.Status == http.StatusConflict,
		e.Code == "PreconditionFailed", e.Code == "ConditionalRequestConflict":
		// S3 answers 409 ConditionalRequestConflict when another conditional write to the key is
		// in progress: the record is changing under us, which is a lost race like a 412.
		e.reason, e.lost = ReasonRecordError, true
	case e.Status == http.StatusNotFound && (e.Code == "NoSuchBucket"):
		e.reason = ReasonRecordAccessDenied
	case e.Status == http.StatusNotFound, e.Code == "NoSuchKey", e.Code == "NotFound":
		// A read: no record. A write If-Match: the record was there at our read and is gone now.
		e.reason, e.missing, e.lost = ReasonRecordError, true, true
	case e.Status == http.StatusForbidden, e.Code == "AccessDenied":
		e.reason = ReasonRecordAccessDenied
	case e.Status == 0, e.Status >= 500, e.Status == http.StatusTooManyRequests,
		e.Code == "SlowDown", e.Code == "RequestTimeout", e.Code == "Throttling", e.Code == "RequestTimeTooSkewed":
		e.reason = ReasonRecordUnavailable
	default:
		e.reason = ReasonRecordError
	}
	return e
}
