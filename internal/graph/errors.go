package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Stable reason codes of *Error (and "bad_target" of *TargetError). Machines read them: S3 tags,
// API responses, metrics. Never rename one.
const (
	ReasonTargetNotFound     = "target_not_found"    // 404: no such user, group, contact or folder
	ReasonPhotoNotFound      = "photo_not_found"     // 404 ImageNotFound: the target has no photo
	ReasonAccessDenied       = "access_denied"       // 403: missing permission or consent
	ReasonImageRejected      = "image_rejected"      // 400 Validation*, 415, 500 "isn't an image", local JPEG check
	ReasonTooLarge           = "too_large"           // 413, or over MaxPhotoBytes locally
	ReasonThrottled          = "throttled"           // 429 (transient)
	ReasonUnavailable        = "unavailable"         // 503, 504, token endpoint 5xx (transient)
	ReasonCredentialsInvalid = "credentials_invalid" // token endpoint refused the app, or 401 after a fresh token
	ReasonBadRequest         = "bad_request"         // other 400s, 405
	ReasonNetwork            = "network_error"       // no HTTP answer: connection, TLS, timeout (transient)
	ReasonGraph              = "graph_error"         // anything else Graph answered
	ReasonRedirect           = "redirect_refused"    // 3xx from Graph, the token authority or Secrets Manager: never followed
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

	reason    string
	transient bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Target != "" {
		b.WriteString(" ")
		b.WriteString(e.Target)
	}
	b.WriteString(": ")
	b.WriteString(e.reason)
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
func (e *Error) Transient() bool { return e.transient }

// Reason is the stable reason code.
func (e *Error) Reason() string { return e.reason }

// classify maps a Graph answer to a reason code and whether it is transient
// (docs/graph-photo-api.md#classification).
func classify(status int, code, message string) (string, bool) {
	if isRedirect(status) {
		return ReasonRedirect, false
	}
	switch status {
	case http.StatusTooManyRequests:
		return ReasonThrottled, true
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return ReasonUnavailable, true
	case http.StatusUnauthorized:
		return ReasonCredentialsInvalid, false
	case http.StatusForbidden:
		return ReasonAccessDenied, false
	case http.StatusNotFound:
		if strings.EqualFold(code, "ImageNotFound") || strings.Contains(message, "ImageNotFoundException") {
			return ReasonPhotoNotFound, false
		}
		return ReasonTargetNotFound, false
	case http.StatusRequestEntityTooLarge:
		return ReasonTooLarge, false
	case http.StatusUnsupportedMediaType:
		return ReasonImageRejected, false
	case http.StatusBadRequest:
		if strings.HasPrefix(code, "Validation") || strings.Contains(message, "isn't an image") {
			return ReasonImageRejected, false
		}
		return ReasonBadRequest, false
	case http.StatusMethodNotAllowed:
		return ReasonBadRequest, false
	case http.StatusInternalServerError:
		if strings.Contains(message, "isn't an image") {
			return ReasonImageRejected, false
		}
	}
	return ReasonGraph, false
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
	e.reason, e.transient = classify(e.Status, e.Code, e.Message)
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
