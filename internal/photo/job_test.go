package photo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// The job's own behaviour, with a fake normaliser and Graph: the steps in order, the size limit
// from the declared length and while reading, skips, the headroom, and what the Reporter writes.

// fakeSource hands over an input, or an error, and says whether it was opened.
type fakeSource struct {
	in     Input
	err    error
	opened bool
	ctx    context.Context
}

func (s *fakeSource) Open(ctx context.Context) (Input, error) {
	s.opened, s.ctx = true, ctx
	return s.in, s.err
}

// fakeRecorder keeps what it was asked to record, and notes itself on the line.
type fakeRecorder struct {
	got  []Outcome
	ctx  context.Context
	note string
}

func (r *fakeRecorder) Record(ctx context.Context, o *Outcome) {
	r.got, r.ctx = append(r.got, *o), ctx
	if r.note != "" {
		o.Note(slog.String("recorder", r.note))
	}
}

type fakeUploader struct {
	puts int
	err  error
}

func (u *fakeUploader) PutPhoto(context.Context, graph.Target, []byte) (graph.Result, error) {
	u.puts++
	return graph.Result{Status: 200, RequestID: "rid", ClientRequestID: "crid", Attempts: 1}, u.err
}

func fakeNormalise(_ context.Context, src []byte, _ imageproc.Options) (imageproc.Photo, error) {
	if bytes.HasPrefix(src, []byte("%PDF")) {
		return imageproc.Photo{}, &imageproc.Error{Code: imageproc.ReasonUnsupportedFormat, Msg: "a PDF"}
	}
	return imageproc.Photo{JPEG: []byte{0xFF, 0xD8}, Bytes: 2, Width: 64, Height: 64, Quality: 85, SourceFormat: imageproc.FormatJPEG, SourceWidth: 64, SourceHeight: 64}, nil
}

// unread fails the test when the job reads a body it should have refused from its length.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("the body was read")
	return 0, io.EOF
}

// countingReader counts the bytes handed out.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func newJobPipeline(t *testing.T, up *fakeUploader, limit int) *Pipeline {
	t.Helper()
	p, err := New(fakeNormalise, up, imageproc.Options{}, limit)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJobRunsItsStepsInOrder(t *testing.T) {
	up := &fakeUploader{}
	p := newJobPipeline(t, up, 100)
	src := &fakeSource{in: Input{Target: target(t, "users/alice@contoso.com"), Size: 4, Body: strings.NewReader("JPEG")}}
	rec := &fakeRecorder{}
	o := p.Run(context.Background(), Job{Source: src, Recorder: rec})
	if o.Status != StatusSynced || !o.Reason.IsZero() || o.Skipped() || up.puts != 1 || o.Target != "users/alice@contoso.com" || o.SourceBytes != 4 || o.PhotoBytes != 2 {
		t.Fatalf("outcome %+v, %d PUTs", o, up.puts)
	}
	var names []string
	for _, tm := range o.Timings {
		names = append(names, tm.Step)
	}
	if want := []string{"source", "limits", "normalise", "unchanged", "graph", "remember", "recorder", "total"}; !slices.Equal(names, want) {
		t.Errorf("timings %v, want %v", names, want)
	}
	if len(rec.got) != 1 || rec.got[0].Status != StatusSynced {
		t.Errorf("recorded %+v, want the synced outcome once", rec.got)
	}
}

func TestJobEndsAtTheFirstError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     Input
		err    error
		status Status
		reason reason.Reason
		puts   int
	}{
		{"the source refuses", Input{Size: -1}, NoTarget("no metadata"), StatusRejected, ReasonNoTarget, 0},
		{"the source skips", Input{Size: -1}, Skip(reason.New("quiet_skip", reason.Skipped, http.StatusOK, "", ""), "nothing to do"), StatusSkipped, reason.Reason{}, 0},
		{"the normaliser refuses", Input{Size: 4, Body: strings.NewReader("%PDF")}, nil, StatusRejected, imageproc.ReasonUnsupportedFormat, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := &fakeUploader{}
			rec := &fakeRecorder{}
			tc.in.Target = target(t, "users/alice@contoso.com")
			o := newJobPipeline(t, up, 100).Run(context.Background(), Job{Source: &fakeSource{in: tc.in, err: tc.err}, Recorder: rec})
			if o.Status != tc.status || (!tc.reason.IsZero() && o.Reason != tc.reason) || o.Transient || up.puts != tc.puts || len(rec.got) != 1 {
				t.Errorf("outcome %s/%s transient=%v, %d PUTs, recorded %d times", o.Status, o.Reason, o.Transient, up.puts, len(rec.got))
			}
		})
	}
}

