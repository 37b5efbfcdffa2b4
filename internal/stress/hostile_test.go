package stress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/devstack"
	"github.com/graphphoto/graphphoto/internal/hostile"
	"github.com/graphphoto/graphphoto/internal/imageproc"
)

// The bounds per hostile file.
const (
	maxPeakRSS = 256 << 20
	timeBudget = time.Second
)

var hostileCases = sync.OnceValues(hostile.Cases)

// ChildResult is what a child process reports about one file.
type ChildResult struct {
	Reason  string        `json:"reason,omitempty"` // imageproc reason; "" with a photo
	Error   string        `json:"error,omitempty"`  // an error that is not a typed rejection
	Width   int           `json:"width,omitempty"`
	Height  int           `json:"height,omitempty"`
	Elapsed time.Duration `json:"elapsed"`
	CPU     time.Duration `json:"cpu"`
	PeakRSS int64         `json:"peak_rss"` // VmHWM of the child
}

const childEnv = "STRESS_NORMALISE_CHILD"

// TestNormaliseChild is the child side of normaliseInChild: with STRESS_NORMALISE_CHILD set it
// normalises that file once, writes the photo beside it and prints its result; otherwise it
// checks that a child reports a 12 MP JPEG correctly.
func TestNormaliseChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		dir := t.TempDir()
		src := referenceJPEG(t)
		f := filepath.Join(dir, "ref.jpg")
		os.WriteFile(f, src, 0o644)
		r := normaliseInChild(t, f)
		if r.Reason != "" || r.Error != "" || r.Width != 648 || r.PeakRSS < 10<<20 || r.Elapsed <= 0 {
			t.Errorf("reference child: %+v", r)
		}
		return
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Start libvips first, so the time is the image's own.
	warm, _ := os.ReadFile(path + ".warm")
	if _, err := imageproc.Inspect(context.Background(), warm, imageproc.Options{}); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	p, err := imageproc.Normalise(context.Background(), src, imageproc.Options{})
	res := ChildResult{Elapsed: time.Since(t0)}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	res.CPU = time.Duration(syscall.TimevalToNsec(ru1.Utime)-syscall.TimevalToNsec(ru0.Utime)) +
		time.Duration(syscall.TimevalToNsec(ru1.Stime)-syscall.TimevalToNsec(ru0.Stime))
	var refused *imageproc.Error
	switch {
	case errors.As(err, &refused):
		res.Reason = refused.Reason().String()
	case err != nil:
		res.Error = err.Error()
	default:
		res.Width, res.Height = p.Width, p.Height
		if err := os.WriteFile(path+".out.jpg", p.JPEG, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res.PeakRSS = vmHWM(t)
	b, _ := json.Marshal(res)
	fmt.Printf("child-result %s\n", b)
}

// normaliseInChild runs TestNormaliseChild in a fresh process of this test binary. The peak
// is the child's VmHWM: ru_maxrss would not do, Linux carries it over from the parent.
func normaliseInChild(t testing.TB, path string) ChildResult {
	t.Helper()
	if _, err := os.Stat(path + ".warm"); err != nil {
		os.WriteFile(path+".warm", tinyPNG(), 0o644)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNormaliseChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.CombinedOutput()
	_, rest, ok := strings.Cut(string(out), "child-result ")
	if !ok {
		// A crash (signal, abort) ends here: the file killed the process.
		t.Fatalf("child for %s crashed or reported nothing (%v):\n%s", filepath.Base(path), err, out)
	}
	var r ChildResult
	if err := json.Unmarshal([]byte(strings.SplitN(rest, "\n", 2)[0]), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func vmHWM(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestHostileNormaliser: every hostile file, each in a fresh process: the outcome it must get,
// no crash, peak RSS ≤ 256 MB; the time is measured and reported beside a 12 MP JPEG's in the
// same run (never asserted: the machine is shared).
func TestHostileNormaliser(t *testing.T) {
	if testing.Short() {
		t.Skip("one process per hostile file")
	}
	cases, err := hostileCases()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ref := filepath.Join(dir, "reference-12mp.jpg")
	os.WriteFile(ref, referenceJPEG(t), 0o644)
	refRes := normaliseInChild(t, ref)
	var rows []string
	var maxRSS int64
	var maxTime time.Duration
	var slow []string
	for _, c := range cases {
		path := filepath.Join(dir, c.Name)
		if err := os.WriteFile(path, c.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := normaliseInChild(t, path)
		got := checkOutcome(t, c, r, path+".out.jpg")
		if r.PeakRSS > maxPeakRSS {
			t.Errorf("%s: peak RSS %d MB, over %d MB", c.Name, r.PeakRSS>>20, maxPeakRSS>>20)
		}
		maxRSS, maxTime = max(maxRSS, r.PeakRSS), max(maxTime, r.Elapsed)
		if r.Elapsed > timeBudget {
			slow = append(slow, fmt.Sprintf("%s %v (%.1f× the 12 MP JPEG)", c.Name, r.Elapsed.Round(time.Millisecond), float64(r.Elapsed)/float64(refRes.Elapsed)))
		}
		rows = append(rows, fmt.Sprintf("%-44s %-13s %-28s %6d MB %8v cpu %8v", c.Name, c.Class, got, r.PeakRSS>>20, r.Elapsed.Round(time.Millisecond), r.CPU.Round(time.Millisecond)))
	}
	t.Logf("reference 12 MP JPEG: %v, peak %d MB\n%s", refRes.Elapsed.Round(time.Millisecond), refRes.PeakRSS>>20, strings.Join(rows, "\n"))
	t.Logf("%d files: max peak RSS %d MB, max time %v", len(cases), maxRSS>>20, maxTime.Round(time.Millisecond))
	if len(slow) > 0 {
		// Reported, not failed: wall time on a shared 2-core machine is not a property of the code.
		t.Logf("over the %v budget on this machine:\n  %s", timeBudget, strings.Join(slow, "\n  "))
	}
}

// checkOutcome compares a child's result with the case's Want and returns it as text.
func checkOutcome(t *testing.T, c hostile.Case, r ChildResult, photoPath string) string {
	t.Helper()
	switch {
	case r.Error != "":
		t.Errorf("%s: untyped error %s; want %s", c.Name, r.Error, c.Want)
		return "error"
	case r.Reason != "":
		if r.Reason != c.Want.Reason {
			t.Errorf("%s: rejected %s; want %s", c.Name, r.Reason, c.Want)
		}
		return "rejected: " + r.Reason
	}
	got := fmt.Sprintf("photo %dx%d", r.Width, r.Height)
	if c.Want.Reason != "" || r.Width != c.Want.Side || r.Height != c.Want.Side {
		t.Errorf("%s: %s; want %s", c.Name, got, c.Want)
		return got
	}
	checkPhoto(t, c, photoPath)
	return got
}

// checkPhoto: the photo is a JPEG of the right size that carries none of a polyglot's payload.
func checkPhoto(t *testing.T, c hostile.Case, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", c.Name, err)
		return
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || format != "jpeg" || cfg.Width != c.Want.Side || cfg.Height != c.Want.Side {
		t.Errorf("%s: photo is %s %dx%d (%v)", c.Name, format, cfg.Width, cfg.Height, err)
	}
	for _, payload := range []string{"PK\x03\x04", "<script", "<html", "xmpmeta", "GPS"} {
		if bytes.Contains(b, []byte(payload)) {
			t.Errorf("%s: the photo carries %q from the upload", c.Name, payload)
		}
	}
}

// TestHostileStack sends every hostile file through both paths of one local stack.
func TestHostileStack(t *testing.T) {
	h := startStack(t, devstack.Options{Concurrency: 2, BatchSize: 5})
	t.Run("s3", func(t *testing.T) { hostileS3(t, h) })
	t.Run("api", func(t *testing.T) { hostileAPI(t, h) })
	h.checkNoLeaks(t)
}

// hostileS3: every hostile file uploaded to the local stack's bucket ends tagged with its
// outcome: rejected with the case's reason, or synced.
func hostileS3(t *testing.T, h *harness) {
	cases, err := hostileCases()
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{}
	want := map[string]hostile.Case{}
	for _, c := range cases {
		key := "hostile/" + c.Name
		objects[key], want[key] = c.Data, c
	}
	t0 := time.Now()
	if err := Upload(h.ctx, h.st, objects, func(string) string { return "users/alice@contoso.com" }, 8); err != nil {
		t.Fatal(err)
	}
	if err := Settle(h.ctx, h.st, len(objects)); err != nil {
		t.Fatal(err)
	}
	keys := sortedKeys(objects)
	l, err := Reconcile(h.ctx, h.st, keys)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, f := range l.Fates {
		c := want[f.Key]
		ok := (c.Want.Reason == "" && f.Status == "synced") || (f.Status == "rejected" && f.Reason == c.Want.Reason)
		if !ok {
			t.Errorf("%s: %s %s (dead-lettered %v); want %s", f.Key, f.Status, f.Reason, f.DeadLettered, c.Want)
		}
		rows = append(rows, fmt.Sprintf("%-52s %-9s %s", f.Key, f.Status, f.Reason))
	}
	t.Logf("S3 path: %d objects in %v; synced %d, rejected %d\n%s", len(keys), time.Since(t0).Round(time.Millisecond), l.Synced, l.Rejected, strings.Join(rows, "\n"))
}

// apiStatus is the API's answer for a case (docs/architecture.md §5): 415 for a format it does not
// take, 400 for an image it cannot use, and 400 for no body at all (a bad request, before any
// image).
func apiStatus(c hostile.Case) int {
	switch w := c.Want; {
	case len(c.Data) == 0:
		return http.StatusBadRequest
	case w.Reason == "":
		return http.StatusOK
	case w.Reason == hostile.UnsupportedFormat:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusBadRequest
}

// hostileAPI: every hostile file PUT through the API's front door gets the status the API
// maps its outcome to, and the photo's size for the good ones.
func hostileAPI(t *testing.T, h *harness) {
	cases, err := hostileCases()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := h.st.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	h.secrets = append(h.secrets, admin)
	var rows []string
	for _, c := range cases {
		req, _ := http.NewRequestWithContext(h.ctx, http.MethodPut, h.st.APIURL+"/v1.0/users/bob@contoso.com/photo/$value", bytes.NewReader(c.Data))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "image/jpeg")
		t0 := time.Now()
		resp, err := h.st.APIClient().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var answer struct {
			Width, Height int
			Error         struct{ Code string }
		}
		json.Unmarshal(body, &answer)
		if resp.StatusCode != apiStatus(c) {
			t.Errorf("%s: %d %s; want %d (%s)", c.Name, resp.StatusCode, body, apiStatus(c), c.Want)
		}
		if c.Want.Reason == "" && (answer.Width != c.Want.Side || answer.Height != c.Want.Side) {
			t.Errorf("%s: API says %dx%d; want %s", c.Name, answer.Width, answer.Height, c.Want)
		}
		rows = append(rows, fmt.Sprintf("%-44s %d %-22s %v", c.Name, resp.StatusCode, answer.Error.Code, time.Since(t0).Round(time.Millisecond)))
	}
	t.Logf("API path:\n%s", strings.Join(rows, "\n"))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// harness is a running stack for one test, with its log and the secrets to scan for.
type harness struct {
	st      *devstack.Stack
	ctx     context.Context
	log     *bytes.Buffer
	secrets []string
}

func startStack(t *testing.T, opts devstack.Options) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole local stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), stackTimeout())
	t.Cleanup(cancel)
	h := &harness{ctx: ctx, log: &bytes.Buffer{}}
	opts.Dir = t.TempDir()
	opts.Log = newLogger(h.log)
	if opts.MaxReceives == 0 {
		opts.MaxReceives = 3
	}
	if opts.Visibility == 0 {
		opts.Visibility = 500 * time.Millisecond
	}
	st, err := devstack.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.st = st
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stack log (last 4 KB): %s", tail(h.log.String(), 4096))
			t.Logf("onupload output (last 8 KB): %s", tail(st.OnUpload.Output(), 8192))
		}
		st.Close()
	})
	return h
}

// checkNoLeaks scans every log line of the stack for the client secret, the AWS secret key,
// tokens issued in the test and anything shaped like a bearer token.
func (h *harness) checkNoLeaks(t *testing.T) {
	t.Helper()
	s, err := StackSecrets(h.ctx, h.st, h.secrets...)
	if err != nil {
		t.Fatal(err)
	}
	lines := Lines(h.st, h.log)
	if leaks := s.Leaks(lines); len(leaks) > 0 {
		t.Errorf("%d log lines carry a secret or token: %v", len(leaks), leaks[:min(5, len(leaks))])
	}
	t.Logf("scanned %d log lines for %d secrets and token shapes: none", len(lines), len(s.Literals))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
