package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// put writes the body of a PUT or PATCH as t's photo: a photo job with this path's two adapters.
func (h *Handler) put(x *exchange, t graph.Target) {
	p := &putPhoto{h: h, x: x, target: t}
	h.opts.Photos.Run(x.r.Context(), photo.Job{Source: p, Recorder: p, Reporter: h.report, Trigger: "api", RequestID: x.requestID})
}

// putPhoto is the API path's two adapters of the photo job: the source (the request's body, an
// image upload within the route's inline limit) and the recorder (the answer: 200 with
// PutResult, or Graph's error envelope).
type putPhoto struct {
	h      *Handler
	x      *exchange
	target graph.Target
}

// Open refuses what cannot be an image upload, and a body over the inline limit (Lambda's
// payload) from its Content-Length or, without one, after one byte more than the limit.
func (p *putPhoto) Open(context.Context) (photo.Input, error) {
	r := p.x.r
	if e := checkUpload(r); e != nil {
		return photo.Input{Target: p.target, Size: -1}, e
	}
	if r.ContentLength > int64(p.h.maxInline) {
		return photo.Input{Target: p.target, Size: r.ContentLength}, p.h.tooLarge(r.ContentLength)
	}
	src, err := io.ReadAll(io.LimitReader(r.Body, int64(p.h.maxInline)+1))
	switch {
	case err != nil:
		return photo.Input{Target: p.target, Size: -1}, &Error{why: ReasonBadBody,
			Message: "the request body could not be read", Cause: fmt.Errorf("read body: %w", err)}
	case len(src) > p.h.maxInline:
		return photo.Input{Target: p.target, Size: int64(len(src))}, p.h.tooLarge(int64(len(src)))
	case len(src) == 0:
		return photo.Input{Target: p.target}, &Error{why: ReasonEmptyBody, Message: "the request has no body; send the image bytes"}
	}
	return photo.Input{Target: p.target, Size: int64(len(src)), Body: bytes.NewReader(src)}, nil
}

// Record answers: the photo written (or already there), or the refusal or failure in Graph's
// envelope, with the message fixed per reason and Retry-After on what may succeed later. The
// cause stays on the job's log line, never in the answer.
func (p *putPhoto) Record(_ context.Context, o *photo.Outcome) {
	var e *Error
	switch {
	case o.Status == photo.StatusSynced:
		p.h.writeJSON(p.x, http.StatusOK, PutResult{Target: o.Target, Width: o.Width, Height: o.Height, Bytes: o.PhotoBytes, Quality: o.Quality, Unchanged: o.Unchanged()})
	case errors.As(o.Err, &e):
		p.h.fail(p.x, &Error{why: e.why, Message: e.Message, RetryAfter: e.RetryAfter, Allow: e.Allow})
	default:
		e := failure(o.Reason, o.Transient, o.RetryAfter, o.Err)
		e.Cause = nil
		p.h.fail(p.x, e)
	}
}
