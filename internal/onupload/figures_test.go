package onupload

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/imageproc"
)

// TestOverheadBeyondNormalising measures, in one run, the handler's time per object (S3 event in,
// HeadObject, GetObjectTagging, GetObject, pipeline, Graph PUT, PutObjectTagging, log and metrics
// lines; versitygw and the Graph emulator on loopback) and imageproc.Normalise alone on the same
// bytes, and logs the difference: the S3 path's overhead (goal ≤ 15 ms). It asserts nothing about
// time; the figure is for the closing note.
func TestOverheadBeyondNormalising(t *testing.T) {
	st := newStack(t, stackOptions{})
	src := corpus(t, "portrait_o0.jpg")
	const n = 15
	// Warm-up: the first object also acquires the Graph token and reads the secret, once per
	// container; the figure is the steady state.
	warm := "photos/users/mallory@contoso.com/warm.jpg"
	st.put(warm, src, "", "")
	if _, err := st.invoke(st.s3Event(warm)); err != nil {
		t.Fatal(err)
	}
	var handler, normalise, paired []time.Duration
	for i := range n {
		key := fmt.Sprintf("photos/users/%s@contoso.com/run-%d.jpg", users[i%len(users)], i)
		st.put(key, src, "", "")
		payload := st.s3Event(key)
		start := time.Now()
		if _, err := st.invoke(payload); err != nil {
			t.Fatal(err)
		}
		wall := time.Since(start)
		handler = append(handler, wall)
		// Paired: this call's wall time minus the Normalise time inside it (its EMF line), which
		// the machine's other load affects far less than two separate medians.
		emf := st.metrics.lines(t)
		inCall := time.Duration(emf[len(emf)-1]["NormaliseMs"].(float64) * float64(time.Millisecond))
		paired = append(paired, wall-inCall)

		start = time.Now()
		if _, err := imageproc.Normalise(context.Background(), src, imageproc.Options{}); err != nil {
			t.Fatal(err)
		}
		normalise = append(normalise, time.Since(start))
	}
	if got := st.graphPuts(); got != n+1 {
		t.Fatalf("%d photo writes, want %d: the measurement did not do the work", got, n+1)
	}
	h, nm := median(handler), median(normalise)
	us := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	t.Logf("per object, median of %d (%d-byte JPEG, portrait_o0.jpg): handler %v, Normalise alone %v, difference %v; "+
		"paired (handler minus its own Normalise) %v, min %v (goal <= 15ms)",
		n, len(src), us(h), us(nm), us(h-nm), us(median(paired)), us(slices.Min(paired)))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