func TestJobSkipOfSyncedClass(t *testing.T) {
	already := reason.New("was_there", reason.Synced, http.StatusOK, "", "")
	o := newJobPipeline(t, &fakeUploader{}, 100).Run(context.Background(), Job{Source: &fakeSource{err: Skip(already, "tagged synced")}})
	if o.Status != StatusSynced || o.Reason != already || !o.Skipped() || o.Transient {
		t.Errorf("outcome %+v, want synced and skipped", o)
	}
}

func TestJobLimits(t *testing.T) {
	t.Run("declared over the limit: refused unread", func(t *testing.T) {
		o := newJobPipeline(t, &fakeUploader{}, 10).Run(context.Background(), Job{Source: &fakeSource{in: Input{Target: target(t, "users/a@contoso.com"), Size: 11, Body: unread{t}}}})
		if o.Reason != ReasonSourceTooLarge || o.SourceBytes != 11 {
			t.Errorf("outcome %+v", o)
		}
	})
	for _, declared := range []int64{-1, 5} {
		body := &countingReader{r: strings.NewReader(strings.Repeat("x", 1000))}
		o := newJobPipeline(t, &fakeUploader{}, 10).Run(context.Background(), Job{Source: &fakeSource{in: Input{Target: target(t, "users/a@contoso.com"), Size: declared, Body: body}}})
		if o.Reason != ReasonSourceTooLarge || body.n > 11 {
			t.Errorf("declared %d: outcome %s, %d bytes read; want source_too_large after at most 11", declared, o.Reason, body.n)
		}
	}
	t.Run("exactly the limit", func(t *testing.T) {
		o := newJobPipeline(t, &fakeUploader{}, 4).Run(context.Background(), Job{Source: &fakeSource{in: Input{Target: target(t, "users/a@contoso.com"), Size: -1, Body: strings.NewReader("JPEG")}}})
		if o.Status != StatusSynced || o.SourceBytes != 4 {
			t.Errorf("outcome %+v", o)
		}
	})
}

// readError is a body failing as an S3 download would, with a reason of its own.
type readError struct{ why reason.Reason }

func (e readError) Read([]byte) (int, error) { return 0, e }
func (e readError) Error() string            { return "read: " + e.why.String() }
func (e readError) Reason() reason.Reason    { return e.why }

