package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// The reasons of *Error and *TargetError. Machines read their codes (S3 tags, API responses,
// metrics): never rename one.
var (
	// ReasonTargetNotFound: 404, no such user, group, contact or folder.
	ReasonTargetNotFound = reason.New("target_not_found", reason.Rejected, http.StatusNotFound, "Request_ResourceNotFound",
		"the user, group or contact does not exist")
	// ReasonPhotoNotFound: 404 ImageNotFound, the target has no photo (reads only).
	ReasonPhotoNotFound = reason.New("photo_not_found", reason.Rejected, http.StatusNotFound, "ImageNotFound",
		"the target has no photo")
	// ReasonAccessDenied: 403, a missing permission or consent; the deployment must fix it.
	ReasonAccessDenied = reason.New("access_denied", reason.Failed, http.StatusForbidden, "ErrorAccessDenied",
		"Microsoft Graph does not allow this app to change that photo")
	// ReasonImageRejected: 400 Validation*, 415, 500 "isn't an image", or the local JPEG check.
	ReasonImageRejected = reason.New("image_rejected", reason.Rejected, http.StatusBadRequest, "InvalidImage",
		"Microsoft Graph refused the photo")
	// ReasonTooLarge: 413, or over MaxPhotoBytes locally.
	ReasonTooLarge = reason.New("too_large", reason.Rejected, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		"the image is larger than this API accepts")
	// ReasonThrottled: 429.
	ReasonThrottled = reason.New("throttled", reason.Transient, http.StatusTooManyRequests, "TooManyRequests",
		"Microsoft Graph is throttling photo requests; retry after the time in Retry-After")
	// ReasonUnavailable: 503, 504, token endpoint 5xx.
	ReasonUnavailable = reason.New("unavailable", reason.Transient, http.StatusServiceUnavailable, "ServiceUnavailable", MessageUnavailable)
	// ReasonCredentialsInvalid: the token endpoint refused the app, or 401 after a fresh token.
	ReasonCredentialsInvalid = reason.New("credentials_invalid", reason.Failed, http.StatusBadGateway, "BadGateway", MessageSetup)
	// ReasonBadRequest: other 400s, 405.
	ReasonBadRequest = reason.New("bad_request", reason.Failed, http.StatusBadGateway, "BadGateway", MessageSetup)
	// ReasonNetwork: no HTTP answer (connection, TLS, timeout).
	ReasonNetwork = reason.New("network_error", reason.Transient, http.StatusServiceUnavailable, "ServiceUnavailable", MessageUnavailable)
	// ReasonGraph: anything else Graph answered.
	ReasonGraph = reason.New("graph_error", reason.Failed, http.StatusBadGateway, "BadGateway", MessageSetup)
	// ReasonRedirect: a 3xx from Graph, the token authority or Secrets Manager, never followed: an
	// upstream fault the caller cannot fix.
	ReasonRedirect = reason.New("redirect_refused", reason.Failed, http.StatusBadGateway, "BadGateway",
		"Microsoft Graph or its token authority answered with a redirect, which this API never follows; quote the request-id when reporting it")
	// ReasonBadTarget: a target that cannot be parsed or used (*TargetError).
	ReasonBadTarget = reason.New("bad_target", reason.Rejected, http.StatusBadRequest, "BadRequest",
		"the path does not name a user, group or contact photo")
)

// The API's answers to failures the caller did nothing to cause, shared by the reasons of this
// package and of secrets.
const (
	// MessageUnavailable is the answer to a transient failure: try again.
	MessageUnavailable = "the photo service or Microsoft Graph is unavailable; retry after the time in Retry-After"
	// MessageSetup is the answer to what the deployment or Graph must fix.
	MessageSetup = "Microsoft Graph could not be reached or refused this app's credentials; quote the request-id when reporting it"
)

// MaxPhotoBytes is the largest photo the client sends: Graph limits a photo write to 4 MB.
const MaxPhotoBytes = 4 * 1024 * 1024

