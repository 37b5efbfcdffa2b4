package imageproc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timedCorpus is the corpus files that decode, as the benchmarks time them.
func timedCorpus(b testing.TB) []namedFile {
	var files []namedFile
	for _, e := range readManifest(b) {
		if why, _ := expectation(e); !why.IsZero() {
			continue
		}
		files = append(files, namedFile{e.Name, readCorpus(b, e.Name)})
	}
	return files
}

type namedFile struct {
	name string
	src  []byte
}

// BenchmarkCorpus times the whole corpus through Normalise and through libvips' own thumbnail
// operation (the vipsthumbnail path) in the same process, interleaved per file so machine noise
// hits both alike, and reports the ratio.
func BenchmarkCorpus(b *testing.B) {
	files := timedCorpus(b)
	var ours, ref time.Duration
	for b.Loop() {
		for _, f := range files {
			t0 := time.Now()
			if _, err := Normalise(context.Background(), f.src, Options{}); err != nil {
				b.Fatalf("%s: %v", f.name, err)
			}
			t1 := time.Now()
			if _, err := thumbnailReference(f.src, Options{}); err != nil {
				b.Fatalf("%s reference: %v", f.name, err)
			}
			ours += t1.Sub(t0)
			ref += time.Since(t1)
		}
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ms/corpus")
	b.ReportMetric(float64(ref.Milliseconds())/float64(b.N), "ref-ms/corpus")
	b.ReportMetric(float64(ours)/float64(ref), "x-vs-thumbnail")
}

// BenchmarkFile times each file alone, with the thumbnail reference beside it.
func BenchmarkFile(b *testing.B) {
	for _, f := range timedCorpus(b) {
		b.Run(f.name, func(b *testing.B) {
			var ours, ref time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := Normalise(context.Background(), f.src, Options{}); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := thumbnailReference(f.src, Options{}); err != nil {
					b.Fatal(err)
				}
				ours += t1.Sub(t0)
				ref += time.Since(t1)
			}
			b.ReportMetric(float64(ours.Microseconds())/1000/float64(b.N), "ms/op-ours")
			b.ReportMetric(float64(ours)/float64(ref), "x-vs-thumbnail")
		})
	}
}

// BenchmarkOrientation compares EXIF-rotated photos with the upright one (bimg's Resize is
// 2.7× slower on them); the ratio should be about 1.
func BenchmarkOrientation(b *testing.B) {
	upright := readCorpus(b, "jpeg_exif_o1.jpg")
	var rotated [][]byte
	for _, n := range []string{"jpeg_exif_o3.jpg", "jpeg_exif_o6.jpg", "jpeg_exif_o8.jpg", "jpeg_exif_o5.jpg"} {
		rotated = append(rotated, readCorpus(b, n))
	}
	var up, rot time.Duration
	for b.Loop() {
		for _, r := range rotated {
			t0 := time.Now()
			if _, err := Normalise(context.Background(), upright, Options{}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := Normalise(context.Background(), r, Options{}); err != nil {
				b.Fatal(err)
			}
			up += t1.Sub(t0)
			rot += time.Since(t1)
		}
	}
	b.ReportMetric(float64(rot)/float64(up), "x-rotated-vs-upright")
}

// childPeakRSS runs one named test of this binary in a fresh process with env, and returns the
// peak RSS that process reported (see reportPeak). ru_maxrss would not do: Linux carries the
// parent's high-water mark across fork and exec.
func childPeakRSS(t testing.TB, test string, env ...string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", test, err, out)
	}
	_, rest, ok := strings.Cut(string(out), "child peak=")
	if !ok {
		t.Fatalf("child %s did not report its peak:\n%s", test, out)
	}
	n, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// reportPeak is the child's side of childPeakRSS.
func reportPeak(t testing.TB) {
	t.Logf("child peak=%d", procStatus(t, "VmHWM:"))
}

// TestLargeJPEGPeakMemory: a 100 MP baseline JPEG streams through shrink-on-load in well
// under 64 MB; the same picture as a progressive JPEG is refused from its header.
func TestLargeJPEGPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a 100 MP JPEG")
	}
	if path := os.Getenv("IMAGEPROC_CHILD_NORMALISE"); path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Normalise(context.Background(), src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%dx%d %d bytes", p.Width, p.Height, p.Bytes)
		reportPeak(t)
		return
	}
	dir := t.TempDir()
	baseline, err := synthLargeJPEG(12000, 8333, false)
	if err != nil {
		t.Fatal(err)
	}
	small, err := synthLargeJPEG(600, 600, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"large.jpg": baseline, "small.jpg": small} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := childPeakRSS(t, "TestLargeJPEGPeakMemory", "IMAGEPROC_CHILD_NORMALISE="+filepath.Join(dir, "small.jpg"))
	large := childPeakRSS(t, "TestLargeJPEGPeakMemory", "IMAGEPROC_CHILD_NORMALISE="+filepath.Join(dir, "large.jpg"))
	t.Logf("100 MP baseline JPEG (%d KB): peak RSS %d MB; 0.36 MP: %d MB", len(baseline)>>10, large>>20, base>>20)
	if large > 64<<20 {
		t.Errorf("peak RSS %d MB for a 100 MP baseline JPEG; want ≤ 64 MB", large>>20)
	}

	progressive, err := synthLargeJPEG(12000, 8333, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Normalise(context.Background(), progressive, Options{})
	var refused *Error
	if !errors.As(err, &refused) || refused.Code != ReasonTooManyPixels {
		t.Errorf("100 MP progressive JPEG: err = %v, want too_many_pixels", err)
	}
}

// procStatus reads one kB field of /proc/self/status, in bytes.
func procStatus(t testing.TB, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("%s not in /proc/self/status", field)
	return 0
}
