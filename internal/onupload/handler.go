// Package onupload is the S3 path's handler (docs/architecture.md §4): it decodes S3 notifications,
// SQS batches, S3 Batch Operations jobs and EventBridge events, runs each named object through the
// photo pipeline, records the outcome on the object as tags and answers the trigger so that only
// transient failures are retried. It needs no AWS to run: the S3 calls go through the small S3
// interface and the photo work through Pipeline.
//
// For each object, in order: HeadObject of the key's current version (size, metadata, version)
// beside GetObjectTagging of the event's version; an event whose version is no longer the key's
// current one (a newer upload or a delete marker came after it) is skipped as superseded, so a
// redelivered or late event never puts an older photo back; an object version already tagged
// graph-photo-status=synced is skipped (S3 delivers at least once); refuse a source over the
// size limit without downloading it; resolve the target (ResolveTarget); GetObject; the
// pipeline; PutObjectTagging with the outcome merged into the object's tags (MergeTags); one
// JSON log line and one EMF metrics line. A new object costs four S3 requests (HeadObject and
// GetObjectTagging side by side, GetObject, PutObjectTagging), a superseded one three or two.
package onupload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// Pipeline is the photo work; *photo.Pipeline implements it.
type Pipeline interface {
	Run(ctx context.Context, target graph.Target, src []byte) photo.Outcome
	MaxSourceBytes() int
}

// Options configure a Handler.
type Options struct {
	// MetadataKey is the user metadata naming the target (TARGET_METADATA_KEY); default graph-target.
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
	Metrics *obs.Metrics
	// Now is the clock for deadline decisions and timings; default time.Now.
	Now func() time.Time
}

// Handler processes the S3 path's events. Build one per process with New.
type Handler struct {
	s3       S3
	pipeline Pipeline
	opts     Options
	log      *slog.Logger
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
		opts.MetadataKey = "graph-target"
	}
	if opts.Headroom == 0 {
		opts.Headroom = 2 * time.Second
	}
	if opts.MinWork == 0 {
		opts.MinWork = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{s3: client, pipeline: p, opts: opts, log: log}, nil
}

// Skip reasons of objects that need no work.
const (
	SkipAlreadySynced = "already_synced" // this object version is tagged synced already
	// SkipSuperseded: the event's object is no longer the key's current version: a newer upload
	// or a delete marker came after it, and that one wins. Recorded as graph-photo-status=skipped,
	// graph-photo-reason=superseded on the version, where it still exists.
	SkipSuperseded = "superseded"
)

// Result is what happened to one object.
type Result struct {
	Object  Object
	Outcome photo.Outcome // Status is "" for a skipped object that was never looked at
	// Skipped says why no photo was sent although nothing failed (SkipAlreadySynced,
	// SkipSuperseded, or the Object's own Skip).
	Skipped                        string
	VersionID                      string // the version worked on (from the event or HeadObject)
	TargetFrom                     string // TargetFromMetadata or TargetFromKey
	TargetNote                     string // why a metadata target was not used, when it was not
	SupersededBy                   string // for SkipSuperseded: what is current instead
	Tagged                         bool
	TagNote                        string // why tags were not (fully) written
	Head, Download, Tagging, Total time.Duration
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
		h.log.ErrorContext(ctx, "event not processed", "reason", reasonOf(err), "error", err.Error(), "bytes", len(payload))
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
				"reason", reasonOf(item.Err), "error", item.Err.Error())
		case item.Skip != "":
			h.log.InfoContext(ctx, "message skipped", "trigger", string(ev.Trigger), "item", item.ID, "skip", item.Skip)
		}
		for _, o := range item.Objects {
			r := h.object(ctx, o)
			h.report(ctx, ev.Trigger, item.ID, r)
			ir.Results = append(ir.Results, r)
		}
		out = append(out, ir)
	}
	return out
}

