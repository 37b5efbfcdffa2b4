package graph

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/reason"
)

func TestErrorClassification(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		code       string
		reason     reason.Reason
		transient  bool
		wait       time.Duration
	}{
		{"throttled seconds", 429, `{"error":{"code":"activityLimitReached","message":"throttled"}}`, "12", "activityLimitReached", ReasonThrottled, true, 12 * time.Second},
		{"throttled date", 429, `{"error":{"code":"TooManyRequests","message":"x"}}`, now.Add(90 * time.Second).Format(http.TimeFormat), "TooManyRequests", ReasonThrottled, true, 90 * time.Second},
		{"date in the past", 503, `{"error":{"code":"serviceNotAvailable","message":"x"}}`, now.Add(-time.Minute).Format(http.TimeFormat), "serviceNotAvailable", ReasonUnavailable, true, 0},
		{"garbage retry-after", 503, ``, "soon", "", ReasonUnavailable, true, 0},
		{"gateway timeout", 504, `<html>gateway</html>`, "", "", ReasonUnavailable, true, 0},
		{"width too small", 400, `{"error":{"code":"ValidationWidthTooSmall","message":"Exception of type 'Microsoft.Fast.Profile.Core.Exception.ProfileBadRequestException' was thrown."}}`, "", "ValidationWidthTooSmall", ReasonImageRejected, false, 0},
		{"me with app token", 400, `{"error":{"code":"BadRequest","message":"/me request is only valid with delegated authentication flow."}}`, "", "BadRequest", ReasonBadRequest, false, 0},
		{"content type", 400, `{"error":{"code":"Request_BadRequest","message":"Content-Type was application/octet-stream, image/jpeg."}}`, "", "Request_BadRequest", ReasonBadRequest, false, 0},
		{"token refused", 401, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}`, "", "InvalidAuthenticationToken", ReasonCredentialsInvalid, false, 0},
		{"access denied", 403, `{"error":{"code":"ErrorAccessDenied","message":"Access is denied. Check credentials and try again."}}`, "", "ErrorAccessDenied", ReasonAccessDenied, false, 0},
		{"app-only group", 403, `{"error":{"code":"AppOnlyTokenNotSupportedForGroupUpdate","message":"x"}}`, "", "AppOnlyTokenNotSupportedForGroupUpdate", ReasonAccessDenied, false, 0},
		{"no user", 404, `{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist"}}`, "", "Request_ResourceNotFound", ReasonTargetNotFound, false, 0},
		{"no photo", 404, `{"error":{"code":"ImageNotFound","message":"Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown."}}`, "", "ImageNotFound", ReasonPhotoNotFound, false, 0},
		{"unknown error wrapping", 404, `{"error":{"code":"UnknownError","message":"{\"errorCode\":\"ErrorUserResolutionFailedUserDoesNotExist\",\"message\":\"User not found\",\"target\":null}"}}`, "", "ErrorUserResolutionFailedUserDoesNotExist", ReasonTargetNotFound, false, 0},
		{"unknown error plain", 500, `{"error":{"code":"UnknownError","message":""}}`, "", "UnknownError", ReasonGraph, false, 0},
		{"too large", 413, ``, "", "", ReasonTooLarge, false, 0},
		{"unsupported media", 415, `{"error":{"code":"UnsupportedMediaType","message":"x"}}`, "", "UnsupportedMediaType", ReasonImageRejected, false, 0},
		{"not an image", 500, `{"error":{"code":"ErrorInternalServerError","message":"The file you chose isn't an image. Please choose a different file."}}`, "", "ErrorInternalServerError", ReasonImageRejected, false, 0},
		{"other 500", 500, `{"error":{"code":"ErrorInternalServerError","message":"An internal server error occurred."}}`, "", "ErrorInternalServerError", ReasonGraph, false, 0},
		{"bad gateway", 502, ``, "", "", ReasonGraph, false, 0},
		{"redirect", 307, ``, "", "", ReasonRedirect, false, 0},
		{"redirect with a Graph-shaped body", 302, `{"error":{"code":"Moved","message":"follow me"}}`, "", "", ReasonRedirect, false, 0},
		{"method not allowed", 405, `{"error":{"code":"Request_BadRequest","message":"x"}}`, "", "Request_BadRequest", ReasonBadRequest, false, 0},
	}
	tg, _ := ParseTarget("users/alice@contoso.com")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Request-Id": {"rid-1"}}}
			if tc.retryAfter != "" {
				resp.Header.Set("Retry-After", tc.retryAfter)
			}
			e := parseGraphError("put photo", tg, resp, []byte(tc.body), "crid-1", now)
			if e.Code != tc.code || e.Reason() != tc.reason || e.Transient() != tc.transient || e.RetryAfter != tc.wait {
				t.Fatalf("got code %q reason %s transient %v wait %v", e.Code, e.Reason(), e.Transient(), e.RetryAfter)
			}
			msg := e.Error()
			if e.RequestID != "rid-1" || e.ClientRequestID != "crid-1" || !strings.Contains(msg, "rid-1") || !strings.HasPrefix(msg, "put photo users/alice@contoso.com: "+tc.reason.String()) {
				t.Errorf("error text %q", msg)
			}
		})
	}
}

func TestBackoffCap(t *testing.T) {
	c := &Client{opts: Options{BaseDelay: time.Second, MaxDelay: 10 * time.Second}}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := c.backoffCap(i + 1); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
	if got := c.backoffCap(200); got != 10*time.Second {
		t.Errorf("large attempt: %v", got)
	}
}
