package photo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photostate"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// Status is the outcome recorded on S3 objects (graph-photo-status) and in metrics.
type Status string

const (
	// StatusSynced: Graph holds the photo.
	StatusSynced Status = "synced"
	// StatusRejected: the input cannot become a photo (bad image, bad or unknown target);
	// sending it again changes nothing.
	StatusRejected Status = "rejected"
	// StatusFailed: the input may be fine but we could not deliver it: transient (throttling,
	// outage: retry) or permanent on our side (credentials, permissions: fix the setup).
	StatusFailed Status = "failed"
	// StatusSkipped: nothing was sent on purpose (the S3 path: a newer version or a deletion of
	// the object came after it, or the event is no upload).
	StatusSkipped Status = "skipped"
)

// The reasons the job adds to those of imageproc, graph, secrets and the entry points.
var (
	// ReasonSourceTooLarge: the source is over SOURCE_MAX_BYTES.
	ReasonSourceTooLarge = reason.New("source_too_large", reason.Rejected, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		"the image is larger than this API accepts")
	// ReasonNoTarget: the upload names no user, group or contact.
	ReasonNoTarget = reason.New("no_target", reason.Rejected, http.StatusBadRequest, "BadRequest",
		"the upload names no user, group or contact")
	// ReasonInternal: an error no package classified. Retried, since nothing says the photo is at
	// fault.
	ReasonInternal = reason.New("internal_error", reason.Transient, http.StatusInternalServerError, "InternalServerError",
		"the photo could not be processed because of an internal error")
	// ReasonTimeout: out of time in this invocation; the photo itself may be fine.
	ReasonTimeout = reason.New("timeout", reason.Transient, http.StatusServiceUnavailable, "ServiceUnavailable", graph.MessageUnavailable)
	// ReasonUnchanged goes with StatusSynced: Graph already holds exactly this photo, so it was
	// not written again. The API answers 200 with "unchanged": true.
	ReasonUnchanged = reason.New("unchanged", reason.Synced, http.StatusOK, "", "")
)

// Outcome is what happened to one photo, for tags, responses, logs and metrics.
type Outcome struct {
	Status          Status        `json:"status"`
	Reason          reason.Reason `json:"reason,omitzero"` // zero when this run wrote the photo
	Transient       bool          `json:"transient,omitempty"`
	Target          string        `json:"target,omitempty"`
	SourceBytes     int           `json:"source_bytes"`
	SourceFormat    string        `json:"source_format,omitempty"`
	SourceWidth     int           `json:"source_width,omitempty"`
	SourceHeight    int           `json:"source_height,omitempty"`
	PhotoBytes      int           `json:"photo_bytes,omitempty"`
	Width           int           `json:"width,omitempty"`
	Height          int           `json:"height,omitempty"`
	Quality         int           `json:"quality,omitempty"`
	GraphStatus     int           `json:"graph_status,omitempty"`
	GraphRequestID  string        `json:"graph_request_id,omitempty"`
	ClientRequestID string        `json:"client_request_id,omitempty"`
	Attempts        int           `json:"graph_attempts,omitempty"`
	RetryAfter      time.Duration `json:"-"`
	// The photo's record (photostate), when SkipUnchanged is on: why the photo was written
	// (a photostate.Why*; "" when unchanged or not checked), why nothing was recorded after the
	// write, and what the record cost: S3 requests, Graph reads and time.
	Record         string        `json:"record,omitempty"`
	RecordNote     string        `json:"record_note,omitempty"`
	RecordRequests int           `json:"record_s3_requests,omitempty"`
	GraphReads     int           `json:"graph_reads,omitempty"`
	RecordTime     time.Duration `json:"-"`
	// Timings are how long each step took, in the order they ran, then "recorder" and "total".
	Timings []Timing `json:"-"`
	// Notes are what the entry point's adapters add to the log line (bucket, key, tags, caller).
	Notes []slog.Attr `json:"-"`
	// Err is the cause, for logs; it never holds a secret (the packages below guarantee it).
	Err error `json:"-"`
}

// Timing is one step's duration.
type Timing struct {
	Step string
	Took time.Duration
}

// Took is how long the named step took; 0 when it did not run.
func (o Outcome) Took(step string) time.Duration {
	for _, t := range o.Timings {
		if t.Step == step {
			return t.Took
		}
	}
	return 0
}

// Skipped reports whether nothing was sent on purpose: a skip, or an object synced already. Such
// an outcome has a reason of class Skipped or Synced; an unchanged photo is counted apart.
func (o Outcome) Skipped() bool {
	c := o.Reason.Class()
	return (c == reason.Skipped || c == reason.Synced) && !o.Unchanged()
}

// Unchanged reports whether the photo was not written because Graph already held it.
func (o Outcome) Unchanged() bool { return o.Status == StatusSynced && o.Reason == ReasonUnchanged }

func (o *Outcome) noteRecord(w *photostate.Write) {
	s := w.Stats()
	o.RecordRequests, o.GraphReads, o.RecordTime = s.S3Requests, s.GraphReads, s.Time
}

// Note adds attributes to the outcome's log line.
func (o *Outcome) Note(attrs ...slog.Attr) { o.Notes = append(o.Notes, attrs...) }

