package s3notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Deliver takes one S3 event (one record) on its way to the function, as S3 hands an event to
// SQS. It should enqueue and return: versitygw waits at most 3 s for the webhook's answer.
type Deliver func(ctx context.Context, ev events.S3Event) error

// Options tune a Handler; the zero value delivers ObjectCreated events and logs nowhere.
type Options struct {
	// EventTypes selects what is delivered, in S3's notification notation without "s3:":
	// "ObjectCreated:*", "ObjectCreated:Put", "ObjectRemoved:*"... Empty means ObjectCreated:*,
	// what the upload bucket's notification is configured for. Others are acknowledged and
	// dropped, as S3 sends nothing for event types no configuration asks for (the S3 path tags
	// objects, which must not trigger it again).
	EventTypes []string
	// Buckets, when set, are the only buckets whose events are delivered: S3 notifies only for
	// a bucket with a notification configuration, and versitygw posts every bucket's events to
	// its one webhook. The others are acknowledged and dropped (the state bucket's records must
	// not trigger the S3 path).
	Buckets []string
	// Logger receives one line per notification; nil discards.
	Logger *slog.Logger
	// DeliverTimeout bounds each Deliver call; zero means 30 s. Delivery does not stop when
	// versitygw gives up waiting, so a slow queue does not lose an event.
	DeliverTimeout time.Duration
}

// maxBody bounds a notification body; one record is under 2 KB.
const maxBody = 1 << 20

// Handler is the http.Handler versitygw's --event-webhook-url points at.
type Handler struct {
	deliver Deliver
	types   []string
	buckets []string
	log     *slog.Logger
	timeout time.Duration
}

// NewHandler returns a handler that converts each notification with Convert and passes each
// selected event to deliver.
func NewHandler(deliver Deliver, opts Options) *Handler {
	h := &Handler{deliver: deliver, types: opts.EventTypes, buckets: opts.Buckets, log: opts.Logger, timeout: opts.DeliverTimeout}
	if len(h.types) == 0 {
		h.types = []string{"ObjectCreated:*"}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.timeout == 0 {
		h.timeout = 30 * time.Second
	}
	return h
}

// Selected reports whether an event name (without "s3:") matches the handler's event types.
func (h *Handler) Selected(name string) bool {
	for _, t := range h.types {
		if prefix, ok := strings.CutSuffix(t, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == t {
			return true
		}
	}
	return false
}

// ServeHTTP answers 204 when every selected event was delivered (or none was selected, or it
// was the test message), 400 with a reason code for a body that is not a versitygw
// notification, 405/413 for the wrong method or an oversized body, and 503 when Deliver failed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "notifications are POSTed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("a notification is at most %d bytes", maxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "unreadable_body", "reading the body failed")
		return
	}
	evs, err := Convert(body)
	if errors.Is(err, ErrTestEvent) {
		h.log.Info("s3 notification test event acknowledged")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var convErr *Error
	if errors.As(err, &convErr) {
		h.log.Warn("s3 notification refused", "reason", convErr.Reason, "error", convErr.Error())
		writeError(w, http.StatusBadRequest, convErr.Reason, convErr.Detail)
		return
	}
	if err != nil {
		h.log.Error("s3 notification refused", "error", err.Error())
		writeError(w, http.StatusBadRequest, "invalid_notification", "the notification could not be converted")
		return
	}
	// versitygw gives up after 3 s; the event must still reach the queue.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
	defer cancel()
	for _, ev := range evs {
		rec := ev.Records[0]
		attrs := []any{
			"event", rec.EventName, "bucket", rec.S3.Bucket.Name, "key", rec.S3.Object.URLDecodedKey,
			"sequencer", rec.S3.Object.Sequencer, "s3_request_id", rec.ResponseElements["x-amz-request-id"],
		}
		if !h.Selected(rec.EventName) || (len(h.buckets) > 0 && !slices.Contains(h.buckets, rec.S3.Bucket.Name)) {
			h.log.Debug("s3 notification not selected", attrs...)
			continue
		}
		if err := h.deliver(ctx, ev); err != nil {
			h.log.Error("s3 notification not delivered", append(attrs, "error", err.Error())...)
			writeError(w, http.StatusServiceUnavailable, "delivery_failed", "the event could not be delivered")
			return
		}
		h.log.Info("s3 notification delivered", attrs...)
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeError(w http.ResponseWriter, status int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"reason": reason, "message": message})
}