// object processes one object; it never panics on a bad event and never returns without an outcome.
func (h *Handler) object(ctx context.Context, o Object) (r Result) {
	start := h.opts.Now()
	r = Result{Object: o, VersionID: o.VersionID}
	defer func() { r.Total = h.opts.Now().Sub(start) }()
	switch {
	case o.Err != nil:
		r.Outcome = photo.Reject("", 0, o.Err)
		return r
	case o.Skip != "":
		r.Skipped = o.Skip
		return r
	}

	// Leave time to record the outcome: the work gets an earlier deadline than the invocation.
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		left := deadline.Sub(h.opts.Now())
		if left < h.opts.Headroom+h.opts.MinWork {
			r.Outcome = photo.Reject("", int(o.Size), &notStartedError{left: left})
			r.TagNote = "not tagged: not started"
			return r
		}
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-h.opts.Headroom))
		defer cancel()
	}

	// HeadObject of the key's current version (size, metadata, and which version is current) and
	// GetObjectTagging of the event's version (the duplicate check, and the set to merge into
	// later) are independent reads: they run side by side.
	type tagRead struct {
		out *s3.GetObjectTaggingOutput
		err error
		d   time.Duration
	}
	tagged := make(chan tagRead, 1)
	readTags := func(version string) {
		t0 := h.opts.Now()
		out, err := h.s3.GetObjectTagging(work, &s3.GetObjectTaggingInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key), VersionId: optional(version)})
		tagged <- tagRead{out, err, h.opts.Now().Sub(t0)}
	}
	go readTags(o.VersionID)
	t0 := h.opts.Now()
	head, err := h.s3.HeadObject(work, &s3.HeadObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
	r.Head = h.opts.Now().Sub(t0)
	tr := <-tagged
	r.Tagging = tr.d
	if err != nil {
		herr := classifyS3("HeadObject", err)
		if herr.Reason() == ReasonSourceNotFound && o.VersionID != "" && tr.err == nil {
			// The key has no current object (a delete marker), yet the event's version is still
			// there: the deletion came after the upload, and it wins.
			h.supersede(ctx, &r, tr.out.TagSet, "deleted: the key's current version is a delete marker")
			return r
		}
		r.Outcome = photo.Reject("", int(o.Size), herr)
		if !r.Outcome.Transient && r.Outcome.Reason != ReasonSourceNotFound && tr.err == nil {
			h.tagWith(ctx, &r, tr.out.TagSet)
		}
		return r
	}
	current := versionOf(head.VersionId)
	switch {
	case o.VersionID != "" && versionOf(&o.VersionID) != current:
		if tr.err != nil {
			r.Outcome = photo.Reject("", int(o.Size), classifyS3("GetObjectTagging", tr.err))
			return r
		}
		h.supersede(ctx, &r, tr.out.TagSet, "version "+current+" is current")
		return r
	case o.VersionID == "" && o.ETag != "" && !sameETag(o.ETag, aws.ToString(head.ETag)):
		// No version in the event (an unversioned bucket, or a server that sends none): the
		// ETag tells whether the key still holds the event's object. It does not, so there is
		// no object left to tag either: the tags at the key are the newer object's.
		r.Skipped = SkipSuperseded
		r.Outcome = photo.Outcome{Status: photo.StatusSkipped, Reason: SkipSuperseded}
		r.TagNote = "not tagged: the key holds another object (ETag " + aws.ToString(head.ETag) + ")"
		return r
	}
	if current != "" && r.VersionID == "" {
		r.VersionID = current // work on exactly this version, even if a newer upload lands meanwhile
		if tr.err == nil && versionOf(tr.out.VersionId) != current {
			// A newer version landed between the two reads: read the pinned version's tags.
			readTags(current)
			tr = <-tagged
			r.Tagging += tr.d
		}
	}
	size := aws.ToInt64(head.ContentLength)
	if tr.err != nil {
		r.Outcome = photo.Reject("", int(size), classifyS3("GetObjectTagging", tr.err))
		return r
	}
	tags := tr.out
	existing := tags.TagSet
	if tagValue(existing, TagStatus) == string(photo.StatusSynced) {
		r.Skipped = SkipAlreadySynced
		r.Outcome = photo.Outcome{Status: photo.StatusSynced, SourceBytes: int(size)}
		return r
	}

	target, from, targetErr := ResolveTarget(head.Metadata, h.opts.MetadataKey, h.opts.KeyPrefix, h.opts.MetadataPrefixes, o.Key)
	r.TargetFrom = from
	if _, ok := lookupFold(head.Metadata, h.opts.MetadataKey); ok && !MetadataHonoured(h.opts.MetadataPrefixes, o.Key) {
		r.TargetNote = h.opts.MetadataKey + " metadata ignored: the key is outside TARGET_METADATA_PREFIXES"
	}
	targetName := ""
	if targetErr == nil {
		targetName = target.String()
	}
	if limit := int64(h.pipeline.MaxSourceBytes()); size > limit {
		r.Outcome = photo.Reject(targetName, int(size), photo.SourceTooLarge(int(size), int(limit)))
		h.tagWith(ctx, &r, existing)
		return r
	}
	if targetErr != nil {
		r.Outcome = photo.Reject("", int(size), targetErr)
		h.tagWith(ctx, &r, existing)
		return r
	}

	src, err := h.download(work, o, r.VersionID, head, &r)
	if err != nil {
		r.Outcome = photo.Reject(targetName, int(size), err)
		if !r.Outcome.Transient {
			h.tagWith(ctx, &r, existing)
		}
		return r
	}

	r.Outcome = h.pipeline.Run(work, target, src)
	h.tagWith(ctx, &r, existing)
	return r
}

