// Package photo is the one path both functions share (docs/architecture.md §1): source bytes →
// limits → normalise → credentials → Graph → outcome. Whether a failure is retried is decided
// here, once, from the typed errors of imageproc, graph and secrets.
package photo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
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
	// the object came after it).
	StatusSkipped Status = "skipped"
)

// The reasons the pipeline adds to those of imageproc, graph and secrets.
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
)

// Outcome is what happened to one photo, for tags, responses, logs and metrics.
type Outcome struct {
	Status          Status        `json:"status"`
	Reason          reason.Reason `json:"reason,omitzero"`
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
	Normalise       time.Duration `json:"-"`
	Graph           time.Duration `json:"-"`
	GraphStatus     int           `json:"graph_status,omitempty"`
	GraphRequestID  string        `json:"graph_request_id,omitempty"`
	ClientRequestID string        `json:"client_request_id,omitempty"`
	Attempts        int           `json:"graph_attempts,omitempty"`
	RetryAfter      time.Duration `json:"-"`
	// Err is the cause, for logs; it never holds a secret (the packages below guarantee it).
	Err error `json:"-"`
}

// LogAttrs are the outcome's fields for one slog line.
func (o Outcome) LogAttrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("status", string(o.Status)),
		slog.String("target", o.Target),
		slog.Int("source_bytes", o.SourceBytes),
		slog.Int64("normalise_ms", o.Normalise.Milliseconds()),
		slog.Int64("graph_ms", o.Graph.Milliseconds()),
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
	if o.Err != nil {
		attrs = append(attrs, slog.String("error", o.Err.Error()))
	}
	return attrs
}

// Uploader is the part of the Graph client the pipeline needs.
type Uploader interface {
	PutPhoto(ctx context.Context, t graph.Target, jpeg []byte) (graph.Result, error)
}

// Normaliser turns source bytes into a photo; imageproc.Normalise in production.
type Normaliser func(ctx context.Context, src []byte, opts imageproc.Options) (imageproc.Photo, error)

// Pipeline carries one photo from source bytes to Graph.
type Pipeline struct {
	normalise      Normaliser
	graph          Uploader
	options        imageproc.Options
	maxSourceBytes int
}

// New builds a pipeline. opts are the photo options (validated here, so a bad configuration
// stops the function at start).
func New(normalise Normaliser, uploader Uploader, opts imageproc.Options, maxSourceBytes int) (*Pipeline, error) {
	if normalise == nil || uploader == nil {
		return nil, errors.New("photo pipeline: normaliser and uploader are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("photo pipeline: %w", err)
	}
	if maxSourceBytes < 1 {
		return nil, fmt.Errorf("photo pipeline: source limit %d: want at least 1 byte", maxSourceBytes)
	}
	return &Pipeline{normalise: normalise, graph: uploader, options: opts.WithDefaults(), maxSourceBytes: maxSourceBytes}, nil
}

// MaxSourceBytes is the largest source the pipeline accepts; callers check it before
// downloading (S3 HeadObject, Content-Length).
func (p *Pipeline) MaxSourceBytes() int { return p.maxSourceBytes }

// Run sends src to target. The target is already resolved for app-only use (no "me").
func (p *Pipeline) Run(ctx context.Context, target graph.Target, src []byte) Outcome {
	o := Outcome{Target: target.String(), SourceBytes: len(src)}

	// limits
	if len(src) > p.maxSourceBytes {
		return o.finish(&limitError{size: len(src), limit: p.maxSourceBytes})
	}

	// normalise
	start := time.Now()
	photo, err := p.normalise(ctx, src, p.options)
	o.Normalise = time.Since(start)
	if err != nil {
		return o.finish(err)
	}
	o.SourceFormat, o.SourceWidth, o.SourceHeight = photo.SourceFormat.String(), photo.SourceWidth, photo.SourceHeight
	o.PhotoBytes, o.Width, o.Height, o.Quality = photo.Bytes, photo.Width, photo.Height, photo.Quality

	// credentials and Graph (the client takes its token from the credentials source)
	start = time.Now()
	res, err := p.graph.PutPhoto(ctx, target, photo.JPEG)
	o.Graph = time.Since(start)
	o.GraphStatus, o.GraphRequestID, o.ClientRequestID, o.Attempts = res.Status, res.RequestID, res.ClientRequestID, res.Attempts
	var ge *graph.Error
	if errors.As(err, &ge) {
		o.GraphStatus, o.RetryAfter = ge.Status, ge.RetryAfter
		if ge.RequestID != "" {
			o.GraphRequestID = ge.RequestID
		}
		if ge.ClientRequestID != "" {
			o.ClientRequestID = ge.ClientRequestID
		}
	}
	return o.finish(err)
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

func (o Outcome) finish(err error) Outcome {
	o.Status, o.Reason, o.Transient = Classify(err)
	o.Err = err
	return o
}

// Reject is the outcome for an input refused before the pipeline (no target, a source over the
// limit seen from its headers).
func Reject(target string, sourceBytes int, err error) Outcome {
	return Outcome{Target: target, SourceBytes: sourceBytes}.finish(err)
}

type limitError struct{ size, limit int }

func (e *limitError) Error() string {
	return fmt.Sprintf("source is %d bytes, over the %d-byte limit", e.size, e.limit)
}
func (e *limitError) Reason() reason.Reason { return ReasonSourceTooLarge }

// SourceTooLarge is the error for a source refused from its declared size.
func SourceTooLarge(size, limit int) error { return &limitError{size: size, limit: limit} }

// NoTarget is the error for an upload that names no Graph target.
func NoTarget(why string) error { return &noTargetError{why: why} }

type noTargetError struct{ why string }

func (e *noTargetError) Error() string         { return "no graph target: " + e.why }
func (e *noTargetError) Reason() reason.Reason { return ReasonNoTarget }
