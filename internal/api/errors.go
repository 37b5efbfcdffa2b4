package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// The reasons the API adds to those of photo, imageproc, graph and secrets. They appear in
// innerError.reason of error responses and in the log line of every request. Their messages are
// the defaults; most answers say more.
var (
	// ReasonNoIdentity: no JWT claims reached the function.
	ReasonNoIdentity = reason.New("no_identity", reason.Rejected, http.StatusUnauthorized, "InvalidAuthenticationToken",
		"no signed-in caller: send an access token for this API in the Authorization header")
	// ReasonBadClaims: claims without a usable oid, or unreadable roles, scopes or names.
	ReasonBadClaims = reason.New("bad_claims", reason.Rejected, http.StatusUnauthorized, "InvalidAuthenticationToken",
		"the access token's claims cannot be used")
	// ReasonForbidden: the caller may not touch this target.
	ReasonForbidden = reason.New("forbidden", reason.Rejected, http.StatusForbidden, "Authorization_RequestDenied",
		"you may not use this photo")
	// ReasonScopeRequired: a user's token without the write scope (API_USER_SCOPE) tried to write.
	ReasonScopeRequired = reason.New("scope_required", reason.Rejected, http.StatusForbidden, "Authorization_RequestDenied",
		"writing or deleting a photo needs the write scope in the access token")
	// ReasonAppOnlyMe: "me" with an app-only token, which has no user.
	ReasonAppOnlyMe = reason.New("app_only_me", reason.Rejected, http.StatusForbidden, "Authorization_RequestDenied",
		"me needs a signed-in user, and this is an app-only token: name the user, group or contact instead (users/{id})")
	// ReasonWrongAPI: the event came from another HTTP API than API_GATEWAY_ID.
	ReasonWrongAPI = reason.New("wrong_api", reason.Rejected, http.StatusForbidden, "Authorization_RequestDenied",
		"this function answers only the HTTP API it is deployed behind")
	// ReasonNoRoute: not one of the photo routes.
	ReasonNoRoute = reason.New("no_route", reason.Rejected, http.StatusNotFound, "NotFound",
		"no such route: this API serves only {target}/photo/$value, {target}/photo and POST /v1.0/uploads")
	// ReasonMethod: a method the route does not take.
	ReasonMethod = reason.New("method_not_allowed", reason.Rejected, http.StatusMethodNotAllowed, "MethodNotAllowed",
		"this method is not allowed here")
	// ReasonBodyTooLarge: over the inline limit (use POST /v1.0/uploads).
	ReasonBodyTooLarge = reason.New("body_too_large", reason.Rejected, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		"the body is over the limit of this route; upload larger originals with POST /v1.0/uploads")
	// ReasonEmptyBody: PUT or PATCH without an image.
	ReasonEmptyBody = reason.New("empty_body", reason.Rejected, http.StatusBadRequest, "BadRequest",
		"the request has no body; send the image bytes")
	// ReasonBadBody: an unreadable body, bad base64, bad JSON.
	ReasonBadBody = reason.New("bad_body", reason.Rejected, http.StatusBadRequest, "BadRequest",
		"the request could not be read")
	// ReasonMediaType: a Content-Type or Content-Encoding that is not an image upload.
	ReasonMediaType = reason.New("unsupported_media_type", reason.Rejected, http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		"send the image bytes as the body with Content-Type image/* (for example image/jpeg)")
	// ReasonDeleteContact: Graph deletes only user and group photos.
	ReasonDeleteContact = reason.New("delete_unsupported", reason.Rejected, http.StatusMethodNotAllowed, "MethodNotAllowed",
		"Microsoft Graph deletes only user and group photos, not a contact's")
	// ReasonUploadsDisabled: no upload bucket configured.
	ReasonUploadsDisabled = reason.New("uploads_disabled", reason.Rejected, http.StatusNotFound, "NotFound",
		"presigned uploads are not enabled on this API")
	// ReasonPresignFailed: the upload URL could not be signed.
	ReasonPresignFailed = reason.New("presign_failed", reason.Failed, http.StatusInternalServerError, "InternalServerError",
		"an upload URL could not be made")
)

// Error is an answer other than success, rendered in Graph's error envelope with the reason's
// status and code. Message is what the client reads: the reason's own, or one written here,
// never copied from an internal error, so no internal text, secret or token can reach a
// client. Cause is for the log line only.
type Error struct {
	why        reason.Reason
	Message    string        // "" for the reason's own
	RetryAfter time.Duration // sent as Retry-After on 429 and 503
	Allow      string        // sent as Allow on 405
	Cause      error
}

// Reason is the answer's reason: its innerError.reason, status and code.
func (e *Error) Reason() reason.Reason { return e.why }

// Status is the HTTP status of the answer.
func (e *Error) Status() int { return e.why.HTTPStatus() }

func (e *Error) message() string {
	if e.Message != "" {
		return e.Message
	}
	return e.why.Message()
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status(), e.why, e.message(), e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status(), e.why, e.message())
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
	if (e.Status() == http.StatusTooManyRequests || e.Status() == http.StatusServiceUnavailable) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
	}
	body, _ := json.Marshal(envelope{Error: envelopeError{
		Code:    e.why.GraphCode(),
		Message: e.message(),
		InnerError: innerError{
			Date:            now.UTC().Format("2006-01-02T15:04:05"),
			RequestID:       requestID,
			ClientRequestID: clientRequestID,
			Reason:          e.why.String(),
		},
	}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status())
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

// failure is the answer to a failed photo write, read or delete: the reason's status, code and
// message (photo.Classify), and Retry-After (Graph's own, else defaultRetryAfter) when it is
// transient.
func failure(r reason.Reason, transient bool, retryAfter time.Duration, cause error) *Error {
	e := &Error{why: r, Cause: cause}
	if transient {
		if retryAfter <= 0 {
			retryAfter = defaultRetryAfter
		}
		e.RetryAfter = retryAfter
	}
	var te *graph.TargetError
	if errors.As(cause, &te) {
		e.Message = r.Message() + ": " + te.Detail
	}
	return e
}

// failureOf classifies err (graph, secrets, imageproc or context errors) and maps it.
func failureOf(err error) *Error {
	_, why, transient := photo.Classify(err)
	var retryAfter time.Duration
	var ge *graph.Error
	if errors.As(err, &ge) {
		retryAfter = ge.RetryAfter
	}
	return failure(why, transient, retryAfter, err)
}
