package photostate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// Why a photo is written rather than skipped (Verdict.Why). Stable: logs carry them.
const (
	WhyNoRecord         = "no_record"           // the target was never written by these functions
	WhyOtherPhoto       = "other_photo"         // the record is of another photo or other options
	WhyChangedInGraph   = "changed_in_graph"    // Graph's version is not the recorded one: changed from outside
	WhyNoPhotoInGraph   = "no_photo_in_graph"   // the photo was deleted in Graph since
	WhyGraphUnreadable  = "graph_unreadable"    // GET …/photo failed: no proof Graph holds the photo
	WhyRecordUnreadable = "record_unreadable"   // the record could not be read or parsed
	WhyWriteInFlight    = "write_in_flight"     // a marker younger than the lease: another write may be under way
	WhyAbandonedWrite   = "abandoned_write"     // a marker older than the lease: a write that never recorded its end
	WhyRecordChanged    = "record_changed"      // the record changed between our read and our marker
	WhyBadTarget        = "target_not_resolved" // an unresolved "me" or empty target: nothing to key a record by
)

// Verdict is what Check decided.
type Verdict struct {
	// Unchanged: Graph holds exactly this photo; do not write it.
	Unchanged bool
	// Why the photo is to be written, when it is (a Why constant).
	Why string
	// MediaETag is Graph's current version when it was read ("" when it was not).
	MediaETag string
}

// Stats count what one write cost beyond the photo's own Graph write.
type Stats struct {
	S3Requests int           // GetObject and PutObject calls on the state bucket
	GraphReads int           // GET …/photo calls
	Time       time.Duration // spent in Check and Remember
}

// Write is one attempt to put a photo on a target, from Check to Remember. Its methods are
// called in order by one goroutine.
type Write struct {
	store  *Store
	target graph.Target
	fp     Fingerprint
	key    string
	writer string

	checked   bool
	verdict   Verdict
	claim     string // our marker's S3 ETag ("" until announced)
	contended bool   // another write may be in flight: announce, but never record
	stats     Stats
}

// Begin starts a write of the photo fp to target t. Nothing is read until Check.
func (s *Store) Begin(t graph.Target, fp Fingerprint) *Write {
	return &Write{store: s, target: t, fp: fp, key: s.Key(t), writer: newWriter()}
}

// Stats are the calls and time spent so far.
func (w *Write) Stats() Stats { return w.stats }

// Verdict is Check's decision (the zero Verdict before Check).
func (w *Write) Verdict() Verdict { return w.verdict }

// Check decides whether the photo is unchanged in Graph. When it is not, Check also writes the
// marker that must precede the Graph write (the package doc says why): an error means the
// marker could not be written, and the photo must not be written now; the error says whether to
// try again later. Check never fails a photo that is unchanged.
func (w *Write) Check(ctx context.Context) (Verdict, error) {
	if w.checked {
		return w.verdict, errors.New("photostate: Check called twice")
	}
	w.checked = true
	start := w.store.opts.Now()
	defer func() { w.stats.Time += w.store.opts.Now().Sub(start) }()
	if w.target.IsZero() || w.target.IsMe() {
		w.verdict = Verdict{Why: WhyBadTarget}
		return w.verdict, &Error{Op: "check", Err: errors.New("the target is not resolved to an object"), reason: ReasonRecordError}
	}

	w.stats.S3Requests++
	rec, etag, found, err := w.store.read(ctx, w.key)
	var de *decodeError
	var se *Error
	switch {
	case errors.As(err, &de):
		// A record this code cannot read (another format, a hand edit): treat it as a write in
		// flight, the safe side; our own marker replaces it, and after the lease it is gone.
		w.verdict, w.contended = Verdict{Why: WhyRecordUnreadable}, true
	case errors.As(err, &se) && !se.Transient():
		// Refused (the role's grants, no such bucket): a deployment to fix, not a record to
		// write around; the photo fails as it would when the marker is refused.
		w.verdict = Verdict{Why: WhyRecordUnreadable}
		return w.verdict, err
	case err != nil:
		// The bucket did not answer: no ETag to make the marker conditional on.
		w.verdict, w.contended = Verdict{Why: WhyRecordUnreadable}, true
	case !found:
		w.verdict = Verdict{Why: WhyNoRecord}
	case rec.State == stateWriting && w.store.opts.Now().Sub(rec.At) < w.store.opts.Lease:
		w.verdict, w.contended = Verdict{Why: WhyWriteInFlight}, true
	case rec.State == stateWriting:
		w.verdict = Verdict{Why: WhyAbandonedWrite}
	case rec.Photo != w.fp.Photo || rec.Options != w.fp.Options:
		w.verdict = Verdict{Why: WhyOtherPhoto}
	default:
		w.stats.GraphReads++
		meta, gerr := w.store.graph.GetPhotoMeta(ctx, w.target)
		var ge *graph.Error
		switch {
		case errors.As(gerr, &ge) && ge.Reason() == graph.ReasonPhotoNotFound:
			w.verdict = Verdict{Why: WhyNoPhotoInGraph}
		case gerr != nil || meta.ETag == "":
			w.verdict = Verdict{Why: WhyGraphUnreadable}
		case meta.ETag == rec.MediaETag:
			w.verdict = Verdict{Unchanged: true, MediaETag: meta.ETag}
			return w.verdict, nil
		default:
			w.verdict = Verdict{Why: WhyChangedInGraph, MediaETag: meta.ETag}
		}
	}
	return w.verdict, w.announce(ctx, etag, found)
}

