package photostate

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// The concurrency proof of the package doc, checked: two writers of one target are driven one
// call at a time (every S3 and Graph request is a step, the real requests reach the real S3
// server and the Graph emulator), through every order of their steps. After every step that
// writes, a written record whose media ETag is Graph's current one must name the photo Graph
// holds.

// event is a writer arriving at its next request, or finishing.
type event struct {
	writer  int
	name    string
	done    bool
	proceed chan struct{}
}

// gate stops a writer before each request until the scheduler lets it go.
type gate struct {
	id     int
	events chan event
}

func (g gate) pass(name string) {
	ch := make(chan struct{})
	g.events <- event{writer: g.id, name: name, proceed: ch}
	<-ch
}

type gatedS3 struct {
	S3
	g gate
}

func (x gatedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	x.g.pass("read record")
	return x.S3.GetObject(ctx, in, optFns...)
}

func (x gatedS3) PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	switch {
	case in.IfMatch != nil:
		x.g.pass("write record If-Match")
	case in.IfNoneMatch != nil:
		x.g.pass("write record If-None-Match")
	default:
		x.g.pass("write record")
	}
	return x.S3.PutObject(ctx, in, optFns...)
}

type gatedGraph struct {
	c *graph.Client
	g gate
}

func (x gatedGraph) GetPhotoMeta(ctx context.Context, t graph.Target) (graph.PhotoMeta, error) {
	x.g.pass("GET photo")
	return x.c.GetPhotoMeta(ctx, t)
}

func (x gatedGraph) PutPhoto(ctx context.Context, t graph.Target, jpeg []byte) (graph.Result, error) {
	x.g.pass("PUT photo")
	return x.c.PutPhoto(ctx, t, jpeg)
}

// decision is one choice of the scheduler: which writer went, among those waiting.
type decision struct {
	enabled []int
	chosen  int
	step    string
}

// scenario is a target's state before two writers start, and what each writes.
type scenario struct {
	name   string
	prior  func(t *testing.T, e *env, st *Store, tg graph.Target)
	photos [2][]byte
}

// run drives both writers on a fresh target, following prefix and then the lowest-numbered
// writer, and returns every decision made and every violation seen.
func (e *env) run(t *testing.T, sc scenario, prefix []int) ([]decision, []string, runResult) {
	t.Helper()
	ctx := context.Background()
	tg := e.target(t)
	plain := e.store(t, nil, nil)
	if sc.prior != nil {
		sc.prior(t, e, plain, tg)
	}
	events := make(chan event)
	results := make([]error, 2)
	for w := range 2 {
		g := gate{id: w, events: events}
		gg := gatedGraph{c: e.gc, g: g}
		st := e.store(t, gatedS3{S3: e.s3.Client(), g: g}, gg)
		go func() {
			defer func() { events <- event{writer: w, done: true} }()
			wr := st.Begin(tg, NewFingerprint(sc.photos[w], options))
			v, err := wr.Check(ctx)
			if err != nil {
				results[w] = err
				return
			}
			if v.Unchanged {
				return
			}
			if _, err := gg.PutPhoto(ctx, tg, sc.photos[w]); err != nil {
				results[w] = err
				return
			}
			if err := wr.Remember(ctx); err != nil && !isNotRecorded(err) {
				results[w] = err
			}
		}()
	}
	pending := map[int]event{}
	for range 2 {
		ev := <-events
		pending[ev.writer] = ev
	}
	var trace []decision
	var violations []string
	for {
		var enabled []int
		for w, ev := range pending {
			if !ev.done {
				enabled = append(enabled, w)
			}
		}
		if len(enabled) == 0 {
			break
		}
		sort.Ints(enabled)
		chosen := enabled[0]
		if i := len(trace); i < len(prefix) {
			chosen = prefix[i]
		}
		ev := pending[chosen]
		trace = append(trace, decision{enabled: enabled, chosen: chosen, step: fmt.Sprintf("%c: %s", 'A'+chosen, ev.name)})
		close(ev.proceed)
		next := <-events
		if next.writer != chosen {
			t.Fatalf("writer %d moved while writer %d had the turn", next.writer, chosen)
		}
		pending[chosen] = next
		if !strings.HasPrefix(ev.name, "write") && ev.name != "PUT photo" {
			continue // a read changes neither the record nor Graph
		}
		if v := e.violation(t, plain, tg); v != "" {
			violations = append(violations, fmt.Sprintf("after step %d: %s", len(trace), v))
		}
	}
	for w, err := range results {
		if err != nil {
			violations = append(violations, fmt.Sprintf("writer %c failed: %v", 'A'+w, err))
		}
	}
	rec, _ := e.raw(t, plain, tg)
	held, _ := e.graph.Photo(tenantID, tg.String())
	return trace, violations, runResult{recorded: rec.State == stateWritten && rec.MediaETag == held.ETag, held: digest(held.Data)}
}