// supersede records that the event's version lost to a newer version or a delete marker: it is
// skipped, and tagged skipped/superseded unless it was synced while it was current (that tag
// stays true, and is what the duplicate check reads).
func (h *Handler) supersede(ctx context.Context, r *Result, existing []types.Tag, by string) {
	r.Skipped, r.SupersededBy = SkipSuperseded, by
	r.Outcome = photo.Outcome{Status: photo.StatusSkipped, Reason: SkipSuperseded}
	if tagValue(existing, TagStatus) == string(photo.StatusSynced) {
		r.TagNote = "not tagged: synced while it was current"
		return
	}
	h.tagWith(ctx, r, existing)
}

// versionOf normalises a version id: S3 names the version of an object written while
// versioning was off "null", and an unversioned bucket names none.
func versionOf(v *string) string {
	if s := aws.ToString(v); s != "null" {
		return s
	}
	return ""
}

// sameETag compares an event's ETag (S3 notifications write it bare) with HeadObject's (quoted).
func sameETag(a, b string) bool {
	return strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

// download reads the object, refusing more than the limit even if it grew since HeadObject.
func (h *Handler) download(ctx context.Context, o Object, version string, head *s3.HeadObjectOutput, r *Result) ([]byte, error) {
	t0 := h.opts.Now()
	defer func() { r.Download = h.opts.Now().Sub(t0) }()
	in := &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key), VersionId: optional(version)}
	if version == "" {
		// Without a version, the ETag pins the content HeadObject described.
		in.IfMatch = head.ETag
	}
	out, err := h.s3.GetObject(ctx, in)
	if err != nil {
		return nil, classifyS3("GetObject", err)
	}
	defer out.Body.Close()
	limit := int64(h.pipeline.MaxSourceBytes())
	n := aws.ToInt64(out.ContentLength)
	if n > limit {
		return nil, photo.SourceTooLarge(int(n), int(limit))
	}
	buf := make([]byte, 0, max(n, 0))
	w := bytesWriter{&buf}
	got, err := io.Copy(w, io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, classifyS3("GetObject", fmt.Errorf("read body after %d bytes: %w", got, err))
	}
	if got > limit {
		return nil, photo.SourceTooLarge(int(got), int(limit))
	}
	return buf, nil
}

// notStartedError is an object left alone because the invocation is nearly out of time.
type notStartedError struct{ left time.Duration }

func (e *notStartedError) Error() string {
	return fmt.Sprintf("not started: %v left before the invocation's deadline", e.left.Round(time.Millisecond))
}
func (e *notStartedError) Reason() string  { return photo.ReasonTimeout }
func (e *notStartedError) Transient() bool { return true }

type bytesWriter struct{ b *[]byte }

func (w bytesWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// tagWith records the outcome, merged with the tags read before. ctx is the invocation's: the
// headroom was kept for this. A transient tagging failure makes the object transient, so the
// trigger delivers it again and the outcome gets recorded (a repeated Graph PUT of the same bytes
// is harmless); a permanent one is only logged.
func (h *Handler) tagWith(ctx context.Context, r *Result, existing []types.Tag) {
	plan := MergeTags(existing, string(r.Outcome.Status), r.Outcome.Reason)
	if len(plan.Dropped) > 0 {
		r.TagNote = fmt.Sprintf("the object has %d tags of its own; no room for %s", len(existing)-countOurs(existing), strings.Join(plan.Dropped, ", "))
	}
	if !plan.Write {
		r.Tagged = len(plan.Dropped) == 0
		return
	}
	t0 := h.opts.Now()
	_, err := h.s3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(r.Object.Bucket), Key: aws.String(r.Object.Key), VersionId: optional(r.VersionID),
		Tagging: &types.Tagging{TagSet: plan.Tags},
	})
	r.Tagging += h.opts.Now().Sub(t0)
	if err != nil {
		se := classifyS3("PutObjectTagging", err)
		r.TagNote = "not tagged: " + se.Error()
		if se.Transient() && !r.Outcome.Transient {
			r.Outcome.Transient = true
			r.TagNote += " (reported as transient so the outcome gets recorded on redelivery)"
		}
		return
	}
	r.Tagged = true
}

func countOurs(tags []types.Tag) int {
	n := 0
	for _, t := range tags {
		if k := aws.ToString(t.Key); k == TagStatus || k == TagReason {
			n++
		}
	}
	return n
}

func tagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func reasonOf(err error) string {
	var r interface{ Reason() string }
	if errors.As(err, &r) {
		return r.Reason()
	}
	return photo.ReasonInternal
}

