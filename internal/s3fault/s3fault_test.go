package s3fault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/graphphoto/graphphoto/internal/s3fault"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		kind   s3fault.Kind
		status int
		code   string
	}{
		{s3test.APIError("GetObject", 503, "SlowDown", nil), s3fault.Unavailable, 503, "SlowDown"},
		{s3test.APIError("GetObject", 500, "InternalError", nil), s3fault.Unavailable, 500, "InternalError"},
		{s3test.APIError("GetObject", 429, "TooManyRequests", nil), s3fault.Unavailable, 429, "TooManyRequests"},
		{s3test.APIError("GetObject", 400, "RequestTimeout", nil), s3fault.Unavailable, 400, "RequestTimeout"},
		{s3test.APIError("GetObject", 403, "RequestTimeTooSkewed", nil), s3fault.Unavailable, 403, "RequestTimeTooSkewed"},
		{s3test.NetworkError("GetObject"), s3fault.Unavailable, 0, ""},
		{fmt.Errorf("dial: %w", errors.New("connection refused")), s3fault.Unavailable, 0, ""},
		{s3test.APIError("GetObject", 404, "NoSuchKey", nil), s3fault.NotFound, 404, "NoSuchKey"},
		{s3test.APIError("GetObject", 404, "NoSuchVersion", nil), s3fault.NotFound, 404, "NoSuchVersion"},
		{s3test.APIError("GetObject", 404, "NoSuchKey", http.Header{"X-Amz-Delete-Marker": {"true"}}), s3fault.NotFound, 404, "NoSuchKey"},
		{s3test.APIError("PutObject", 404, "NoSuchBucket", nil), s3fault.NoBucket, 404, "NoSuchBucket"},
		{s3test.APIError("PutObject", 412, "PreconditionFailed", nil), s3fault.Precondition, 412, "PreconditionFailed"},
		{s3test.APIError("PutObject", 409, "ConditionalRequestConflict", nil), s3fault.Precondition, 409, "ConditionalRequestConflict"},
		{s3test.APIError("GetObject", 403, "AccessDenied", nil), s3fault.Refused, 403, "AccessDenied"},
		{s3test.APIError("PutObjectTagging", 400, "InvalidTag", nil), s3fault.Other, 400, "InvalidTag"},
		{fmt.Errorf("GetObject: %w", context.DeadlineExceeded), s3fault.OutOfTime, 0, ""},
		{context.Canceled, s3fault.OutOfTime, 0, ""},
	} {
		if f := s3fault.Of(tc.err); f.Kind != tc.kind || f.Status != tc.status || f.Code != tc.code {
			t.Errorf("%v: %+v, want kind %d status %d code %q", tc.err, f, tc.kind, tc.status, tc.code)
		}
	}
}
