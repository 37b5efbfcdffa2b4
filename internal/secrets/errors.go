package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithy "github.com/aws/smithy-go"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// Reasons are stable codes that logs, tags and metrics carry; callers compare Error.Reason
// against them.
const (
	// ReasonNotFound: the secret does not exist, is marked for deletion, or the id is malformed.
	ReasonNotFound = "secret_not_found"
	// ReasonAccessDenied: the function's role may not read the secret or decrypt it with its KMS key.
	ReasonAccessDenied = "secret_access_denied"
	// ReasonInvalid: the secret was read but its value is not the credentials JSON of
	// docs/architecture.md §6.
	ReasonInvalid = "secret_invalid"
	// ReasonUnavailable: Secrets Manager could not answer (throttling, service fault, network,
	// timeout) or answered with an error this package does not know.
	ReasonUnavailable = "secret_unavailable"
	// ReasonRedirect: Secrets Manager answered with a redirect (3xx), which is never followed.
	// It is the Graph client's code, so the outcome names it whichever endpoint redirected.
	ReasonRedirect = graph.ReasonRedirect
)

// Error is the failure of reading or parsing the credentials secret. Its text names the secret
// id, the operation and the field at fault; it never holds any part of the secret's value.
type Error struct {
	reason    string
	transient bool
	secretID  string
	msg       string
	err       error
}

// Reason returns one of the Reason constants.
func (e *Error) Reason() string { return e.reason }

// Transient reports whether trying again later may succeed (throttling, faults, network),
// as opposed to a problem that stays until someone fixes the secret or the role.
func (e *Error) Transient() bool { return e.transient }

// SecretID returns the id (name or ARN) of the secret that was read.
func (e *Error) SecretID() string { return e.secretID }

func (e *Error) Error() string {
	s := fmt.Sprintf("secrets: %s: secret %q: %s", e.reason, e.secretID, e.msg)
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
func permanentReason(code string) (string, bool) {
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
	return "", false
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
		e.reason, e.transient = ReasonRedirect, false
		e.msg = fmt.Sprintf("GetSecretValue got HTTP %d: %s", resp.HTTPStatusCode(),
			graph.DescribeRedirect("Secrets Manager", resp.Response.Header.Get("Location")))
		return e
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if reason, ok := permanentReason(apiErr.ErrorCode()); ok {
			e.reason, e.transient = reason, false
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