// report writes the object's log line and metrics line.
func (h *Handler) report(ctx context.Context, trigger Trigger, itemID string, r Result) {
	attrs := []slog.Attr{
		slog.String("trigger", string(trigger)),
		slog.String("bucket", r.Object.Bucket),
		slog.String("key", r.Object.Key),
		slog.String("version", r.VersionID),
	}
	if itemID != "" {
		attrs = append(attrs, slog.String("item", itemID))
	}
	if r.Skipped != "" {
		attrs = append(attrs, slog.String("skipped", r.Skipped))
	}
	if r.TargetFrom != "" {
		attrs = append(attrs, slog.String("target_from", r.TargetFrom))
	}
	if r.TargetNote != "" {
		attrs = append(attrs, slog.String("target_note", r.TargetNote))
	}
	if r.SupersededBy != "" {
		attrs = append(attrs, slog.String("superseded_by", r.SupersededBy))
	}
	attrs = append(attrs, slog.Bool("tagged", r.Tagged))
	if r.TagNote != "" {
		attrs = append(attrs, slog.String("tag_note", r.TagNote))
	}
	attrs = append(attrs,
		slog.Int64("head_ms", r.Head.Milliseconds()),
		slog.Int64("download_ms", r.Download.Milliseconds()),
		slog.Int64("tagging_ms", r.Tagging.Milliseconds()),
		slog.Int64("total_ms", r.Total.Milliseconds()))
	if r.Outcome.Status != "" {
		attrs = append(attrs, r.Outcome.LogAttrs()...)
	}
	level, msg := slog.LevelInfo, "photo synced"
	switch {
	case r.Skipped != "":
		msg = "object skipped"
	case r.Outcome.Unchanged():
		msg = "photo unchanged"
	case r.Outcome.Status == photo.StatusRejected:
		level, msg = slog.LevelWarn, "photo rejected"
	case r.Outcome.Status == photo.StatusFailed:
		level, msg = slog.LevelError, "photo failed"
	}
	h.log.LogAttrs(ctx, level, msg, attrs...)

	if h.opts.Metrics == nil || (r.Outcome.Status == "" && r.Skipped != "") {
		return // nothing about a photo to count (an event that is not an upload)
	}
	count := func(s photo.Status) float64 {
		if r.Skipped == "" && r.Outcome.Status == s && !r.Outcome.Unchanged() {
			return 1
		}
		return 0
	}
	skipped, unchanged := 0.0, 0.0
	if r.Skipped != "" {
		skipped = 1
	}
	if r.Skipped == "" && r.Outcome.Unchanged() {
		unchanged = 1
	}
	metrics := []obs.Metric{
		{Name: obs.PhotosSynced, Unit: obs.Count, Value: count(photo.StatusSynced)},
		{Name: obs.PhotosUnchanged, Unit: obs.Count, Value: unchanged},
		{Name: obs.PhotosRejected, Unit: obs.Count, Value: count(photo.StatusRejected)},
		{Name: obs.PhotosFailed, Unit: obs.Count, Value: count(photo.StatusFailed)},
		{Name: obs.PhotosSkipped, Unit: obs.Count, Value: skipped},
		{Name: obs.NormaliseMs, Unit: obs.Milliseconds, Value: ms(r.Outcome.Normalise)},
		{Name: obs.GraphMs, Unit: obs.Milliseconds, Value: ms(r.Outcome.Graph)},
		{Name: obs.BytesIn, Unit: obs.Bytes, Value: float64(r.Outcome.SourceBytes)},
		{Name: obs.BytesOut, Unit: obs.Bytes, Value: float64(r.Outcome.PhotoBytes)},
	}
	props := map[string]any{"trigger": string(trigger), "status": string(r.Outcome.Status)}
	if r.Outcome.Reason != "" {
		props["reason"] = r.Outcome.Reason
	}
	if err := h.opts.Metrics.Write(ctx, metrics, props); err != nil {
		h.log.WarnContext(ctx, "metrics line not written", "error", err.Error())
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
		return BatchPermanentFailure, "rejected: " + reasonOf(ir.Item.Err)
	}
	if len(ir.Results) == 0 {
		return BatchPermanentFailure, "rejected: no object in the task"
	}
	code, texts := BatchSucceeded, make([]string, 0, len(ir.Results))
	for _, r := range ir.Results {
		o := r.Outcome
		switch {
		case r.Skipped != "":
			texts = append(texts, "skipped: "+r.Skipped)
		case o.Transient:
			code = BatchTemporaryFailure
			texts = append(texts, "failed: "+o.Reason+" (transient)")
		case o.Status == photo.StatusSynced:
			texts = append(texts, "synced "+o.Target)
		default:
			if code == BatchSucceeded {
				code = BatchPermanentFailure
			}
			texts = append(texts, string(o.Status)+": "+o.Reason)
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
		e.Failed, e.Total, f.Object.Bucket, f.Object.Key, f.Outcome.Reason)
}
