// Package onupload is the S3 path's handler (docs/architecture.md §4): it decodes S3 notifications,
// SQS batches, S3 Batch Operations jobs and EventBridge events, runs each named object through the
// photo job (internal/photo) and answers the trigger so that only transient failures are retried.
// It needs no AWS to run: the S3 calls go through the small S3 interface.
//
// The flow, event → target → image → credentials → Graph → outcome:
//
//	Handle: Decode the payload into items and objects (event.go)
//	  └ per object, photo.Pipeline.Run with this package's two adapters (object.go):
//	      source   the key's current version, pinned; skipped as superseded when the event's is
//	               not it, as already synced when its tags say so; its target (ResolveTarget);
//	               its bytes, read by the job within SOURCE_MAX_BYTES
//	      limits → normalise → graph   (the job's own steps)
//	      recorder the outcome merged into the version's tags (MergeTags)
//	      reporter one JSON log line, one EMF metrics line
//	Answer: the trigger's terms: batchItemFailures (SQS), result codes (Batch Operations), an
//	        error that makes Lambda retry (asynchronous invokes)
package onupload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/graphphoto/graphphoto/internal/config"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// Pipeline runs photo jobs; *photo.Pipeline implements it.
type Pipeline interface {
	Run(ctx context.Context, j photo.Job) photo.Outcome
}

// Options configure a Handler.
type Options struct {
	// MetadataKey is the user metadata naming the target (TARGET_METADATA_KEY); default
	// config.DefaultTargetMetadataKey.
	MetadataKey string
	// KeyPrefix is the key prefix before {target}/{file} (TARGET_KEY_PREFIX).
	KeyPrefix string
	// MetadataPrefixes, when set, are the only key prefixes under which the metadata target is
	// honoured (TARGET_METADATA_PREFIXES); elsewhere the key layout alone names the target.
	MetadataPrefixes []string
	// Headroom is kept free before the invocation's deadline to record tags and answer; work on
	// an object gets a deadline this much earlier. Default 2 s.
	Headroom time.Duration
	// MinWork is the least time, beyond Headroom, worth starting an object with; an object with
	// less left is reported as a transient timeout without being touched. Default 1 s.
	MinWork time.Duration
	// Logger gets one line per object (obs.NewLogger in production); default discards.
	Logger *slog.Logger
	// Metrics gets one EMF line per object; nil writes none.
	Metrics photo.MetricsWriter
}

// Handler processes the S3 path's events. Build one per process with New.
type Handler struct {
	s3       S3
	pipeline Pipeline
	opts     Options
	log      *slog.Logger
	report   photo.Reporter
}

// New returns a handler over an S3 client and a photo pipeline.
func New(client S3, p Pipeline, opts Options) (*Handler, error) {
	if client == nil || p == nil {
		return nil, errors.New("onupload: an S3 client and a photo pipeline are required")
	}
	if opts.Headroom < 0 || opts.MinWork < 0 {
		return nil, errors.New("onupload: negative headroom or minimum work time")
	}
	if opts.MetadataKey == "" {
		opts.MetadataKey = config.DefaultTargetMetadataKey
	}
	if opts.Headroom == 0 {
		opts.Headroom = 2 * time.Second
	}
	if opts.MinWork == 0 {
		opts.MinWork = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{s3: client, pipeline: p, opts: opts, log: log, report: photo.Reporter{Log: log, Metrics: opts.Metrics}}, nil
}

// Result is what happened to one object.
type Result struct {
	Object  Object
	Outcome photo.Outcome
	// VersionID is the version worked on: the event's, or the one current when it was read.
	VersionID string
	// SupersededBy says, for a superseded object, what is current instead.
	SupersededBy string
	Tagged       bool
	TagNote      string // why tags were not (fully) written
}

// Transient reports whether the trigger should deliver the object again.
func (r Result) Transient() bool { return r.Outcome.Transient }

// ItemResult is the results of one Item.
type ItemResult struct {
	Item    Item
	Results []Result
}

// Transient reports whether any object of the item failed transiently.
func (r ItemResult) Transient() bool {
	for _, o := range r.Results {
		if o.Transient() {
			return true
		}
	}
	return false
}

// Handle is the Lambda entry point: it decodes the payload, processes every object and answers
// in the trigger's terms (see Answer).
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	ev, err := Decode(payload)
	if err != nil {
		// No known shape: the trigger is wired to the wrong source. Failing makes it visible (Lambda
		// errors metric, on-failure destination) instead of dropping events silently.
		h.log.ErrorContext(ctx, "event not processed", "reason", reasonOf(err).String(), "error", err.Error(), "bytes", len(payload))
		return nil, err
	}
	if ev.Skip != "" {
		h.log.InfoContext(ctx, "event skipped", "trigger", string(ev.Trigger), "skip", ev.Skip)
	}
	return Answer(ev, h.Process(ctx, ev))
}

