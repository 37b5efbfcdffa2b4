// Package photo is the one path both functions share (docs/architecture.md §1): a job that
// carries one photo through a visible list of steps, source → limits → normalise → unchanged →
// graph → remember, then records and reports its outcome. With records (SkipUnchanged), a photo
// Graph already holds is not written again (docs/architecture.md §10). Each entry point supplies two small adapters: a Source (the S3
// object an event names; the body of an API request) and a Recorder (tags on the object; the
// HTTP response). The Reporter writes one JSON log line and one EMF metrics line for every
// outcome, the same on both paths. Whether a failure is retried is read, here, from the reason
// its error carries (Classify).
package photo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photostate"
)

// Source is where a job's photo comes from. Open names the target and opens the bytes, unread,
// after the entry point's own checks (the S3 object is the key's current version and not synced
// already; the API's body is an image upload within its limit). An error ends the job: a
// refusal, a failure, or a Skip.
type Source interface {
	Open(ctx context.Context) (Input, error)
}

// Input is what a source found.
type Input struct {
	Target graph.Target
	// Size is the length the source declares (S3's Content-Length, the request's), -1 when it
	// declares none: a source over the limit is refused from it before a byte is read.
	Size int64
	// Body is read once, by the limits step, and never past the limit. Its errors should carry
	// a reason (an unclassified one is an internal error).
	Body io.Reader
}

// Recorder keeps the outcome where the entry point's caller looks for it: tags on the S3 object,
// the HTTP response. It runs for every outcome, with the invocation's context (the steps' ran out
// Headroom earlier), and may add to the outcome: a note for the log line, or a transient flag
// when the record itself failed and must be made again.
type Recorder interface {
	Record(ctx context.Context, o *Outcome)
}

// Job is one photo as an entry point hands it over.
type Job struct {
	Source   Source
	Recorder Recorder
	Reporter Reporter
	// Trigger is what started the job (s3, sqs, s3-batch, eventbridge, api) and RequestID the
	// invocation's or the API request's id: both go on the log line and the metrics line.
	Trigger, RequestID string
	// Headroom is kept free before ctx's deadline for Record and the answer: the steps get a
	// deadline that much earlier, and a job with less than Headroom+MinWork left is not started
	// (a transient timeout). Zero: the steps share ctx's deadline.
	Headroom, MinWork time.Duration
}

// Uploader is the part of the Graph client the job needs.
type Uploader interface {
	PutPhoto(ctx context.Context, t graph.Target, jpeg []byte) (graph.Result, error)
}

// Normaliser turns source bytes into a photo; imageproc.Normalise in production.
type Normaliser func(ctx context.Context, src []byte, opts imageproc.Options) (imageproc.Photo, error)

// Records are the photo records that let an unchanged photo be skipped; *photostate.Store.
type Records interface {
	Begin(t graph.Target, fp photostate.Fingerprint) *photostate.Write
}

// Pipeline runs jobs: the normaliser, the Graph client, the limits and the photo records, built
// once per process.
type Pipeline struct {
	normalise      Normaliser
	graph          Uploader
	options        imageproc.Options
	maxSourceBytes int
	records        Records // nil: every photo is written
	now            func() time.Time
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
	return &Pipeline{normalise: normalise, graph: uploader, options: opts.WithDefaults(), maxSourceBytes: maxSourceBytes, now: time.Now}, nil
}

// SkipUnchanged makes the pipeline check each photo against its record before writing it and
// record it after (SKIP_UNCHANGED); call it once, at start.
func (p *Pipeline) SkipUnchanged(r Records) { p.records = r }

// MaxSourceBytes is the largest source the pipeline accepts.
func (p *Pipeline) MaxSourceBytes() int { return p.maxSourceBytes }

// optionsText is the canonical text of the options that shape the JPEG, digested into a
// photo's record: a change of size, crop, quality or budget makes every photo new.
func (p *Pipeline) optionsText() string {
	o := p.options
	return fmt.Sprintf("size=%d crop=%s quality=%d max_bytes=%d min_side=%d", o.Size, o.Crop, o.Quality, o.MaxBytes, o.MinSide)
}

// job carries one photo through the steps.
type job struct {
	ctx   context.Context // the steps' context, Headroom before the invocation's deadline
	p     *Pipeline
	spec  Job
	in    Input
	src   []byte
	photo imageproc.Photo
	write *photostate.Write // the photo's record, with SkipUnchanged
	out   Outcome
}

type step struct {
	name string
	run  func(*job) error
}

// steps is the whole photo path, in order. The first error ends it; the outcome is then
// recorded and reported whatever it is.
var steps = []step{
	{"source", (*job).source},       // the adapter: the target and the bytes, unread (S3: the current version, not synced yet)
	{"limits", (*job).limits},       // the declared size, then the bytes read, never past SOURCE_MAX_BYTES
	{"normalise", (*job).normalise}, // imageproc.Normalise: upright, square, sRGB, stripped, within the byte budget
	{"unchanged", (*job).unchanged}, // with records: Graph holds this very photo already? Skip; else announce the write
	{"graph", (*job).graph},         // PUT …/photo/$value; the client takes its token from the credentials
	{"remember", (*job).remember},   // with records: what was written, and Graph's version of it now
}