func TestJobBodyErrors(t *testing.T) {
	busy := reason.New("store_busy", reason.Transient, http.StatusServiceUnavailable, "ServiceUnavailable", "busy")
	for _, tc := range []struct {
		body   io.Reader
		reason reason.Reason
	}{
		{readError{busy}, busy},
		{io.MultiReader(strings.NewReader("JP"), errReader{}), ReasonInternal},
	} {
		o := newJobPipeline(t, &fakeUploader{}, 100).Run(context.Background(), Job{Source: &fakeSource{in: Input{Target: target(t, "users/a@contoso.com"), Size: -1, Body: tc.body}}})
		if o.Reason != tc.reason || !o.Transient || o.Status != StatusFailed {
			t.Errorf("outcome %s transient=%v, want %s", o.Reason, o.Transient, tc.reason)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestJobHeadroom(t *testing.T) {
	t.Run("too little time: not started, still recorded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		src, rec := &fakeSource{}, &fakeRecorder{}
		o := newJobPipeline(t, &fakeUploader{}, 100).Run(ctx, Job{Source: src, Recorder: rec, Headroom: 2 * time.Second, MinWork: time.Second})
		if src.opened || o.Reason != ReasonTimeout || !o.Transient || len(rec.got) != 1 {
			t.Errorf("opened %v, outcome %s transient=%v, recorded %d", src.opened, o.Reason, o.Transient, len(rec.got))
		}
	})
	t.Run("the steps end earlier than the record", func(t *testing.T) {
		deadline := time.Now().Add(time.Hour)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		src := &fakeSource{in: Input{Target: target(t, "users/a@contoso.com"), Size: 4, Body: strings.NewReader("JPEG")}}
		rec := &fakeRecorder{}
		newJobPipeline(t, &fakeUploader{}, 100).Run(ctx, Job{Source: src, Recorder: rec, Headroom: 2 * time.Second, MinWork: time.Second})
		stepDeadline, _ := src.ctx.Deadline()
		recordDeadline, _ := rec.ctx.Deadline()
		if !stepDeadline.Equal(deadline.Add(-2*time.Second)) || !recordDeadline.Equal(deadline) {
			t.Errorf("steps until %v, record until %v; want %v and %v", stepDeadline, recordDeadline, deadline.Add(-2*time.Second), deadline)
		}
	})
}

// metricLines keeps each EMF line as names → values, and its properties.
type metricLines struct {
	values []map[string]float64
	props  []map[string]any
}

func (m *metricLines) Write(_ context.Context, metrics []obs.Metric, props map[string]any) error {
	line := map[string]float64{}
	for _, mt := range metrics {
		line[mt.Name] = mt.Value
	}
	m.values, m.props = append(m.values, line), append(m.props, props)
	return nil
}

func TestReporterWritesOneLineAndOneMetricsLinePerOutcome(t *testing.T) {
	var logs bytes.Buffer
	metrics := &metricLines{}
	rep := Reporter{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: metrics}
	p := newJobPipeline(t, &fakeUploader{}, 100)
	superseded := reason.New("overtaken", reason.Skipped, http.StatusOK, "", "")
	jobs := []Job{
		{Source: &fakeSource{in: Input{Target: target(t, "users/a@contoso.com"), Size: 4, Body: strings.NewReader("JPEG")}}, Recorder: &fakeRecorder{note: "tags"}},
		{Source: &fakeSource{in: Input{Target: target(t, "users/a@contoso.com"), Size: 4, Body: strings.NewReader("%PDF")}}},
		{Source: &fakeSource{err: Skip(superseded, "version 2 is current")}},
	}
	for i := range jobs {
		jobs[i].Reporter, jobs[i].Trigger, jobs[i].RequestID = rep, "sqs", "req-1"
		p.Run(context.Background(), jobs[i])
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 || len(metrics.values) != 3 {
		t.Fatalf("%d log lines, %d metrics lines; want 3 each:\n%s", len(lines), len(metrics.values), logs.String())
	}
	for k, want := range map[string]any{"msg": "photo synced", "level": "INFO", "trigger": "sqs", "request_id": "req-1", "status": "synced",
		"target": "users/a@contoso.com", "source_bytes": 4.0, "photo_bytes": 2.0, "graph_request_id": "rid", "recorder": "tags"} {
		if lines[0][k] != want {
			t.Errorf("synced line %s = %v, want %v", k, lines[0][k], want)
		}
	}
	for _, k := range []string{"source_ms", "limits_ms", "normalise_ms", "unchanged_ms", "graph_ms", "remember_ms", "recorder_ms", "total_ms"} {
		if _, ok := lines[0][k]; !ok {
			t.Errorf("synced line lacks %s: %v", k, lines[0])
		}
	}
	if l := lines[1]; l["msg"] != "photo rejected" || l["level"] != "WARN" || l["reason"] != "unsupported_format" || l["error"] == nil {
		t.Errorf("rejected line %v", l)
	}
	if l := lines[2]; l["msg"] != "object skipped" || l["status"] != "skipped" || l["skipped"] != "overtaken" || l["skip_detail"] != "version 2 is current" || l["error"] != nil {
		t.Errorf("skipped line %v", l)
	}
	for i, want := range []map[string]float64{
		{obs.PhotosSynced: 1, obs.PhotosUnchanged: 0, obs.PhotosRejected: 0, obs.PhotosFailed: 0, obs.PhotosSkipped: 0, obs.BytesIn: 4, obs.BytesOut: 2},
		{obs.PhotosSynced: 0, obs.PhotosUnchanged: 0, obs.PhotosRejected: 1, obs.PhotosFailed: 0, obs.PhotosSkipped: 0, obs.BytesIn: 4, obs.BytesOut: 0},
		{obs.PhotosSynced: 0, obs.PhotosUnchanged: 0, obs.PhotosRejected: 0, obs.PhotosFailed: 0, obs.PhotosSkipped: 1},
	} {
		got := metrics.values[i]
		for k, v := range want {
			if got[k] != v {
				t.Errorf("metrics line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
		if _, ok := got[obs.NormaliseMs]; !ok || len(got) != 9 {
			t.Errorf("metrics line %d: %v, want the nine metrics", i, got)
		}
		if metrics.props[i]["request_id"] != "req-1" || metrics.props[i]["trigger"] != "sqs" {
			t.Errorf("metrics line %d properties %v", i, metrics.props[i])
		}
	}
}

// TestReporterCountsUnchangedApart: a photo Graph already holds is neither written (synced) nor
// skipped; it has its own message and metric, and its status stays synced.
func TestReporterCountsUnchangedApart(t *testing.T) {
	var logs bytes.Buffer
	metrics := &metricLines{}
	o := newJobPipeline(t, &fakeUploader{}, 100).Run(context.Background(), Job{
		Source:   &fakeSource{err: Skip(ReasonUnchanged, "Graph holds this photo")},
		Reporter: Reporter{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: metrics},
	})
	if o.Status != StatusSynced || !o.Unchanged() || o.Skipped() || o.Transient {
		t.Errorf("outcome %+v", o)
	}
	if !strings.Contains(logs.String(), `"msg":"photo unchanged"`) {
		t.Errorf("log %s", logs.String())
	}
	if m := metrics.values[0]; m[obs.PhotosUnchanged] != 1 || m[obs.PhotosSynced] != 0 || m[obs.PhotosSkipped] != 0 {
		t.Errorf("metrics %v", m)
	}
}
