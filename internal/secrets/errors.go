package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithy "github.com/aws/smithy-go"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// The reasons of *Error. Logs, tags and metrics carry their codes.
var (
	// ReasonNotFound: the secret does not exist, is marked for deletion, or the id is malformed.
	ReasonNotFound = reason.New("secret_not_found", reason.Failed, http.StatusBadGateway, "BadGateway", graph.MessageSetup)
	// ReasonAccessDenied: the function's role may not read the secret or decrypt it with its KMS key.
	ReasonAccessDenied = reason.New("secret_access_denied", reason.Failed, http.StatusBadGateway, "BadGateway", graph.MessageSetup)
	// ReasonInvalid: the secret was read but its value is not the credentials JSON of
	// docs/architecture.md §6.
	ReasonInvalid = reason.New("secret_invalid", reason.Failed, http.StatusBadGateway, "BadGateway", graph.MessageSetup)
	// ReasonUnavailable: Secrets Manager could not answer (throttling, service fault, network,
	// timeout) or answered with an error this package does not know. Transient, except for an
	// unknown client-side error code (see classify), which the error itself marks permanent.
	ReasonUnavailable = reason.New("secret_unavailable", reason.Transient, http.StatusServiceUnavailable, "ServiceUnavailable", graph.MessageUnavailable)
)

// A redirect (3xx) from Secrets Manager is graph.ReasonRedirect, which is never followed: the
// outcome names it whichever endpoint redirected.

// Error is the failure of reading or parsing the credentials secret. Its text names the secret
// id, the operation and the field at fault; it never holds any part of the secret's value.
type Error struct {
	reason    reason.Reason
	transient bool // the reason's class, but for an unknown client-side error code
	secretID  string
	msg       string
	err       error
}

// Reason returns one of the Reason variables, or graph.ReasonRedirect.
func (e *Error) Reason() reason.Reason { return e.reason }

// Transient reports whether trying again later may succeed (throttling, faults, network),
// as opposed to a problem that stays until someone fixes the secret or the role.
func (e *Error) Transient() bool { return e.transient }

// SecretID returns the id (name or ARN) of the secret that was read.
func (e *Error) SecretID() string { return e.secretID }

func (e *Error) Error() string {
	s := fmt.Sprintf("secrets: %s: secret %q: %s", e.reason.String(), e.secretID, e.msg)
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap gives errors.As access to the cause (an SDK error or a parse error).
func (e *Error) Unwrap() error { return e.err }

// permanentReason maps the API error codes that will not go away by retrying to their reason.
// ResourceNotFound, DecryptionFailure, InvalidRequest and InvalidParameter are the modelled
// errors of GetSecretValue; the others are the AWS-wide validation, authentication and
// authorisation errors a misconfigured role, id or endpoint gets.
func permanentReason(code string) (reason.Reason, bool) {
	switch code {
	case "ResourceNotFoundException",
		// The secret is scheduled for deletion.
		"InvalidRequestException",
		// The SecretId is not a valid name or ARN.
		"InvalidParameterException", "ValidationException":
		return ReasonNotFound, true
	case "AccessDeniedException",
		// Secrets Manager could not decrypt the value with the secret's KMS key: the role lacks
		// kms:Decrypt or the key is disabled. Either way an operator must act.
		"DecryptionFailure",
		"UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
		"IncompleteSignatureException", "MissingAuthenticationTokenException":
		return ReasonAccessDenied, true
	}
	return reason.Reason{}, false
}

// classify turns an error from GetSecretValue into an *Error.
func classify(secretID string, err error) *Error {
	e := &Error{reason: ReasonUnavailable, transient: true, secretID: secretID, msg: "GetSecretValue failed", err: err}

	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The invocation ran out of time or was cancelled; the secret may be fine.
		return e
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.Response != nil && resp.HTTPStatusCode() >= 300 && resp.HTTPStatusCode() < 400 {
		e.reason, e.transient = graph.ReasonRedirect, false
		e.msg = fmt.Sprintf("GetSecretValue got HTTP %d: %s", resp.HTTPStatusCode(),
			graph.DescribeRedirect("Secrets Manager", resp.Response.Header.Get("Location")))
		return e
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if r, ok := permanentReason(apiErr.ErrorCode()); ok {
			e.reason, e.transient = r, false
			return e
		}
		if apiErr.ErrorCode() == "ExpiredTokenException" {
			// The role's session credentials expired between refreshes; the SDK's credential
			// cache fetches new ones on the next call.
			return e
		}
		// The SDK's own retry classification: HTTP 5xx and 429, throttling and timeout codes.
		if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary || apiErr.ErrorFault() == smithy.FaultServer {
			return e
		}
		// An unknown client-side error code: retrying the same request will not help.
		e.transient = false
		return e
	}
	// No API answer at all: network errors, timeouts, a response that did not parse. The SDK
	// already retried the ones it knows; the rest are as likely to be passing as not, and a
	// later retry is bounded by Lambda's own retry policy.
	return e
}

func invalid(secretID, msg string, err error) *Error {
	return &Error{reason: ReasonInvalid, secretID: secretID, msg: msg, err: err}
}