// Process runs every object of ev, one after another (libvips works on one image at a time per
// process), each independently of the others.
func (h *Handler) Process(ctx context.Context, ev Event) []ItemResult {
	out := make([]ItemResult, 0, len(ev.Items))
	for _, item := range ev.Items {
		ir := ItemResult{Item: item}
		switch {
		case item.Err != nil:
			h.log.ErrorContext(ctx, "message not processed", "trigger", string(ev.Trigger), "item", item.ID,
				"reason", reasonOf(item.Err).String(), "error", item.Err.Error())
		case item.Skip != "":
			h.log.InfoContext(ctx, "message skipped", "trigger", string(ev.Trigger), "item", item.ID, "skip", item.Skip)
		}
		for _, o := range item.Objects {
			ir.Results = append(ir.Results, h.object(ctx, ev.Trigger, item.ID, o))
		}
		out = append(out, ir)
	}
	return out
}

// object runs one object's photo job with the S3 adapters.
func (h *Handler) object(ctx context.Context, trigger Trigger, itemID string, o Object) Result {
	s := &object{s3: h.s3, opts: &h.opts, o: o, item: itemID, version: o.VersionID}
	job := photo.Job{Source: s, Recorder: s, Reporter: h.report, Trigger: string(trigger), RequestID: obs.RequestID(ctx),
		Headroom: h.opts.Headroom, MinWork: h.opts.MinWork}
	if o.Err != nil || o.Skip != "" {
		job.Headroom = 0 // nothing to work on: the answer needs no time
	}
	out := h.pipeline.Run(ctx, job)
	return Result{Object: o, Outcome: out, VersionID: s.version, SupersededBy: s.supersededBy, Tagged: s.tagged, TagNote: s.tagNote}
}

func reasonOf(err error) reason.Reason {
	var r interface{ Reason() reason.Reason }
	if errors.As(err, &r) {
		return r.Reason()
	}
	return photo.ReasonInternal
}

// Answer turns the results into the trigger's answer:
//   - S3 notification or EventBridge (asynchronous invokes): nil, or an error when an object failed
//     transiently, so Lambda retries the event (and then sends it to the on-failure destination).
//     Objects already synced are skipped on the retry by their tag.
//   - SQS: events.SQSEventResponse whose batchItemFailures name the messages with a transient
//     failure; permanent failures are recorded and the message is deleted. Never a Go error: that
//     would return the whole batch.
//   - S3 Batch Operations: events.S3BatchJobResponse with one result per task, Succeeded,
//     TemporaryFailure or PermanentFailure. Never a Go error.
func Answer(ev Event, results []ItemResult) (any, error) {
	switch ev.Trigger {
	case TriggerSQS:
		resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for _, ir := range results {
			if ir.Transient() && ir.Item.ID != "" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ir.Item.ID})
			}
		}
		return resp, nil
	case TriggerBatch:
		resp := events.S3BatchJobResponse{
			InvocationSchemaVersion: ev.SchemaVersion,
			TreatMissingKeysAs:      "PermanentFailure",
			InvocationID:            ev.InvocationID,
			Results:                 []events.S3BatchJobResult{},
		}
		for _, ir := range results {
			code, text := batchResult(ir)
			resp.Results = append(resp.Results, events.S3BatchJobResult{TaskID: ir.Item.ID, ResultCode: code, ResultString: text})
		}
		return resp, nil
	}
	var failed []Result
	total := 0
	for _, ir := range results {
		for _, r := range ir.Results {
			total++
			if r.Transient() {
				failed = append(failed, r)
			}
		}
	}
	if len(failed) > 0 {
		return nil, &RetryError{Failed: len(failed), Total: total, First: failed[0]}
	}
	return nil, nil
}

// Batch Operations result codes.
const (
	BatchSucceeded        = "Succeeded"
	BatchTemporaryFailure = "TemporaryFailure"
	BatchPermanentFailure = "PermanentFailure"
)

func batchResult(ir ItemResult) (string, string) {
	if ir.Item.Err != nil {
		return BatchPermanentFailure, "rejected: " + reasonOf(ir.Item.Err).String()
	}
	if len(ir.Results) == 0 {
		return BatchPermanentFailure, "rejected: no object in the task"
	}
	code, texts := BatchSucceeded, make([]string, 0, len(ir.Results))
	for _, r := range ir.Results {
		o := r.Outcome
		switch {
		case o.Skipped():
			texts = append(texts, "skipped: "+o.Reason.String())
		case o.Transient:
			code = BatchTemporaryFailure
			texts = append(texts, "failed: "+o.Reason.String()+" (transient)")
		case o.Status == photo.StatusSynced:
			texts = append(texts, "synced "+o.Target)
		default:
			if code == BatchSucceeded {
				code = BatchPermanentFailure
			}
			texts = append(texts, string(o.Status)+": "+o.Reason.String())
		}
	}
	return code, strings.Join(texts, "; ")
}

// RetryError is the error a direct (asynchronous) invocation returns when objects failed
// transiently: Lambda then retries the event. Its text names reasons and keys, never secrets.
type RetryError struct {
	Failed, Total int
	First         Result
}

func (e *RetryError) Error() string {
	f := e.First
	return fmt.Sprintf("%d of %d objects failed transiently and will be retried; first s3://%s/%s: %s",
		e.Failed, e.Total, f.Object.Bucket, f.Object.Key, f.Outcome.Reason.String())
}