type runResult struct {
	recorded bool   // the run ended with a written record of what Graph holds
	held     string // digest of the photo Graph holds
}

// violation is what is wrong with the target's record now, "" if nothing: a written record
// whose media ETag is Graph's current one must name the photo Graph holds.
func (e *env) violation(t *testing.T, st *Store, tg graph.Target) string {
	out, err := e.s3.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(st.Key(tg))})
	if err != nil {
		return "" // no record yet
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return "record unreadable: " + err.Error()
	}
	rec, err := DecodeRecord(b)
	if err != nil {
		return "unreadable record: " + err.Error()
	}
	held, ok := e.graph.Photo(tenantID, tg.String())
	if rec.State == stateWritten && ok && rec.MediaETag == held.ETag && rec.Photo != digest(held.Data) {
		return fmt.Sprintf("the record names photo %.15s… at version %s, but Graph holds %.15s… at that version", rec.Photo, rec.MediaETag, digest(held.Data))
	}
	return ""
}

func TestConcurrentWritersNeverRecordAnotherPhoto(t *testing.T) {
	e := newEnv(t, 1500)
	p1, p2, p9 := photo(1), photo(2), photo(9)
	written := func(p []byte) func(t *testing.T, e *env, st *Store, tg graph.Target) {
		return func(t *testing.T, e *env, st *Store, tg graph.Target) {
			if v, err, _ := e.write(t, st, tg, p); v.Unchanged || err != nil {
				t.Fatalf("prior write: %+v %v", v, err)
			}
		}
	}
	for _, sc := range []scenario{
		{name: "two photos, no record yet", photos: [2][]byte{p1, p2}},
		{name: "one photo delivered twice", photos: [2][]byte{p1, p1}},
		{name: "an unchanged photo beside a new one", prior: written(p1), photos: [2][]byte{p1, p2}},
		{name: "an unchanged photo beside a new one, after an outside change", photos: [2][]byte{p1, p2},
			prior: func(t *testing.T, e *env, st *Store, tg graph.Target) {
				written(p1)(t, e, st, tg)
				if _, err := e.graph.SetPhoto(tenantID, tg.String(), p9); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			runs, recorded := 0, 0
			var explore func(prefix []int)
			explore = func(prefix []int) {
				trace, violations, res := e.run(t, sc, prefix)
				runs++
				if res.recorded {
					recorded++
				}
				if len(violations) > 0 {
					var steps []string
					for _, d := range trace {
						steps = append(steps, d.step)
					}
					t.Fatalf("%s\nsteps:\n  %s", strings.Join(violations, "\n"), strings.Join(steps, "\n  "))
				}
				if runs == 1 && !res.recorded {
					// One writer after the other: the last one's photo is recorded.
					t.Errorf("writers one after the other left no written record of what Graph holds")
				}
				for i := len(prefix); i < len(trace); i++ {
					for _, alt := range trace[i].enabled {
						if alt == trace[i].chosen {
							continue
						}
						next := make([]int, 0, i+1)
						for _, d := range trace[:i] {
							next = append(next, d.chosen)
						}
						explore(append(next, alt))
					}
				}
			}
			explore(nil)
			t.Logf("%d orders of the two writers' requests, none left a wrong record; %d ended with the photo recorded, the rest with a marker (the next delivery writes once more)", runs, recorded)
		})
	}
}
