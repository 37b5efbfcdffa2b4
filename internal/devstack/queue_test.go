package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// flakyFunction reports every message whose key contains "poison" as failed, and fails the
// first attempt of keys containing "once".
type flakyFunction struct {
	mu    sync.Mutex
	seen  map[string]int
	calls int
}

func (f *flakyFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		key := keyOf(m.Body)
		f.seen[key]++
		if strings.Contains(key, "poison") || (strings.Contains(key, "once") && f.seen[key] == 1) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return json.Marshal(resp)
}

func s3Event(key string) events.S3Event {
	return events.S3Event{Records: []events.S3EventRecord{{EventName: "ObjectCreated:Put",
		S3: events.S3Entity{Bucket: events.S3Bucket{Name: "b"}, Object: events.S3Object{Key: key}}}}}
}

func TestQueue(t *testing.T) {
	fn := &flakyFunction{seen: map[string]int{}}
	dlq := t.TempDir()
	q := NewQueue(fn, dlq, 3, 20*time.Millisecond, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	for _, k := range []string{"a.jpg", "b.jpg", "once.jpg", "poison.jpg"} {
		if err := q.Send(ctx, s3Event(k)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(10 * time.Second)
	for len(q.Deliveries()) < 4 {
		select {
		case <-q.Changed():
		case <-deadline:
			t.Fatalf("deliveries: %+v", q.Deliveries())
		}
	}
	got := map[string]Delivery{}
	for _, d := range q.Deliveries() {
		got[d.Key] = d
	}
	if d := got["a.jpg"]; d.Dead || d.Receives != 1 {
		t.Errorf("a.jpg: %+v", d)
	}
	if d := got["once.jpg"]; d.Dead || d.Receives != 2 {
		t.Errorf("once.jpg: %+v", d)
	}
	if d := got["poison.jpg"]; !d.Dead || d.Receives != 3 {
		t.Errorf("poison.jpg: %+v", d)
	}
	files, _ := filepath.Glob(filepath.Join(dlq, "*.json"))
	if len(files) != 1 {
		t.Fatalf("dead-letter files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "poison.jpg") {
		t.Errorf("dead letter does not keep the message: %s", b)
	}
	if !q.Idle() {
		t.Error("queue not idle after every message ended")
	}
}

// slowFunction takes a while per invocation and records how many invocations overlap and how
// big each batch was.
type slowFunction struct {
	mu                  sync.Mutex
	running, maxRunning int
	maxBatch, messages  int
}

func (f *slowFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.running++
	f.maxRunning = max(f.maxRunning, f.running)
	f.maxBatch = max(f.maxBatch, len(ev.Records))
	f.messages += len(ev.Records)
	f.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	f.mu.Lock()
	f.running--
	f.mu.Unlock()
	return []byte(`{"batchItemFailures":[]}`), nil
}

// TestQueuePool: several instances are driven at once, batches respect the batch size, and a
// paused queue delivers nothing until it is resumed.
func TestQueuePool(t *testing.T) {
	fns := []*slowFunction{{}, {}, {}}
	var invokers []Invoker
	for _, f := range fns {
		invokers = append(invokers, f)
	}
	q := NewQueuePool(invokers, 4, t.TempDir(), 3, 20*time.Millisecond, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q.Pause(true)
	go q.Run(ctx)
	for i := range 60 {
		if err := q.Send(ctx, s3Event(strings.Repeat("k", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // longer than a poll tick
	if n := len(q.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries while paused", n)
	}
	q.Pause(false)
	deadline := time.After(10 * time.Second)
	for len(q.Deliveries()) < 60 {
		select {
		case <-q.Changed():
		case <-deadline:
			t.Fatalf("%d deliveries", len(q.Deliveries()))
		}
	}
	total, busy := 0, 0
	for _, f := range fns {
		f.mu.Lock()
		total += f.messages
		if f.messages > 0 {
			busy++
		}
		if f.maxBatch > 4 || f.maxRunning > 1 {
			t.Errorf("instance: batch of %d, %d invocations at once", f.maxBatch, f.maxRunning)
		}
		f.mu.Unlock()
	}
	if total != 60 || busy < 2 {
		t.Errorf("%d messages delivered over %d busy instances; want 60 over at least 2", total, busy)
	}

	// Limited to one instance, only the first takes messages.
	q.Limit(1)
	before := fns[1].messages + fns[2].messages
	for i := range 20 {
		q.Send(ctx, s3Event(strings.Repeat("m", i+1)))
	}
	for len(q.Deliveries()) < 80 {
		select {
		case <-q.Changed():
		case <-deadline:
			t.Fatalf("%d deliveries", len(q.Deliveries()))
		}
	}
	fns[1].mu.Lock()
	fns[2].mu.Lock()
	if after := fns[1].messages + fns[2].messages; after != before {
		t.Errorf("limited to one instance, the others took %d messages", after-before)
	}
	fns[2].mu.Unlock()
	fns[1].mu.Unlock()
}

// healingFunction fails every message until healed, as onupload does while Graph is down.
type healingFunction struct {
	mu     sync.Mutex
	healed bool
}

func (f *healingFunction) heal() {
	f.mu.Lock()
	f.healed = true
	f.mu.Unlock()
}

func (f *healingFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if keyOf(m.Body) == "" {
			return nil, errors.New("message body is not the S3 event")
		}
		if !f.healed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return json.Marshal(resp)
}

// TestRedrive: a message dead-lettered while the function failed is moved back by Redrive and
// delivered once the function works again; a file in the folder that is no dead letter stays
// and is reported; a second redrive finds nothing to move.
func TestRedrive(t *testing.T) {
	fn := &healingFunction{}
	dlq := t.TempDir()
	q := NewQueue(fn, dlq, 2, 10*time.Millisecond, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	if err := q.Send(ctx, s3Event("users/bob%40contoso.com/me.jpg")); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func([]Delivery) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !ok(q.Deliveries()) {
			select {
			case <-q.Changed():
			case <-deadline:
				t.Fatalf("%s: deliveries %+v", what, q.Deliveries())
			}
		}
	}
	waitFor("dead-lettered", func(ds []Delivery) bool { return len(ds) == 1 && ds[0].Dead })
	letters, err := q.DeadLetters()
	if err != nil || len(letters) != 1 || letters[0].Delivery.Key != "users/bob%40contoso.com/me.jpg" || letters[0].Delivery.Receives != 2 {
		t.Fatalf("dead letters %+v, %v", letters, err)
	}
	junk := filepath.Join(dlq, "notes.json")
	if err := os.WriteFile(junk, []byte(`{"delivery":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}

	fn.heal()
	moved, err := q.Redrive(ctx)
	if moved != 1 || !errors.Is(err, ErrNotDeadLetter) || !strings.Contains(err.Error(), "notes.json") {
		t.Fatalf("redrive moved %d, err %v; want 1 and notes.json reported", moved, err)
	}
	waitFor("delivered after the redrive", func(ds []Delivery) bool { return len(ds) == 2 })
	if d := q.Deliveries()[1]; d.Dead || d.Receives != 1 || d.Key != "users/bob%40contoso.com/me.jpg" || d.MessageID == letters[0].Delivery.MessageID {
		t.Errorf("redriven message: %+v", d)
	}
	if _, err := os.Stat(letters[0].File); !os.IsNotExist(err) {
		t.Errorf("dead letter %s still there after the redrive: %v", letters[0].File, err)
	}
	if _, err := os.Stat(junk); err != nil {
		t.Errorf("the file that is no dead letter was removed: %v", err)
	}
	if moved, _ := q.Redrive(ctx); moved != 0 {
		t.Errorf("second redrive moved %d", moved)
	}
}
