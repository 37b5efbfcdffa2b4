package stress

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/devstack"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
)

// people makes n directory users for a run: ids and UPNs unique per prefix digit.
func people(n, series int) []graphtest.User {
	out := make([]graphtest.User, n)
	for i := range out {
		out[i] = graphtest.User{ID: fmt.Sprintf("5ca1e000-0000-4000-8%03d-%012d", series, i), UPN: fmt.Sprintf("p%d-%05d@contoso.com", series, i)}
	}
	return out
}

// smallPhoto is a distinct 160×160 JPEG for object i.
func smallPhoto(i int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 160, 160))
	c := color.RGBA{uint8(i * 37), uint8(i * 11), uint8(i >> 3), 255}
	for y := 0; y < 160; y++ {
		for x := 0; x < 160; x++ {
			if (x/20+y/20)%2 == 0 {
				img.SetRGBA(x, y, c)
			} else {
				img.SetRGBA(x, y, color.RGBA{200, 180, uint8(x), 255})
			}
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
	return b.Bytes()
}

// Fault shares of Graph photo writes. The emulator tries its random faults in order and the
// first that fires answers, so each later rate is conditional on the earlier ones not firing:
// 0.20, then 0.05/0.80, then 0.02/0.75 give 20 %, 5 % and 2 % of all writes.
const (
	share429   = 0.20
	share503   = 0.05
	shareReset = 0.02
)

// TestFaults: uploads through the local stack (5 instances, batches of 5, as the template)
// while Graph answers 20 % of photo writes 429 with Retry-After 1 s, 5 % 503 and resets 2 %
// of connections, and Secrets Manager fails its first read. Every object must end synced, or
// failed in the dead-letter folder with a reason; Graph writes stay within 1.3× of the ideal;
// no log line carries a secret or a token. STRESS_FAULT_UPLOADS sets the count (make soak:
// 1000).
func TestFaults(t *testing.T) {
	n := envInt("STRESS_FAULT_UPLOADS", 60)
	users := people(n, 1)
	h := startStack(t, devstack.Options{Concurrency: 5, BatchSize: 5, MaxReceives: 3, Visibility: time.Second, Users: users})
	st := h.st
	st.Graph.AddRandomFault(graphtest.RandomFault{Kind: "graph", Method: http.MethodPut, Rate: share429, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	st.Graph.AddRandomFault(graphtest.RandomFault{Kind: "graph", Method: http.MethodPut, Rate: share503 / (1 - share429), Status: http.StatusServiceUnavailable})
	st.Graph.AddRandomFault(graphtest.RandomFault{Kind: "graph", Method: http.MethodPut, Rate: shareReset / (1 - share429 - share503), Reset: true})
	st.Secrets.FailNext(1, secretstest.InternalServiceError())

	objects := map[string][]byte{}
	target := map[string]string{}
	for i, u := range users {
		key := fmt.Sprintf("faults/%05d.jpg", i)
		objects[key], target[key] = smallPhoto(i), "users/"+u.ID
	}
	t0 := time.Now()
	if err := Upload(h.ctx, st, objects, func(k string) string { return target[k] }, 8); err != nil {
		t.Fatal(err)
	}
	if err := Settle(h.ctx, st, n); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(t0)
	keys := sortedKeys(objects)
	l, err := Reconcile(h.ctx, st, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Lost) > 0 || len(l.Unexplained) > 0 || l.Rejected > 0 {
		t.Errorf("lost %d %v; unexplained %d %v; rejected %d", len(l.Lost), first(l.Lost), len(l.Unexplained), first(l.Unexplained), l.Rejected)
	}
	for _, f := range l.Fates {
		if f.Status != "synced" {
			continue
		}
		if _, ok := st.Graph.Photo(devstack.TenantID, target[f.Key]); !ok {
			t.Errorf("%s tagged synced but Graph has no photo for %s", f.Key, target[f.Key])
		}
	}

	// Graph writes: every attempt, every success, and what each fault kind answered.
	var puts, ok, throttled, unavailable, resets int
	for _, e := range st.Graph.Requests() {
		if e.Kind != "graph" || e.Method != http.MethodPut {
			continue
		}
		puts++
		switch {
		case e.Status == http.StatusOK:
			ok++
		case e.Status == http.StatusTooManyRequests:
			throttled++
		case e.Status == http.StatusServiceUnavailable:
			unavailable++
		case e.Status == 0 && strings.Contains(e.Fault, "reset"):
			resets++
		}
	}
	// With a share p of writes failing at random, a perfect client needs 1/(1-p) attempts per
	// photo: that is the ideal. Duplicate successes (a synced photo sent again) are waste too.
	p := share429 + share503 + shareReset
	ideal := float64(l.Synced) / (1 - p)
	ratio := float64(puts) / ideal
	secretReads := 0
	for _, r := range st.Secrets.Requests() {
		if strings.Contains(r.Target, "GetSecretValue") {
			secretReads++
		}
	}
	t.Logf("faults: %d uploads in %v; synced %d, failed in the DLQ %d, lost %d; Graph PUTs %d (200: %d, 429: %d, 503: %d, resets: %d) = %.2f per synced photo; ideal %.0f, ratio %.2f; Secrets Manager reads %d",
		n, elapsed.Round(time.Millisecond), l.Synced, l.FailedDLQ, len(l.Lost), puts, ok, throttled, unavailable, resets,
		float64(puts)/float64(max(1, l.Synced)), ideal, ratio, secretReads)
	if ratio > 1.3 {
		t.Errorf("Graph PUTs %.2f× the ideal; want ≤ 1.3", ratio)
	}
	if ok > l.Synced+l.FailedDLQ {
		t.Errorf("%d successful PUTs for %d synced photos: some photo was sent again", ok, l.Synced)
	}
	if throttled == 0 || unavailable+resets == 0 {
		t.Errorf("the faults did not fire: 429 %d, 503 %d, resets %d", throttled, unavailable, resets)
	}
	h.checkNoLeaks(t)
}

func first(s []string) []string { return s[:min(len(s), 5)] }
