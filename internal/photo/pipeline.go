// Package photo is the one path both functions share (docs/architecture.md §1): source bytes →
// limits → normalise → unchanged → credentials → Graph → remember → outcome. Whether a failure is
// retried is decided here, once, from the typed errors of imageproc, graph, secrets and
// photostate. With records (SkipUnchanged), a photo Graph already holds is not written again
// (docs/architecture.md §10).
package photo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photostate"
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

// Reasons the pipeline adds to those of imageproc, graph and secrets.
const (
	ReasonSourceTooLarge = "source_too_large"
	ReasonNoTarget       = "no_target"
	ReasonInternal       = "internal_error"
	ReasonTimeout        = "timeout"
	// ReasonUnchanged goes with StatusSynced: Graph already holds exactly this photo, so it was
	// not written again.
	ReasonUnchanged = "unchanged"
)

// Outcome is what happened to one photo, for tags, responses, logs and metrics.
type Outcome struct {
	Status          Status        `json:"status"`
	Reason          string        `json:"reason,omitempty"`
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
	// The photo's record (photostate), when SkipUnchanged is on: why the photo was written
	// (a photostate.Why*; "" when unchanged or not checked), why nothing was recorded after the
	// write, and what the record cost: S3 requests, Graph reads and time.
	Record         string        `json:"record,omitempty"`
	RecordNote     string        `json:"record_note,omitempty"`
	RecordRequests int           `json:"record_s3_requests,omitempty"`
	GraphReads     int           `json:"graph_reads,omitempty"`
	RecordTime     time.Duration `json:"-"`
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
	if o.Reason != "" {
		attrs = append(attrs, slog.String("reason", o.Reason), slog.Bool("transient", o.Transient))
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
			slog.Float64("record_ms", float64(o.RecordTime.Microseconds())/1000))
		if o.Record != "" {
			attrs = append(attrs, slog.String("record", o.Record))
		}
		if o.RecordNote != "" {
			attrs = append(attrs, slog.String("record_note", o.RecordNote))
		}
	}
	if o.Err != nil {
		attrs = append(attrs, slog.String("error", o.Err.Error()))
	}
	return attrs
}

// Unchanged reports whether the photo was not written because Graph already held it.
func (o Outcome) Unchanged() bool { return o.Status == StatusSynced && o.Reason == ReasonUnchanged }

// Uploader is the part of the Graph client the pipeline needs.
type Uploader interface {
	PutPhoto(ctx context.Context, t graph.Target, jpeg []byte) (graph.Result, error)
}

// Normaliser turns source bytes into a photo; imageproc.Normalise in production.
type Normaliser func(ctx context.Context, src []byte, opts imageproc.Options) (imageproc.Photo, error)

// Records are the photo records that let an unchanged photo be skipped; *photostate.Store.
type Records interface {
	Begin(t graph.Target, fp photostate.Fingerprint) *photostate.Write
}

// Pipeline carries one photo from source bytes to Graph.
type Pipeline struct {
	normalise      Normaliser
	graph          Uploader
	options        imageproc.Options
	maxSourceBytes int
	records        Records // nil: every photo is written
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

// SkipUnchanged makes the pipeline check each photo against its record before writing it and
// record it after (SKIP_UNCHANGED); call it once, at start.
func (p *Pipeline) SkipUnchanged(r Records) { p.records = r }

// MaxSourceBytes is the largest source the pipeline accepts; callers check it before
// downloading (S3 HeadObject, Content-Length).
func (p *Pipeline) MaxSourceBytes() int { return p.maxSourceBytes }

// optionsText is the canonical text of the options that shape the JPEG, digested into a
// photo's record: a change of size, crop, quality or budget makes every photo new.
func (p *Pipeline) optionsText() string {
	o := p.options
	return fmt.Sprintf("size=%d crop=%s quality=%d max_bytes=%d min_side=%d", o.Size, o.Crop, o.Quality, o.MaxBytes, o.MinSide)
}

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

	// unchanged: Graph already holds this very photo? Otherwise announce the write (the
	// record's marker), or stop: a write no marker announces could be recorded by another
	// writer as its own (internal/photostate).
	var w *photostate.Write
	if p.records != nil {
		w = p.records.Begin(target, photostate.NewFingerprint(photo.JPEG, p.optionsText()))
		v, err := w.Check(ctx)
		o.noteRecord(w)
		if err != nil {
			return o.finish(err)
		}
		if v.Unchanged {
			o.Status, o.Reason = StatusSynced, ReasonUnchanged
			return o
		}
		o.Record = v.Why
	}

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

	// remember: what was written and Graph's version of it now. Never changes the outcome.
	if err == nil && w != nil {
		if rerr := w.Remember(ctx); rerr != nil {
			o.RecordNote = rerr.Error()
		}
		o.noteRecord(w)
	}
	return o.finish(err)
}

func (o *Outcome) noteRecord(w *photostate.Write) {
	s := w.Stats()
	o.RecordRequests, o.GraphReads, o.RecordTime = s.S3Requests, s.GraphReads, s.Time
}

// Classify names an error's outcome: its status, stable reason and whether to retry.
func Classify(err error) (Status, string, bool) {
	if err == nil {
		return StatusSynced, "", false
	}
	var r interface {
		Reason() string
		Transient() bool
	}
	switch {
	case errors.As(err, &r):
		reason, transient := r.Reason(), r.Transient()
		return statusOf(reason, transient), reason, transient
	case errors.Is(err, context.DeadlineExceeded):
		// Out of time in this invocation; the photo itself may be fine.
		return StatusFailed, ReasonTimeout, true
	case errors.Is(err, context.Canceled):
		return StatusFailed, ReasonTimeout, true
	}
	return StatusFailed, ReasonInternal, true
}

// statusOf: refusals of the input are "rejected", everything else "failed".
func statusOf(reason string, transient bool) Status {
	if transient {
		return StatusFailed
	}
	switch reason {
	case imageproc.ReasonUnsupportedFormat, imageproc.ReasonTooManyPixels, imageproc.ReasonTooSmall,
		imageproc.ReasonCorruptImage, imageproc.ReasonBudgetUnreachable,
		graph.ReasonImageRejected, graph.ReasonTooLarge, graph.ReasonTargetNotFound,
		ReasonSourceTooLarge, ReasonNoTarget, "bad_target":
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
func (e *limitError) Reason() string  { return ReasonSourceTooLarge }
func (e *limitError) Transient() bool { return false }

// SourceTooLarge is the error for a source refused from its declared size.
func SourceTooLarge(size, limit int) error { return &limitError{size: size, limit: limit} }

// NoTarget is the error for an upload that names no Graph target.
func NoTarget(why string) error { return &noTargetError{why: why} }

type noTargetError struct{ why string }

func (e *noTargetError) Error() string   { return "no graph target: " + e.why }
func (e *noTargetError) Reason() string  { return ReasonNoTarget }
func (e *noTargetError) Transient() bool { return false }
