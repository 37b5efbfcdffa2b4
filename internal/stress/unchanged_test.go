package stress

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/devstack"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
)

// TestUnchanged is the nightly full export: every person's photo is exported into the bucket as
// a new object each night. Night 1 syncs n photos; night 2 exports the same n again and must
// cost no Graph write and at most n Graph reads; on night 3, 5 % of the photos changed at the
// source and another 2 % were changed in Graph from outside (as in Outlook), and exactly those
// are written. Every object ends tagged synced (reason unchanged for the skipped ones), none is
// lost. Graph's requests are counted at the Graph emulator, the state bucket's at the S3
// server; the time the record costs a photo is read from the function's log lines.
// STRESS_UNCHANGED_PHOTOS sets n (make unchanged: 1000).
func TestUnchanged(t *testing.T) {
	n := envInt("STRESS_UNCHANGED_PHOTOS", 100)
	atSource, outside := n/20, n/50
	users := people(n, 3)
	h := startStack(t, devstack.Options{Concurrency: 5, BatchSize: 5, MaxReceives: 3, Visibility: time.Second, Users: users, S3AccessLog: true})
	st := h.st
	target := func(i int) string { return "users/" + users[i].ID }

	sent := 0
	var nights []nightFigures
	night := func(name string, photo func(i int) []byte) (nightFigures, map[string]string) {
		t.Helper()
		before := countRequests(t, st)
		objects, keyOf := map[string][]byte{}, map[string]int{}
		for i := range n {
			key := fmt.Sprintf("%s/%05d.jpg", name, i)
			objects[key], keyOf[key] = photo(i), i
		}
		t0 := time.Now()
		if err := Upload(h.ctx, st, objects, func(k string) string { return target(keyOf[k]) }, 8); err != nil {
			t.Fatal(err)
		}
		sent += n
		if err := Settle(h.ctx, st, sent); err != nil {
			t.Fatal(err)
		}
		wall := time.Since(t0)
		keys := sortedKeys(objects)
		l, err := Reconcile(h.ctx, st, keys)
		if err != nil {
			t.Fatal(err)
		}
		if l.Synced != n || len(l.Lost) > 0 || len(l.Unexplained) > 0 {
			t.Fatalf("%s: synced %d of %d; lost %v; unexplained %v", name, l.Synced, n, first(l.Lost), first(l.Unexplained))
		}
		reasons := map[string]string{}
		for _, f := range l.Fates {
			reasons[f.Key] = f.Reason
		}
		after := countRequests(t, st)
		f := nightFigures{name: name, photos: n, wall: wall, graphWrites: after.graphWrites - before.graphWrites,
			graphReads: after.graphReads - before.graphReads, stateRequests: after.state - before.state}
		f.recordMs, f.totalMs = photoTimes(st, name+"/")
		nights = append(nights, f)
		return f, reasons
	}
	graphHolds := func(i int) string {
		p, ok := st.Graph.Photo(devstack.TenantID, target(i))
		if !ok {
			t.Fatalf("no photo in Graph for %s", target(i))
		}
		return fmt.Sprintf("%x", sha256.Sum256(p.Data))
	}

	// Night 1: every photo is new.
	f1, reasons := night("night1", smallPhoto)
	if f1.graphWrites != n {
		t.Errorf("night 1: %d Graph writes for %d new photos", f1.graphWrites, n)
	}
	for k, r := range reasons {
		if r != "" {
			t.Errorf("night 1: %s synced with reason %q", k, r)
		}
	}
	written := make([]string, n)
	for i := range n {
		written[i] = graphHolds(i)
	}

	// Night 2: the same photos as new objects: nothing to write.
	f2, reasons := night("night2", smallPhoto)
	if f2.graphWrites != 0 || f2.graphReads > n {
		t.Errorf("night 2: %d Graph writes and %d reads for %d unchanged photos; want 0 and at most %d", f2.graphWrites, f2.graphReads, n, n)
	}
	for k, r := range reasons {
		if r != "unchanged" {
			t.Errorf("night 2: %s synced with reason %q, want unchanged", k, r)
		}
	}

	// Night 3: atSource photos changed at the source; the next outside ones changed in Graph
	// since night 2.
	for i := atSource; i < atSource+outside; i++ {
		if _, err := st.Graph.SetPhoto(devstack.TenantID, target(i), graphtest.JPEG(96+i%50, 96)); err != nil {
			t.Fatal(err)
		}
	}
	f3, reasons := night("night3", func(i int) []byte {
		if i < atSource {
			return newPortrait(i)
		}
		return smallPhoto(i)
	})
	if f3.graphWrites != atSource+outside {
		t.Errorf("night 3: %d Graph writes; want exactly %d (%d changed at the source, %d in Graph)", f3.graphWrites, atSource+outside, atSource, outside)
	}
	for i := range n {
		key := fmt.Sprintf("night3/%05d.jpg", i)
		want := "unchanged"
		if i < atSource+outside {
			want = ""
		}
		if reasons[key] != want {
			t.Errorf("night 3: %s synced with reason %q, want %q", key, reasons[key], want)
		}
		switch holds := graphHolds(i); {
		case i < atSource && holds == written[i]:
			t.Errorf("night 3: %s still holds night 1's photo after a new one was exported", target(i))
		case i >= atSource && holds != written[i]:
			t.Errorf("night 3: %s does not hold the exported photo (an outside change left in place?)", target(i))
		}
	}
	// Night 4: the photos written on night 3 are now recorded: nothing to write again.
	f4, _ := night("night4", func(i int) []byte {
		if i < atSource {
			return newPortrait(i)
		}
		return smallPhoto(i)
	})
	if f4.graphWrites != 0 {
		t.Errorf("night 4: %d Graph writes; want 0", f4.graphWrites)
	}

	t.Logf("%-7s %7s %8s %12s %12s %14s %22s %20s %9s", "night", "photos", "writes", "writes/photo", "reads/photo", "state S3/photo", "record ms (p50/p95)", "photo ms (p50/p95)", "wall")
	for _, f := range nights {
		t.Logf("%-7s %7d %8d %12.2f %12.2f %14.2f %22s %20s %9v", f.name, f.photos, f.graphWrites,
			float64(f.graphWrites)/float64(f.photos), float64(f.graphReads)/float64(f.photos), float64(f.stateRequests)/float64(f.photos),
			quantiles(f.recordMs), quantiles(f.totalMs), f.wall.Round(time.Millisecond))
	}
	h.checkNoLeaks(t)
}

