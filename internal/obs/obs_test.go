package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestLoggerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo).With("fn", "onupload")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	log.InfoContext(ctx, "object done", "bucket", "b")
	log.Info("no context")
	log.DebugContext(ctx, "below the level")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("line %q is not JSON: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatalf("line %q is not JSON: %v", lines[1], err)
	}
	for k, want := range map[string]any{"requestId": "req-123", "message": "object done", "level": "INFO", "bucket": "b", "fn": "onupload"} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, first[k], want, lines[0])
		}
	}
	if _, ok := first["timestamp"]; !ok {
		t.Errorf("no timestamp key in %s", lines[0])
	}
	if _, ok := second["requestId"]; ok {
		t.Errorf("a line without a Lambda context has a request id: %s", lines[1])
	}
}

func TestMetricsLine(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 5, 1, 9, 0, 0, 123e6, time.UTC)
	m, err := NewMetrics(&buf, "GraphPhoto", func() time.Time { return at }, Dimension{"FunctionName", "onupload"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-9"})
	err = m.Write(ctx, []Metric{{"PhotosSynced", Count, 1}, {"NormaliseMs", Milliseconds, 41.5}, {"BytesIn", Bytes, 2048}},
		map[string]any{"reason": "", "key": "photos/a.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines, want exactly one: %q", n, buf.String())
	}
	var line struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		FunctionName string
		PhotosSynced float64
		NormaliseMs  float64
		BytesIn      float64
		Key          string `json:"key"`
		RequestID    string `json:"requestId"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if line.AWS.Timestamp != at.UnixMilli() {
		t.Errorf("Timestamp = %d, want %d (milliseconds since the epoch)", line.AWS.Timestamp, at.UnixMilli())
	}
	if len(line.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("directives: %+v", line.AWS.CloudWatchMetrics)
	}
	d := line.AWS.CloudWatchMetrics[0]
	if d.Namespace != "GraphPhoto" || len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 1 || d.Dimensions[0][0] != "FunctionName" {
		t.Errorf("directive: %+v", d)
	}
	wantDefs := []struct{ Name, Unit string }{{"PhotosSynced", "Count"}, {"NormaliseMs", "Milliseconds"}, {"BytesIn", "Bytes"}}
	if len(d.Metrics) != len(wantDefs) {
		t.Fatalf("metric definitions %+v, want %+v", d.Metrics, wantDefs)
	}
	for i := range wantDefs {
		if d.Metrics[i] != wantDefs[i] {
			t.Errorf("metric %d = %+v, want %+v", i, d.Metrics[i], wantDefs[i])
		}
	}
	if line.FunctionName != "onupload" || line.PhotosSynced != 1 || line.NormaliseMs != 41.5 || line.BytesIn != 2048 ||
		line.Key != "photos/a.jpg" || line.RequestID != "req-9" {
		t.Errorf("members: %+v", line)
	}
}

func TestMetricsRefusals(t *testing.T) {
	var buf bytes.Buffer
	m, err := NewMetrics(&buf, "NS", nil, Dimension{"FunctionName", "f"})
	if err != nil {
		t.Fatal(err)
	}
	tooMany := make([]Metric, 101)
	for i := range tooMany {
		tooMany[i] = Metric{Name: "m" + string(rune('a'+i%26)) + strings.Repeat("x", i), Unit: Count, Value: 1}
	}
	cases := map[string]struct {
		metrics []Metric
		props   map[string]any
	}{
		"none":                {nil, nil},
		"over 100":            {tooMany, nil},
		"empty name":          {[]Metric{{"", Count, 1}}, nil},
		"twice":               {[]Metric{{"A", Count, 1}, {"A", Count, 2}}, nil},
		"clashes a dimension": {[]Metric{{"FunctionName", Count, 1}}, nil},
		"NaN":                 {[]Metric{{"A", Count, math.NaN()}}, nil},
		"infinite":            {[]Metric{{"A", Milliseconds, math.Inf(1)}}, nil},
		"property clash":      {[]Metric{{"A", Count, 1}}, map[string]any{"A": "x"}},
		"property _aws":       {[]Metric{{"A", Count, 1}}, map[string]any{"_aws": "x"}},
	}
	for name, c := range cases {
		if err := m.Write(context.Background(), c.metrics, c.props); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("refused lines were written: %q", buf.String())
	}
	if _, err := NewMetrics(&buf, "", nil); err == nil {
		t.Error("empty namespace accepted")
	}
	if _, err := NewMetrics(&buf, "NS", nil, Dimension{"", "x"}); err == nil {
		t.Error("empty dimension name accepted")
	}
}