// Error is a failed Graph or token call. Transient errors (429, 503, 504, network, token endpoint
// unavailable) may succeed later; the rest are permanent. Its text never holds a secret, an
// assertion or a token.
type Error struct {
	Op              string // what was attempted: "put photo", "get photo", "token", …
	Target          string // canonical target, if any
	Status          int    // HTTP status; 0 when there was no answer
	Code            string // Graph error code (UnknownError unwrapped), or the token endpoint's error
	Message         string // Graph's (or Entra's) message, trimmed
	RequestID       string // Graph's request-id
	ClientRequestID string // the client-request-id we sent
	RetryAfter      time.Duration
	Err             error // underlying cause (network errors), if any

	reason reason.Reason
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Target != "" {
		b.WriteString(" ")
		b.WriteString(e.Target)
	}
	b.WriteString(": ")
	b.WriteString(e.reason.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (status %d", e.Status)
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		}
		b.WriteString(")")
	} else if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" || e.ClientRequestID != "" {
		fmt.Fprintf(&b, " [request-id %s, client-request-id %s]", e.RequestID, e.ClientRequestID)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Transient reports whether retrying later may succeed.
func (e *Error) Transient() bool { return e.reason.Transient() }

// Reason is the stable reason.
func (e *Error) Reason() reason.Reason { return e.reason }

// classify maps a Graph answer to its reason (docs/graph-photo-api.md#classification); whether
// it is retried is the reason's class.
func classify(status int, code, message string) reason.Reason {
	if isRedirect(status) {
		return ReasonRedirect
	}
	switch status {
	case http.StatusTooManyRequests:
		return ReasonThrottled
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return ReasonUnavailable
	case http.StatusUnauthorized:
		return ReasonCredentialsInvalid
	case http.StatusForbidden:
		return ReasonAccessDenied
	case http.StatusNotFound:
		if strings.EqualFold(code, "ImageNotFound") || strings.Contains(message, "ImageNotFoundException") {
			return ReasonPhotoNotFound
		}
		return ReasonTargetNotFound
	case http.StatusRequestEntityTooLarge:
		return ReasonTooLarge
	case http.StatusUnsupportedMediaType:
		return ReasonImageRejected
	case http.StatusBadRequest:
		if strings.HasPrefix(code, "Validation") || strings.Contains(message, "isn't an image") {
			return ReasonImageRejected
		}
		return ReasonBadRequest
	case http.StatusMethodNotAllowed:
		return ReasonBadRequest
	case http.StatusInternalServerError:
		if strings.Contains(message, "isn't an image") {
			return ReasonImageRejected
		}
	}
	return ReasonGraph
}

// graphErrorBody is Graph's error envelope.
type graphErrorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// parseGraphError builds an *Error from a non-2xx Graph response.
func parseGraphError(op string, t Target, resp *http.Response, body []byte, clientReqID string, now time.Time) *Error {
	e := &Error{Op: op, Target: t.String(), Status: resp.StatusCode, ClientRequestID: clientReqID, RequestID: resp.Header.Get("request-id")}
	var env graphErrorBody
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message = unwrapUnknownError(env.Error.Code, env.Error.Message)
		if e.RequestID == "" {
			e.RequestID = env.Error.InnerError.RequestID
		}
	} else if len(body) > 0 {
		e.Message = strings.TrimSpace(string(body))
	}
	if isRedirect(resp.StatusCode) {
		e.Code, e.Message = "", DescribeRedirect("Graph", resp.Header.Get("Location"))
	}
	e.Message = clip(e.Message, 300)
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	e.reason = classify(e.Status, e.Code, e.Message)
	return e
}

// unwrapUnknownError handles the photo service's double wrapping: code "UnknownError" with a
// message that is itself JSON carrying the real errorCode (msgraph-sdk-dotnet#1247).
func unwrapUnknownError(code, message string) (string, string) {
	if code != "UnknownError" || !strings.HasPrefix(strings.TrimSpace(message), "{") {
		return code, message
	}
	var inner struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if json.Unmarshal([]byte(message), &inner) != nil || inner.ErrorCode == "" {
		return code, message
	}
	if inner.Message == "" {
		inner.Message = message
	}
	return inner.ErrorCode, inner.Message
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > 24*3600 {
			n = 24 * 3600
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func isRedirect(status int) bool { return status >= 300 && status < 400 }

// DescribeRedirect says, for an error, that who answered with a redirect and where it
// pointed. The Location is shown without its user info, query and fragment, which could carry
// anything the server chose.
func DescribeRedirect(who, location string) string {
	where := "no Location"
	if location != "" {
		where = "an unparseable Location"
		if u, err := url.Parse(location); err == nil {
			u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
			where = clip(u.String(), 200)
		}
	}
	return fmt.Sprintf("%s answered with a redirect to %s; redirects are never followed, so nothing was sent there", who, where)
}
