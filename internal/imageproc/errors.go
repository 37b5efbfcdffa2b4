package imageproc

import (
	"fmt"
	"net/http"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// The refusals of the input. They are stable: they end up in S3 object tags, API responses and
// metrics. Every one is Rejected: the same bytes give the same answer.
var (
	ReasonUnsupportedFormat = reason.New("unsupported_format", reason.Rejected, http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		"the body is not an image format this API accepts (JPEG, PNG, WebP, GIF, TIFF, HEIC/HEIF or AVIF)")
	ReasonTooManyPixels = reason.New("too_many_pixels", reason.Rejected, http.StatusBadRequest, "ImageTooLarge",
		"the image has more pixels than this API decodes")
	ReasonTooSmall = reason.New("too_small", reason.Rejected, http.StatusBadRequest, "ImageTooSmall",
		"the image is smaller than 48x48 pixels, the smallest photo Microsoft 365 shows")
	ReasonCorruptImage = reason.New("corrupt_image", reason.Rejected, http.StatusBadRequest, "InvalidImage",
		"the image could not be decoded; it is damaged or truncated")
	ReasonBudgetUnreachable = reason.New("budget_unreachable", reason.Rejected, http.StatusBadRequest, "InvalidImage",
		"the image cannot be made small enough for a profile photo")
)

// Error is a refusal of the input. Every one is permanent: the same bytes give the same answer,
// so retrying is pointless.
type Error struct {
	Code reason.Reason // one of the Reason variables
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
func (e *Error) Reason() reason.Reason { return e.Code }

func refuse(r reason.Reason, err error, format string, args ...any) *Error {
	return &Error{Code: r, Msg: fmt.Sprintf(format, args...), Err: err}
}
