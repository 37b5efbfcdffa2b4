package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Queue stands in for S3 → SQS → Lambda: S3 events become SQS messages, a poller hands them to
// the function in batches, messages the function reports as failed (batchItemFailures) come back
// after a visibility timeout, and after MaxReceives they go to the dead-letter folder, as a
// redrive policy would move them to the DLQ.
type Queue struct {
	fns         []Invoker
	log         *slog.Logger
	dlqDir      string
	maxReceives int
	visibility  time.Duration
	batch       int

	mu       sync.Mutex
	paused   bool
	limit    int // pollers allowed to take messages; the first limit instances
	ready    []*message
	inFlight int
	wake     chan struct{}
	results  []Delivery
	changed  chan struct{}
}

type message struct {
	id       string
	body     string
	receives int
	visible  time.Time
}

// Delivery is what became of one message: done (the function did not report it failed) or
// dead-lettered.
type Delivery struct {
	MessageID string `json:"messageId"`
	Key       string `json:"key"`
	Receives  int    `json:"receives"`
	Dead      bool   `json:"deadLettered"`
	Error     string `json:"error,omitempty"`
}

// NewQueue makes a queue feeding fn, ten messages at a time. dlqDir receives one JSON file per
// dead-lettered message.
func NewQueue(fn Invoker, dlqDir string, maxReceives int, visibility time.Duration, log *slog.Logger) *Queue {
	return NewQueuePool([]Invoker{fn}, 10, dlqDir, maxReceives, visibility, log)
}

// NewQueuePool makes a queue feeding several instances of a function at once, as Lambda's SQS
// poller scales up to the mapping's MaximumConcurrency, with up to batch messages per
// invocation.
func NewQueuePool(fns []Invoker, batch int, dlqDir string, maxReceives int, visibility time.Duration, log *slog.Logger) *Queue {
	return &Queue{fns: fns, log: log, dlqDir: dlqDir, maxReceives: maxReceives, visibility: visibility, batch: batch,
		limit: len(fns), wake: make(chan struct{}, len(fns)), changed: make(chan struct{})}
}

// Limit lets only the first n instances take messages (n ≤ the instances started), as
// lowering the mapping's MaximumConcurrency would.
func (q *Queue) Limit(n int) {
	q.mu.Lock()
	q.limit = max(1, min(n, len(q.fns)))
	q.mu.Unlock()
	q.poke()
}

// Pause stops (true) or restarts (false) deliveries; messages sent meanwhile wait, as they
// would with the event source mapping disabled.
func (q *Queue) Pause(paused bool) {
	q.mu.Lock()
	q.paused = paused
	q.mu.Unlock()
	q.poke()
}

// Send enqueues an S3 event as S3 does: one message per notification, the event JSON as body.
func (q *Queue) Send(_ context.Context, ev events.S3Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("queue: encode event: %w", err)
	}
	q.mu.Lock()
	q.ready = append(q.ready, &message{id: newMessageID(), body: string(body)})
	q.mu.Unlock()
	q.poke()
	return nil
}

func (q *Queue) poke() {
	for range cap(q.wake) {
		select {
		case q.wake <- struct{}{}:
		default:
			return
		}
	}
}

// Run polls until ctx ends, with one poller per function instance, each delivering one batch at
// a time (an instance handles one event at a time).
func (q *Queue) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, fn := range q.fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.poll(ctx, i, fn)
		}()
	}
	wg.Wait()
}

func (q *Queue) poll(ctx context.Context, i int, fn Invoker) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-tick.C:
		}
		for {
			batch := q.take(i, time.Now())
			if len(batch) == 0 {
				break
			}
			q.deliver(ctx, fn, batch)
		}
	}
}

func (q *Queue) take(poller int, now time.Time) []*message {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.paused || poller >= q.limit {
		return nil
	}
	var batch, rest []*message
	for _, m := range q.ready {
		if len(batch) < q.batch && !m.visible.After(now) {
			batch = append(batch, m)
		} else {
			rest = append(rest, m)
		}
	}
	q.ready = rest
	q.inFlight += len(batch)
	return batch
}

func (q *Queue) deliver(ctx context.Context, fn Invoker, batch []*message) {
	ev := events.SQSEvent{}
	byID := map[string]*message{}
	for _, m := range batch {
		m.receives++
		byID[m.id] = m
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: m.id, ReceiptHandle: m.id, Body: m.body, EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:graphphoto-uploads", AWSRegion: "us-east-1",
			Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(m.receives), "SentTimestamp": fmt.Sprint(time.Now().UnixMilli())},
		})
	}
	payload, _ := json.Marshal(ev)
	failed := map[string]string{}
	out, err := fn.Invoke(ctx, payload)
	if err != nil {
		// A function error fails the whole batch, as Lambda's SQS poller treats it.
		for id := range byID {
			failed[id] = err.Error()
		}
	} else {
		var resp events.SQSEventResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			for id := range byID {
				failed[id] = "unreadable function response"
			}
		}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = "reported as a batch item failure"
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inFlight -= len(batch)
	for _, m := range batch {
		why, bad := failed[m.id]
		switch {
		case !bad:
			q.results = append(q.results, Delivery{MessageID: m.id, Key: keyOf(m.body), Receives: m.receives})
		case m.receives >= q.maxReceives:
			d := Delivery{MessageID: m.id, Key: keyOf(m.body), Receives: m.receives, Dead: true, Error: why}
			q.results = append(q.results, d)
			q.deadLetter(m, d)
		default:
			// Back after the visibility timeout, longer each time.
			m.visible = time.Now().Add(q.visibility * time.Duration(m.receives))
			q.ready = append(q.ready, m)
		}
	}
	close(q.changed)
	q.changed = make(chan struct{})
}

