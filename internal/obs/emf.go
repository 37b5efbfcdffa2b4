package obs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units the functions use (CloudWatch's StandardUnit names).
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Bytes        Unit = "Bytes"
)

// Metric is one value of an EMF line.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Dimension is a name and value every metric of a Metrics writer is recorded under.
type Dimension struct {
	Name  string
	Value string
}

// Limits of the Embedded Metric Format specification.
const (
	maxMetrics    = 100
	maxDimensions = 30
)

// Metrics writes CloudWatch Embedded Metric Format lines: one JSON object per line,
//
//	{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"GraphPhoto",
//	  "Dimensions":[["FunctionName"]],"Metrics":[{"Name":"PhotosSynced","Unit":"Count"}]}]},
//	 "FunctionName":"onupload","PhotosSynced":1,"requestId":"…"}
//
// as the specification describes (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
// CloudWatch_Embedded_Metric_Format_Specification.html): each dimension and metric is a
// top-level member; other members (properties) are kept in the log but are not metrics. On
// Lambda the line goes to stdout, where CloudWatch Logs extracts the metrics. It is safe for
// concurrent use; lines are never interleaved.
type Metrics struct {
	w          io.Writer
	namespace  string
	dimensions []Dimension
	now        func() time.Time
	mu         sync.Mutex
}

// NewMetrics returns a writer of EMF lines in namespace with one dimension set made of dims
// (possibly empty). now is the clock (time.Now when nil).
func NewMetrics(w io.Writer, namespace string, now func() time.Time, dims ...Dimension) (*Metrics, error) {
	if namespace == "" {
		return nil, errors.New("metrics: namespace is empty")
	}
	if len(dims) > maxDimensions {
		return nil, fmt.Errorf("metrics: %d dimensions, EMF allows %d", len(dims), maxDimensions)
	}
	for _, d := range dims {
		if d.Name == "" || d.Name == "_aws" {
			return nil, fmt.Errorf("metrics: dimension name %q is not allowed", d.Name)
		}
	}
	if now == nil {
		now = time.Now
	}
	return &Metrics{w: w, namespace: namespace, dimensions: dims, now: now}, nil
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit,omitempty"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// Write emits one line with metrics and the extra properties (request id, reason: searchable in
// Logs Insights, but not dimensions, so they do not multiply the metrics). The request id of
// ctx is added as "requestId". Property names must not clash with metric or dimension names.
func (m *Metrics) Write(ctx context.Context, metrics []Metric, props map[string]any) error {
	if len(metrics) == 0 || len(metrics) > maxMetrics {
		return fmt.Errorf("metrics: %d metrics in one line, want 1 to %d", len(metrics), maxMetrics)
	}
	root := make(map[string]any, len(metrics)+len(m.dimensions)+len(props)+2)
	set := make([]string, 0, len(m.dimensions))
	for _, d := range m.dimensions {
		root[d.Name] = d.Value
		set = append(set, d.Name)
	}
	defs := make([]emfMetric, 0, len(metrics))
	for _, mt := range metrics {
		if mt.Name == "" || mt.Name == "_aws" {
			return fmt.Errorf("metrics: metric name %q is not allowed", mt.Name)
		}
		if _, dup := root[mt.Name]; dup {
			return fmt.Errorf("metrics: %q is used twice", mt.Name)
		}
		if math.IsNaN(mt.Value) || math.IsInf(mt.Value, 0) {
			return fmt.Errorf("metrics: %s is %v, not a number CloudWatch accepts", mt.Name, mt.Value)
		}
		root[mt.Name] = mt.Value
		defs = append(defs, emfMetric{Name: mt.Name, Unit: mt.Unit})
	}
	for k, v := range props {
		if _, dup := root[k]; dup || k == "_aws" {
			return fmt.Errorf("metrics: property %q clashes with a metric or dimension", k)
		}
		root[k] = v
	}
	if id := RequestID(ctx); id != "" {
		if _, dup := root["requestId"]; !dup {
			root["requestId"] = id
		}
	}
	root["_aws"] = emfMeta{
		Timestamp: m.now().UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  m.namespace,
			Dimensions: [][]string{set},
			Metrics:    defs,
		}},
	}
	line, err := json.Marshal(root)
	if err != nil {
		return fmt.Errorf("metrics: encode line: %w", err)
	}
	line = append(line, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.w.Write(line); err != nil {
		return fmt.Errorf("metrics: write line: %w", err)
	}
	return nil
}
