package imageproc

import "fmt"

// Reason codes are stable: they end up in S3 object tags, API responses and metrics.
const (
	ReasonUnsupportedFormat = "unsupported_format"
	ReasonTooManyPixels     = "too_many_pixels"
	ReasonTooSmall          = "too_small"
	ReasonCorruptImage      = "corrupt_image"
	ReasonBudgetUnreachable = "budget_unreachable"
)

// Error is a refusal of the input. Every one is permanent: the same bytes give the same answer,
// so retrying is pointless.
type Error struct {
	Code string // one of the Reason* constants
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("normalise image: %s: %v", e.Msg, e.Err)
	}
	return "normalise image: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Transient is always false: an image that fails now fails again.
func (e *Error) Transient() bool { return false }

// Reason is the stable machine-readable cause.
func (e *Error) Reason() string { return e.Code }

func refuse(reason string, err error, format string, args ...any) *Error {
	return &Error{Code: reason, Msg: fmt.Sprintf(format, args...), Err: err}
}
