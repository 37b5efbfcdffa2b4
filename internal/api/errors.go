package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// Reasons the API adds to those of photo, imageproc, graph and secrets. They appear in
// innerError.reason of error responses and in the log line of every request.
const (
	ReasonNoIdentity      = "no_identity"            // 401: no JWT claims reached the function
	ReasonBadClaims       = "bad_claims"             // 401: claims without a usable oid, or unreadable roles/names
	ReasonForbidden       = "forbidden"              // 403: the caller may not touch this target
	ReasonScopeRequired   = "scope_required"         // 403: a user's token without the write scope (API_USER_SCOPE) tried to write
	ReasonAppOnlyMe       = "app_only_me"            // 403: "me" with an app-only token, which has no user
	ReasonWrongAPI        = "wrong_api"              // 403: the event came from another HTTP API than API_GATEWAY_ID
	ReasonNoRoute         = "no_route"               // 404: not one of the photo routes
	ReasonMethod          = "method_not_allowed"     // 405
	ReasonBodyTooLarge    = "body_too_large"         // 413: over the inline limit (use POST /v1.0/uploads)
	ReasonEmptyBody       = "empty_body"             // 400: PUT/PATCH without an image
	ReasonBadBody         = "bad_body"               // 400: unreadable body, bad base64, bad JSON
	ReasonMediaType       = "unsupported_media_type" // 415: a Content-Type or Content-Encoding that is not an image upload
	ReasonDeleteContact   = "delete_unsupported"     // 405: Graph deletes only user and group photos
	ReasonUploadsDisabled = "uploads_disabled"       // 404: no upload bucket configured
	ReasonPresignFailed   = "presign_failed"         // 500: the upload URL could not be signed
)

// Error is an answer other than success, rendered in Graph's error envelope. Message is what
// the client reads: it is written here, never copied from an internal error, so no internal
// text, secret or token can reach a client. Cause is for the log line only.
type Error struct {
	Status     int
	Code       string // Graph-style error code, e.g. InvalidAuthenticationToken
	Reason     string // stable reason code (innerError.reason)
	Message    string
	RetryAfter time.Duration // sent as Retry-After on 429 and 503
	Allow      string        // sent as Allow on 405
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Reason, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Reason, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// envelope is Graph's error body: {"error":{"code","message","innerError":{…}}}.
type envelope struct {
	Error envelopeError `json:"error"`
}

type envelopeError struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// write renders e. Headers set before (request-id, client-request-id) stay.
func (e *Error) write(w http.ResponseWriter, requestID, clientRequestID string, now time.Time) {
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	if (e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
	}
	body, _ := json.Marshal(envelope{Error: envelopeError{
		Code:    e.Code,
		Message: e.Message,
		InnerError: innerError{
			Date:            now.UTC().Format("2006-01-02T15:04:05"),
			RequestID:       requestID,
			ClientRequestID: clientRequestID,
			Reason:          e.Reason,
		},
	}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// retryAfterSeconds rounds up: a client told "0" would retry at once.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// defaultRetryAfter is what a client is told when Graph throttled or failed without saying how
// long to wait (the Graph client has already retried with backoff by then).
const defaultRetryAfter = 5 * time.Second

// failure maps a failed photo write, read or delete to its answer, from the stable reason and
// whether it is transient (photo.Classify). Messages are fixed per reason.
func failure(reason string, transient bool, retryAfter time.Duration, cause error) *Error {
	e := &Error{Reason: reason, Cause: cause}
	if transient {
		if retryAfter <= 0 {
			retryAfter = defaultRetryAfter
		}
		e.RetryAfter = retryAfter
		if reason == graph.ReasonThrottled {
			e.Status, e.Code, e.Message = http.StatusTooManyRequests, "TooManyRequests",
				"Microsoft Graph is throttling photo requests; retry after the time in Retry-After"
			return e
		}
		e.Status, e.Code, e.Message = http.StatusServiceUnavailable, "ServiceUnavailable",
			"the photo service or Microsoft Graph is unavailable; retry after the time in Retry-After"
		return e
	}
	switch reason {
	case "bad_target":
		e.Status, e.Code = http.StatusBadRequest, "BadRequest"
		e.Message = "the path does not name a user, group or contact photo"
		var te *graph.TargetError
		if errors.As(cause, &te) {
			e.Message += ": " + te.Detail
		}
	case imageproc.ReasonUnsupportedFormat:
		e.Status, e.Code = http.StatusUnsupportedMediaType, "UnsupportedMediaType"
		e.Message = "the body is not an image format this API accepts (JPEG, PNG, WebP, GIF, TIFF, HEIC/HEIF or AVIF)"
	case imageproc.ReasonTooManyPixels:
		e.Status, e.Code = http.StatusBadRequest, "ImageTooLarge"
		e.Message = "the image has more pixels than this API decodes"
	case imageproc.ReasonTooSmall:
		e.Status, e.Code = http.StatusBadRequest, "ImageTooSmall"
		e.Message = "the image is smaller than 48x48 pixels, the smallest photo Microsoft 365 shows"
	case imageproc.ReasonCorruptImage:
		e.Status, e.Code = http.StatusBadRequest, "InvalidImage"
		e.Message = "the image could not be decoded; it is damaged or truncated"
	case imageproc.ReasonBudgetUnreachable:
		e.Status, e.Code = http.StatusBadRequest, "InvalidImage"
		e.Message = "the image cannot be made small enough for a profile photo"
	case graph.ReasonImageRejected:
		e.Status, e.Code = http.StatusBadRequest, "InvalidImage"
		e.Message = "Microsoft Graph refused the photo"
	case photo.ReasonSourceTooLarge, graph.ReasonTooLarge:
		e.Status, e.Code = http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"
		e.Message = "the image is larger than this API accepts"
	case graph.ReasonTargetNotFound:
		e.Status, e.Code = http.StatusNotFound, "Request_ResourceNotFound"
		e.Message = "the user, group or contact does not exist"
	case graph.ReasonPhotoNotFound:
		e.Status, e.Code = http.StatusNotFound, "ImageNotFound"
		e.Message = "the target has no photo"
	case graph.ReasonAccessDenied:
		e.Status, e.Code = http.StatusForbidden, "ErrorAccessDenied"
		e.Message = "Microsoft Graph does not allow this app to change that photo"
	case graph.ReasonRedirect:
		// Graph or its token authority pointed elsewhere; the client never follows, so this is
		// an upstream fault the caller cannot fix.
		e.Status, e.Code = http.StatusBadGateway, "BadGateway"
		e.Message = "Microsoft Graph or its token authority answered with a redirect, which this API never follows; quote the request-id when reporting it"
	case photo.ReasonInternal:
		e.Status, e.Code = http.StatusInternalServerError, "InternalServerError"
		e.Message = "the photo could not be processed because of an internal error"
	default:
		// credentials_invalid, secret_*, graph_error, bad_request, …: the caller did nothing
		// wrong and cannot fix it; the deployment or Graph must.
		e.Status, e.Code = http.StatusBadGateway, "BadGateway"
		e.Message = "Microsoft Graph could not be reached or refused this app's credentials; quote the request-id when reporting it"
	}
	return e
}

// failureOf classifies err (graph, secrets, imageproc or context errors) and maps it.
func failureOf(err error) *Error {
	_, reason, transient := photo.Classify(err)
	var retryAfter time.Duration
	var ge *graph.Error
	if errors.As(err, &ge) {
		retryAfter = ge.RetryAfter
	}
	return failure(reason, transient, retryAfter, err)
}