// Run carries one photo through the steps, has the Recorder keep the outcome and the Reporter
// write it, and returns it.
func (p *Pipeline) Run(ctx context.Context, spec Job) Outcome {
	start := p.now()
	j := &job{ctx: ctx, p: p, spec: spec}
	err := j.run()
	j.out.finish(err)
	if spec.Recorder != nil {
		t0 := p.now()
		spec.Recorder.Record(ctx, &j.out)
		j.out.Timings = append(j.out.Timings, Timing{"recorder", p.now().Sub(t0)})
	}
	j.out.Timings = append(j.out.Timings, Timing{"total", p.now().Sub(start)})
	spec.Reporter.Report(ctx, spec, j.out)
	return j.out
}

func (j *job) run() error {
	if deadline, ok := j.ctx.Deadline(); ok && j.spec.Headroom > 0 {
		left := deadline.Sub(j.p.now())
		if left < j.spec.Headroom+j.spec.MinWork {
			return &notStartedError{left: left}
		}
		var cancel context.CancelFunc
		j.ctx, cancel = context.WithDeadline(j.ctx, deadline.Add(-j.spec.Headroom))
		defer cancel()
	}
	for _, s := range steps {
		if err := j.ctx.Err(); err != nil {
			return fmt.Errorf("photo job stopped before %s: %w", s.name, err)
		}
		t0 := j.p.now()
		err := s.run(j)
		j.out.Timings = append(j.out.Timings, Timing{s.name, j.p.now().Sub(t0)})
		if err != nil {
			return err
		}
	}
	return nil
}

func (j *job) source() error {
	in, err := j.spec.Source.Open(j.ctx)
	j.in = in
	if !in.Target.IsZero() {
		j.out.Target = in.Target.String()
	}
	j.out.SourceBytes = int(max(in.Size, 0))
	return err
}

// limits refuses a source whose declared size is over the limit before reading a byte of it,
// and reads at most one byte past the limit of one that declared less (or nothing).
func (j *job) limits() error {
	limit := int64(j.p.maxSourceBytes)
	if j.in.Size > limit {
		return SourceTooLarge(j.in.Size, limit)
	}
	buf := make([]byte, 0, max(j.in.Size, 0))
	got, err := readInto(&buf, io.LimitReader(j.in.Body, limit+1))
	j.out.SourceBytes = int(got)
	if err != nil {
		return err
	}
	if got > limit {
		return SourceTooLarge(got, limit)
	}
	j.src = buf
	return nil
}

func (j *job) normalise() error {
	photo, err := j.p.normalise(j.ctx, j.src, j.p.options)
	if err != nil {
		return err
	}
	j.photo = photo
	o := &j.out
	o.SourceFormat, o.SourceWidth, o.SourceHeight = photo.SourceFormat.String(), photo.SourceWidth, photo.SourceHeight
	o.PhotoBytes, o.Width, o.Height, o.Quality = photo.Bytes, photo.Width, photo.Height, photo.Quality
	return nil
}

// unchanged asks the photo's record whether Graph already holds this very photo: then the job
// ends, synced and unchanged, without a write. Otherwise the record announces the write (its
// marker), or the job stops: a write no marker announces could be recorded by another writer as
// its own (internal/photostate).
func (j *job) unchanged() error {
	if j.p.records == nil {
		return nil
	}
	j.write = j.p.records.Begin(j.in.Target, photostate.NewFingerprint(j.photo.JPEG, j.p.optionsText()))
	v, err := j.write.Check(j.ctx)
	j.out.noteRecord(j.write)
	switch {
	case err != nil:
		return err
	case v.Unchanged:
		return Skip(ReasonUnchanged, "Graph holds this photo (media ETag "+v.MediaETag+")")
	}
	j.out.Record = v.Why
	return nil
}

// remember records what was written and Graph's version of it now. It never changes the
// outcome: a write not recorded is written again next time, never skipped.
func (j *job) remember() error {
	if j.write == nil {
		return nil
	}
	if err := j.write.Remember(j.ctx); err != nil {
		j.out.RecordNote = err.Error()
	}
	j.out.noteRecord(j.write)
	return nil
}

func (j *job) graph() error {
	res, err := j.p.graph.PutPhoto(j.ctx, j.in.Target, j.photo.JPEG)
	o := &j.out
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
	return err
}

// readInto appends r to *buf until EOF; a read error is returned as the reader gave it (the
// source's readers give classified errors).
func readInto(buf *[]byte, r io.Reader) (int64, error) {
	var n int64
	for {
		if len(*buf) == cap(*buf) {
			*buf = append(*buf, 0)[:len(*buf)]
		}
		m, err := r.Read((*buf)[len(*buf):cap(*buf)])
		*buf = (*buf)[:len(*buf)+m]
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