// announce writes the marker: conditional on the record read (etag, or none), unconditional
// for a contended writer or one whose condition failed.
func (w *Write) announce(ctx context.Context, etag string, found bool) error {
	marker := Record{Format: recordFormat, State: stateWriting, Target: w.target.String(), Photo: w.fp.Photo,
		Options: w.fp.Options, Writer: w.writer, At: w.store.opts.Now().UTC()}
	if !w.contended {
		ifMatch, ifNoneMatch := etag, ""
		if !found {
			ifMatch, ifNoneMatch = "", "*"
		}
		w.stats.S3Requests++
		claim, err := w.store.write(ctx, w.key, marker, ifMatch, ifNoneMatch)
		var se *Error
		if err == nil {
			w.claim = claim
			return nil
		}
		if !errors.As(err, &se) || !se.lost {
			return err
		}
		// Someone wrote the record since we read it: they may be writing to Graph right now.
		w.contended, w.verdict.Why = true, WhyRecordChanged
	}
	w.stats.S3Requests++
	claim, err := w.store.write(ctx, w.key, marker, "", "")
	if err != nil {
		return err
	}
	w.claim = claim
	return nil
}

// NotRecorded is Remember's answer when the write was not recorded; the photo was written all
// the same, and the next delivery writes it again rather than skip it.
type NotRecorded struct {
	Why string
	Err error
}

func (e *NotRecorded) Error() string {
	if e.Err != nil {
		return "photo not recorded: " + e.Why + ": " + e.Err.Error()
	}
	return "photo not recorded: " + e.Why
}

func (e *NotRecorded) Unwrap() error { return e.Err }

// Remember records a successful Graph write: Graph's version of the photo now, then the
// record, conditional on our own marker. Call it only after the PUT succeeded. A *NotRecorded
// error says why nothing was recorded; it never changes the photo's outcome.
func (w *Write) Remember(ctx context.Context) error {
	switch {
	case !w.checked || w.verdict.Unchanged:
		return errors.New("photostate: Remember without a write announced by Check")
	case w.claim == "":
		return &NotRecorded{Why: "no marker was written"}
	case w.contended:
		return &NotRecorded{Why: "another write to the target may have been in flight (" + w.verdict.Why + ")"}
	}
	start := w.store.opts.Now()
	defer func() { w.stats.Time += w.store.opts.Now().Sub(start) }()
	w.stats.GraphReads++
	meta, err := w.store.graph.GetPhotoMeta(ctx, w.target)
	if err != nil {
		return &NotRecorded{Why: "graph's version unreadable", Err: err}
	}
	if meta.ETag == "" {
		return &NotRecorded{Why: "graph answered no media ETag"}
	}
	rec := Record{Format: recordFormat, State: stateWritten, Target: w.target.String(), Photo: w.fp.Photo,
		Options: w.fp.Options, MediaETag: meta.ETag, Writer: w.writer, At: w.store.opts.Now().UTC()}
	w.stats.S3Requests++
	if _, err := w.store.write(ctx, w.key, rec, w.claim, ""); err != nil {
		var se *Error
		if errors.As(err, &se) && se.lost {
			return &NotRecorded{Why: "another write began meanwhile", Err: err}
		}
		return &NotRecorded{Why: fmt.Sprintf("record not written (%s)", reasonOf(err)), Err: err}
	}
	return nil
}

func reasonOf(err error) reason.Reason {
	var r interface{ Reason() reason.Reason }
	if errors.As(err, &r) {
		return r.Reason()
	}
	return ReasonRecordError
}