// LogAttrs are the outcome's fields for one slog line: the status, the reason, what the source
// and the photo were, Graph's ids, every step's time as {step}_ms (to the microsecond), and the
// adapters' notes.
func (o Outcome) LogAttrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("status", string(o.Status)),
		slog.String("target", o.Target),
		slog.Int("source_bytes", o.SourceBytes),
	}
	if !o.Reason.IsZero() {
		attrs = append(attrs, slog.String("reason", o.Reason.String()), slog.Bool("transient", o.Transient))
	}
	if o.SourceFormat != "" {
		attrs = append(attrs, slog.String("source_format", o.SourceFormat),
			slog.Int("source_width", o.SourceWidth), slog.Int("source_height", o.SourceHeight))
	}
	if o.PhotoBytes > 0 {
		attrs = append(attrs, slog.Int("photo_bytes", o.PhotoBytes), slog.Int("width", o.Width),
			slog.Int("height", o.Height), slog.Int("quality", o.Quality))
	}
	if o.GraphRequestID != "" || o.ClientRequestID != "" {
		attrs = append(attrs, slog.Int("graph_status", o.GraphStatus), slog.String("graph_request_id", o.GraphRequestID),
			slog.String("client_request_id", o.ClientRequestID), slog.Int("graph_attempts", o.Attempts))
	}
	if o.RecordRequests > 0 {
		attrs = append(attrs, slog.Int("record_s3_requests", o.RecordRequests), slog.Int("graph_reads", o.GraphReads),
			slog.Float64("record_ms", ms(o.RecordTime)))
		if o.Record != "" {
			attrs = append(attrs, slog.String("record", o.Record))
		}
		if o.RecordNote != "" {
			attrs = append(attrs, slog.String("record_note", o.RecordNote))
		}
	}
	for _, t := range o.Timings {
		attrs = append(attrs, slog.Float64(t.Step+"_ms", ms(t.Took)))
	}
	attrs = append(attrs, o.Notes...)
	var skip *skipError
	switch {
	case errors.As(o.Err, &skip):
		attrs = append(attrs, slog.String("skipped", skip.why.String()), slog.String("skip_detail", skip.detail))
	case o.Err != nil:
		attrs = append(attrs, slog.String("error", o.Err.Error()))
	}
	return attrs
}

// Classify names an error's outcome: its status, its reason and whether to retry. The status
// is the reason's class; whether to retry is the error's own say (Transient) when it has one,
// else the class.
func Classify(err error) (Status, reason.Reason, bool) {
	if err == nil {
		return StatusSynced, reason.Reason{}, false
	}
	var r interface{ Reason() reason.Reason }
	switch {
	case errors.As(err, &r) && !r.Reason().IsZero():
		why, transient := r.Reason(), r.Reason().Transient()
		if t, ok := r.(interface{ Transient() bool }); ok {
			transient = t.Transient()
		}
		return StatusOf(why.Class()), why, transient
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Out of time in this invocation; the photo itself may be fine.
		return StatusFailed, ReasonTimeout, true
	}
	return StatusFailed, ReasonInternal, true
}

// StatusOf is the status an outcome of a class has: refusals of the input are "rejected", both
// kinds of delivery failure "failed".
func StatusOf(c reason.Class) Status {
	switch c {
	case reason.Synced:
		return StatusSynced
	case reason.Skipped:
		return StatusSkipped
	case reason.Rejected:
		return StatusRejected
	}
	return StatusFailed
}

func (o *Outcome) finish(err error) {
	o.Status, o.Reason, o.Transient = Classify(err)
	o.Err = err
}

// Reject is the outcome of err for a photo that never reached the job's steps.
func Reject(target string, sourceBytes int, err error) Outcome {
	o := Outcome{Target: target, SourceBytes: sourceBytes}
	o.finish(err)
	return o
}

// Skip ends a job on purpose: nothing is sent, and the outcome has why's reason (of class
// Skipped or Synced) and status. Detail says what made it so, for the log line.
func Skip(why reason.Reason, detail string) error { return &skipError{why: why, detail: detail} }

type skipError struct {
	why    reason.Reason
	detail string
}

func (e *skipError) Error() string         { return "skipped: " + e.why.String() + ": " + e.detail }
func (e *skipError) Reason() reason.Reason { return e.why }

type limitError struct{ size, limit int64 }

func (e *limitError) Error() string {
	return fmt.Sprintf("source is %d bytes, over the %d-byte limit", e.size, e.limit)
}
func (e *limitError) Reason() reason.Reason { return ReasonSourceTooLarge }

// SourceTooLarge is the error for a source over the limit.
func SourceTooLarge(size, limit int64) error { return &limitError{size: size, limit: limit} }

// NoTarget is the error for an upload that names no Graph target.
func NoTarget(why string) error { return &noTargetError{why: why} }

type noTargetError struct{ why string }

func (e *noTargetError) Error() string         { return "no graph target: " + e.why }
func (e *noTargetError) Reason() reason.Reason { return ReasonNoTarget }

// notStartedError is a job left alone because the invocation is nearly out of time.
type notStartedError struct{ left time.Duration }

func (e *notStartedError) Error() string {
	return fmt.Sprintf("not started: %v left before the invocation's deadline", e.left.Round(time.Millisecond))
}
func (e *notStartedError) Reason() reason.Reason { return ReasonTimeout }