// DeadLetter is one file of the dead-letter folder: what became of the message, and its body
// (the S3 event) as it was queued.
type DeadLetter struct {
	File     string          `json:"-"`
	Delivery Delivery        `json:"delivery"`
	Body     json.RawMessage `json:"body"`
}

func (q *Queue) deadLetter(m *message, d Delivery) {
	b, _ := json.MarshalIndent(DeadLetter{Delivery: d, Body: json.RawMessage(m.body)}, "", "  ")
	if err := os.MkdirAll(q.dlqDir, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(q.dlqDir, m.id+".json"), b, 0o644)
		if err != nil {
			q.log.Error("dlq: write failed", "message_id", m.id, "error", err)
		}
	}
	q.log.Warn("dlq: message dead-lettered", "message_id", m.id, "key", d.Key, "receives", d.Receives)
}

// ErrNotDeadLetter is a file in the dead-letter folder that is not a dead letter this queue
// wrote (unreadable, not JSON, no body); it is left where it is.
var ErrNotDeadLetter = errors.New("not a dead letter")

// DeadLetters reads the dead-letter folder, oldest file name first; the folder is kept between
// runs, so it also holds the letters of earlier runs. Files that are not dead letters are
// skipped and named in the error (ErrNotDeadLetter).
func (q *Queue) DeadLetters() ([]DeadLetter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.readDeadLetters()
}

// readDeadLetters runs under q.mu, which deliver also holds while it writes a dead letter, so
// a file is never read half-written.
func (q *Queue) readDeadLetters() ([]DeadLetter, error) {
	files, err := filepath.Glob(filepath.Join(q.dlqDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("dlq: list %s: %w", q.dlqDir, err)
	}
	sort.Strings(files)
	var out []DeadLetter
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("dlq: %s: %w: %w", f, ErrNotDeadLetter, err))
			continue
		}
		var dl DeadLetter
		var ev events.S3Event
		if err := json.Unmarshal(b, &dl); err != nil {
			errs = append(errs, fmt.Errorf("dlq: %s: %w: %w", f, ErrNotDeadLetter, err))
			continue
		}
		if len(dl.Body) == 0 || json.Unmarshal(dl.Body, &ev) != nil || len(ev.Records) == 0 {
			errs = append(errs, fmt.Errorf("dlq: %s: %w: its body is not an S3 event", f, ErrNotDeadLetter))
			continue
		}
		dl.File = f
		out = append(out, dl)
	}
	return out, errors.Join(errs...)
}

// Redrive moves every dead letter back onto the queue, as `aws sqs start-message-move-task`
// moves a DLQ's messages back to their source queue once the cause of the failures is fixed:
// each goes back with its original body (the S3 event), a new message id and a fresh receive
// count, and its file is removed. A file is removed before its message is queued, so a letter
// is never moved twice. It returns how many letters were moved; files that are not dead
// letters stay and are named in the error (ErrNotDeadLetter).
func (q *Queue) Redrive(ctx context.Context) (int, error) {
	q.mu.Lock()
	letters, readErr := q.readDeadLetters()
	var errs []error
	moved := 0
	for _, dl := range letters {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		var body bytes.Buffer
		if err := json.Compact(&body, dl.Body); err != nil {
			errs = append(errs, fmt.Errorf("dlq: %s: %w: %w", dl.File, ErrNotDeadLetter, err))
			continue
		}
		if err := os.Remove(dl.File); err != nil {
			errs = append(errs, fmt.Errorf("dlq: redrive %s: %w", dl.File, err))
			continue
		}
		m := &message{id: newMessageID(), body: body.String()}
		q.ready = append(q.ready, m)
		moved++
		q.log.Info("dlq: message redriven", "message_id", m.id, "dead_message_id", dl.Delivery.MessageID, "key", dl.Delivery.Key)
	}
	q.mu.Unlock()
	q.poke()
	return moved, errors.Join(append([]error{readErr}, errs...)...)
}

// Deliveries returns what has become of every message so far.
func (q *Queue) Deliveries() []Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Delivery(nil), q.results...)
}

// Idle reports whether nothing is waiting or being delivered.
func (q *Queue) Idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready) == 0 && q.inFlight == 0
}

// Changed is closed at the next delivery result.
func (q *Queue) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

func keyOf(body string) string {
	var ev events.S3Event
	if json.Unmarshal([]byte(body), &ev) == nil && len(ev.Records) > 0 {
		return ev.Records[0].S3.Object.Key
	}
	return ""
}

func newMessageID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