type nightFigures struct {
	name                                   string
	photos                                 int
	wall                                   time.Duration
	graphWrites, graphReads, stateRequests int
	recordMs, totalMs                      []float64
}

type requestCounts struct{ graphWrites, graphReads, state int }

// countRequests counts Graph photo writes and metadata reads at the emulator and the state
// bucket's requests at the S3 server.
func countRequests(t *testing.T, st *devstack.Stack) requestCounts {
	t.Helper()
	var c requestCounts
	for _, r := range st.Graph.Requests() {
		switch {
		case r.Kind != "graph":
		case r.Method == http.MethodPut || r.Method == http.MethodPatch:
			c.graphWrites++
		case r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/photo"):
			c.graphReads++
		}
	}
	reqs, err := st.S3.Requests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Bucket == devstack.StateBucket {
			c.state++
		}
	}
	return c
}

// photoTimes reads, from onupload's log lines of the objects under prefix, the time each photo
// spent on its record and in all.
func photoTimes(st *devstack.Stack, prefix string) (record, total []float64) {
	for _, fn := range st.Instances {
		for _, l := range fn.Lines() {
			var m map[string]any
			if json.Unmarshal([]byte(l.Text), &m) != nil {
				continue
			}
			key, _ := m["key"].(string)
			if !strings.HasPrefix(key, prefix) || m["status"] != "synced" {
				continue
			}
			if v, ok := m["record_ms"].(float64); ok {
				record = append(record, v)
			}
			if v, ok := m["total_ms"].(float64); ok {
				total = append(total, v)
			}
		}
	}
	return record, total
}

func quantiles(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("%.0f/%.0f", q(0.5), q(0.95))
}

// newPortrait is person i's new photo: unlike any smallPhoto.
func newPortrait(i int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 160, 160))
	for y := range 160 {
		for x := range 160 {
			img.SetRGBA(x, y, color.RGBA{uint8(i * 37), uint8(x + y), 60, 255})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
	return b.Bytes()
}
