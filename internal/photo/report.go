package photo

import (
	"context"
	"log/slog"
	"time"

	"github.com/graphphoto/graphphoto/internal/obs"
)

// MetricsWriter writes CloudWatch EMF lines (*obs.Metrics).
type MetricsWriter interface {
	Write(ctx context.Context, metrics []obs.Metric, props map[string]any) error
}

// Reporter writes what operators read about every outcome, the same on both paths: one JSON log
// line and one EMF metrics line. The zero Reporter writes nothing.
type Reporter struct {
	Log     *slog.Logger  // the functions' JSON logger (obs.NewLogger); nil writes no line
	Metrics MetricsWriter // nil writes no metrics
}

// Report writes the outcome's log line, at a level that says how much it needs a look (a
// refusal warns, a failure is an error), and its metrics line.
func (r Reporter) Report(ctx context.Context, j Job, o Outcome) {
	if r.Log != nil {
		level, msg := slog.LevelInfo, "photo synced"
		switch {
		case o.Unchanged():
			msg = "photo unchanged"
		case o.Skipped():
			msg = "object skipped"
		case o.Status == StatusRejected:
			level, msg = slog.LevelWarn, "photo rejected"
		case o.Status == StatusFailed:
			level, msg = slog.LevelError, "photo failed"
		}
		attrs := append([]slog.Attr{slog.String("trigger", j.Trigger), slog.String("request_id", j.RequestID)}, o.LogAttrs()...)
		r.Log.LogAttrs(ctx, level, msg, attrs...)
	}
	if r.Metrics == nil {
		return
	}
	count := func(s Status) float64 {
		if o.Status == s && !o.Skipped() && !o.Unchanged() {
			return 1
		}
		return 0
	}
	one := func(yes bool) float64 {
		if yes {
			return 1
		}
		return 0
	}
	metrics := []obs.Metric{
		{Name: obs.PhotosSynced, Unit: obs.Count, Value: count(StatusSynced)},
		{Name: obs.PhotosUnchanged, Unit: obs.Count, Value: one(o.Unchanged())},
		{Name: obs.PhotosRejected, Unit: obs.Count, Value: count(StatusRejected)},
		{Name: obs.PhotosFailed, Unit: obs.Count, Value: count(StatusFailed)},
		{Name: obs.PhotosSkipped, Unit: obs.Count, Value: one(o.Skipped())},
		{Name: obs.NormaliseMs, Unit: obs.Milliseconds, Value: ms(o.Took("normalise"))},
		{Name: obs.GraphMs, Unit: obs.Milliseconds, Value: ms(o.Took("graph"))},
		{Name: obs.BytesIn, Unit: obs.Bytes, Value: float64(o.SourceBytes)},
		{Name: obs.BytesOut, Unit: obs.Bytes, Value: float64(o.PhotoBytes)},
	}
	props := map[string]any{"trigger": j.Trigger, "status": string(o.Status), "request_id": j.RequestID}
	if !o.Reason.IsZero() {
		props["reason"] = o.Reason.String()
	}
	if err := r.Metrics.Write(ctx, metrics, props); err != nil && r.Log != nil {
		r.Log.WarnContext(ctx, "metrics line not written", "error", err.Error())
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
