// Command benchreport measures the normaliser and the local stack and writes the Markdown
// report docs/benchmarks.md (make bench). Every figure comes from this one run on this one
// machine, and the tools it is compared with (vipsthumbnail, sharp) run in the same run, so
// the ratios mean something even when the absolute times do not travel.
//
//	benchreport [-out docs/benchmarks.md] [-corpus testdata/images] [-sharp DIR]
//	            [-passes 5] [-rss-images 1000] [-stack-objects 20] [-sections normaliser,init,stack]
//
// Sections that cannot run (no corpus, no node, no sharp, no root or no cached Lambda image
// for INIT inside the image) say so in the report rather than stopping the rest.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/devstack"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/rietest"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

// defaultCorpus is the repository's own test images, relative to the repository root (where
// make bench runs): a clone can run the report as it is; -corpus points it at a larger set.
const defaultCorpus = "testdata/images"

func main() {
	out := flag.String("out", "docs/benchmarks.md", "report to write")
	corpus := flag.String("corpus", defaultCorpus, "corpus folder with MANIFEST.tsv (its rows of set \"corpus\" are timed)")
	sharpDir := flag.String("sharp", "", "folder with reference.js and node_modules/sharp, as make bench installs it (sharp skipped when empty)")
	passes := flag.Int("passes", 5, "warm passes over the corpus")
	rssImages := flag.Int("rss-images", 1000, "images normalised for the RSS growth figure")
	stackObjects := flag.Int("stack-objects", 20, "objects sent through the local stack for the overhead figure")
	rssChild := flag.Int("rss-child", 0, "internal: run the RSS measurement over this many images and print it")
	sections := flag.String("sections", "normaliser,init,stack", "the sections to run, comma-separated: normaliser (with memory), init, stack")
	flag.Parse()
	run := func(s string) bool { return slices.Contains(strings.Split(*sections, ","), s) }
	ctx := context.Background()
	if *rssChild > 0 {
		rssChildMain(*corpus, *rssChild)
		return
	}
	r := &report{}
	r.machine()
	if run("normaliser") {
		files, err := corpusFiles(*corpus)
		if err != nil {
			r.skip("Normaliser on the corpus", err)
		} else {
			r.normaliser(ctx, files, *passes, *sharpDir)
			r.rss(*corpus, *rssImages)
		}
	}
	if run("init") {
		r.init(ctx)
		r.imageInit(ctx)
	}
	if run("stack") {
		r.stack(ctx, *stackObjects)
	}
	if err := os.WriteFile(*out, r.buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	fmt.Printf("benchreport: wrote %s\n", *out)
}

type report struct{ buf bytes.Buffer }

func (r *report) f(format string, args ...any) { fmt.Fprintf(&r.buf, format, args...) }

func (r *report) skip(section string, err error) {
	r.f("\n## %s\n\nNot measured in this run: %v\n", section, err)
	fmt.Fprintf(os.Stderr, "benchreport: %s skipped: %v\n", section, err)
}

func (r *report) machine() {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	vips := strings.TrimSpace(run("vips", "--version"))
	if vips == "" {
		vips = "libvips " + strings.TrimSpace(run("pkg-config", "--modversion", "vips"))
	}
	r.f("# Benchmarks\n\nWritten by `make bench` (cmd/benchreport); every figure below is from the run of %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"))
	r.f("| Machine | |\n|---|---|\n| CPUs (nproc) | %d |\n| Model | %s |\n| libvips | %s |\n| Load average at start | %s |\n| Go | %s |\n| MALLOC_ARENA_MAX | %s |\n",
		runtime.NumCPU(), model, vips, strings.Join(strings.Fields(string(load))[:3], " "), runtime.Version(), os.Getenv("MALLOC_ARENA_MAX"))
	r.f("\nThe machine is shared and noisy: compare the ratios (measured side by side in this run), not absolute times across runs.\n")
}

func run(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

type corpusFile struct {
	name string
	path string
	src  []byte
}

// corpusFiles are the corpus images the normaliser turns into photos (the refused ones are
// timed by the hostile proofs, not here).
func corpusFiles(dir string) ([]corpusFile, error) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		return nil, fmt.Errorf("no corpus at %s: %w", dir, err)
	}
	defer f.Close()
	var out []corpusFile
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 2 || cols[0] != "corpus" {
			continue
		}
		p := filepath.Join(dir, cols[1])
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if _, err := imageproc.Normalise(context.Background(), src, imageproc.Options{}); err != nil {
			continue
		}
		out = append(out, corpusFile{cols[1], p, src})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image in %s normalises", dir)
	}
	return out, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return strconv.FormatFloat(float64(a)/float64(b), 'f', 2, 64)
}

// normaliser times each corpus file: warm (median of passes, in this process) and cold (one
// process per image: our CLI, vipsthumbnail, sharp's CLI), and sharp warm in one node process.
func (r *report) normaliser(ctx context.Context, files []corpusFile, passes int, sharpDir string) {
	tmp, err := os.MkdirTemp("", "benchreport")
	if err != nil {
		r.skip("Normaliser on the corpus", err)
		return
	}
	defer os.RemoveAll(tmp)
	cli := filepath.Join(tmp, "graphphoto")
	if out, err := exec.Command("go", "build", "-o", cli, "./cmd/graphphoto").CombinedOutput(); err != nil {
		r.skip("Normaliser on the corpus", fmt.Errorf("build graphphoto: %v %s", err, out))
		return
	}
	// The sharp reference crops the centre, so ours is compared doing the same;
	// the product's default, the attention crop, is timed beside it.
	warm, warmAttention := map[string]time.Duration{}, map[string]time.Duration{}
	for _, f := range files {
		var dc, da []time.Duration
		for range passes {
			t0 := time.Now()
			imageproc.Normalise(ctx, f.src, imageproc.Options{Crop: imageproc.CropCentre})
			t1 := time.Now()
			imageproc.Normalise(ctx, f.src, imageproc.Options{})
			dc, da = append(dc, t1.Sub(t0)), append(da, time.Since(t1))
		}
		warm[f.name], warmAttention[f.name] = median(dc), median(da)
	}
	cold := func(name string, args func(f corpusFile) []string) map[string]time.Duration {
		res := map[string]time.Duration{}
		if _, err := exec.LookPath(name); err != nil && !filepath.IsAbs(name) {
			return res
		}
		for _, f := range files {
			var ds []time.Duration
			for range 3 {
				t0 := time.Now()
				if err := exec.Command(name, args(f)...).Run(); err != nil {
					ds = nil
					break
				}
				ds = append(ds, time.Since(t0))
			}
			if ds != nil {
				res[f.name] = median(ds)
			}
		}
		return res
	}
	outDir := filepath.Join(tmp, "out")
	os.MkdirAll(outDir, 0o755)
	ours := cold(cli, func(f corpusFile) []string { return []string{"normalise", "--crop", "centre", "--out", outDir, f.path} })
	thumb := cold("vipsthumbnail", func(f corpusFile) []string {
		return []string{f.path, "--size", "648x648", "--smartcrop", "centre", "--export-profile", "srgb",
			"-o", filepath.Join(outDir, "%s.vt.jpg[Q=85,strip]")}
	})
	sharpCold, sharpWarm := map[string]time.Duration{}, map[string]time.Duration{}
	sharpNote := "sharp: not measured (no -sharp folder with node_modules)"
	if sharpDir != "" {
		if _, err := os.Stat(filepath.Join(sharpDir, "node_modules", "sharp")); err == nil {
			script := filepath.Join(sharpDir, "reference.js")
			sharpCold = cold("node", func(f corpusFile) []string {
				return []string{script, "cold", f.path, filepath.Join(outDir, f.name+".sharp.jpg")}
			})
			sharpWarm, err = sharpWarmRun(script, files, passes, tmp)
			sharpNote = "sharp: `bench/sharp/reference.js` (cover 648×648, centre crop, Lanczos3, auto-orient, flatten on white, sRGB, Q85)"
			if err != nil {
				sharpNote = "sharp warm run failed: " + err.Error()
			}
		} else {
			sharpNote = "sharp: not installed in " + sharpDir
		}
	}
	r.f("\n## Normaliser on the corpus\n\n%d corpus images that become photos (648×648, centre crop, Q85, the operation of the sharp reference; the product's default attention crop in its own column). Warm: median of %d passes in one process, ours interleaved per file. Cold: one process per image, median of 3 (includes process start and libvips start-up). vipsthumbnail: `--size 648x648 --smartcrop centre --export-profile srgb`, `[Q=85,strip]`. %s. A dash: the tool could not read the file (sharp's prebuilt libvips has no HEVC decoder). Totals and their ratios count only the files both tools of the ratio read.\n\n",
		len(files), passes, sharpNote)
	r.f("| File | KB | ours warm ms | ours warm, attention ms | sharp warm ms | ours/sharp warm | ours cold ms | vipsthumbnail cold ms | ours/vipsthumbnail cold | sharp cold ms | ours/sharp cold |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	// pair sums a and b over the files where both were measured.
	pair := func(a, b map[string]time.Duration) (time.Duration, time.Duration) {
		var sa, sb time.Duration
		for _, f := range files {
			if a[f.name] > 0 && b[f.name] > 0 {
				sa, sb = sa+a[f.name], sb+b[f.name]
			}
		}
		return sa, sb
	}
	var tw, ta time.Duration
	for _, f := range files {
		n := f.name
		r.f("| %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, float64(len(f.src))/1024, ms(warm[n]), ms(warmAttention[n]), ms(sharpWarm[n]), ratio(warm[n], sharpWarm[n]),
			ms(ours[n]), ms(thumb[n]), ratio(ours[n], thumb[n]), ms(sharpCold[n]), ratio(ours[n], sharpCold[n]))
		tw, ta = tw+warm[n], ta+warmAttention[n]
	}
	ow, sw := pair(warm, sharpWarm)
	oc, tc := pair(ours, thumb)
	os2, sc := pair(ours, sharpCold)
	r.f("| **total (all files)** | | **%s** | **%s** | | | | | | | |\n", ms(tw), ms(ta))
	r.f("| **total (files both read)** | | **%s** | | **%s** | **%s** | **%s** | **%s** | **%s** | **%s** | **%s** |\n",
		ms(ow), ms(sw), ratio(ow, sw), ms(oc), ms(tc), ratio(oc, tc), ms(sc), ratio(os2, sc))
}

func sharpWarmRun(script string, files []corpusFile, passes int, tmp string) (map[string]time.Duration, error) {
	list := filepath.Join(tmp, "sharp-list.txt")
	var paths []string
	for _, f := range files {
		paths = append(paths, f.path)
	}
	os.WriteFile(list, []byte(strings.Join(paths, "\n")), 0o644)
	js := filepath.Join(tmp, "sharp.json")
	if out, err := exec.Command("node", script, "warm", fmt.Sprint(passes), list, js).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		return nil, err
	}
	var rep struct {
		Images []struct {
			File     string  `json:"file"`
			OK       bool    `json:"ok"`
			MedianMS float64 `json:"median_ms"`
		} `json:"images"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, err
	}
	res := map[string]time.Duration{}
	for _, im := range rep.Images {
		if im.OK {
			res[im.File] = time.Duration(im.MedianMS * float64(time.Millisecond))
		}
	}
	return res, nil
}

// rss runs the growth measurement in a fresh process, so its peak is its own.
func (r *report) rss(corpus string, n int) {
	self, err := os.Executable()
	if err != nil {
		r.skip("Memory over many images", err)
		return
	}
	out, err := exec.Command(self, "-corpus", corpus, "-rss-child", fmt.Sprint(n)).Output()
	if err != nil {
		r.skip("Memory over many images", fmt.Errorf("child: %v", err))
		return
	}
	var m rssFigures
	if err := json.Unmarshal(out, &m); err != nil {
		r.skip("Memory over many images", fmt.Errorf("child answer %q: %v", out, err))
		return
	}
	r.f("\n## Memory over many images\n\nOne fresh process reads the corpus, normalises each image once (the warm-up, which also picks the images that become photos), then %d more round-robin. RSS after the warm-up and at the end (after a GC returns the Go heap), the largest RSS sampled every 10 images, and the process's peak (VmHWM, which includes the corpus held in memory and the 12 MP HEIC and AVIF, which cannot shrink while decoding).\n\n", m.Images)
	r.f("| Images | RSS after warm-up MB | RSS at end MB | Growth MB | Max sampled RSS MB | Peak (VmHWM) MB |\n|---:|---:|---:|---:|---:|---:|\n| %d | %d | %d | %+d | %d | %d |\n",
		m.Images, m.Start>>20, m.End>>20, (m.End-m.Start)>>20, m.Max>>20, m.Peak>>20)
}

type rssFigures struct {
	Images                int
	Start, End, Max, Peak int64
}

func rssChildMain(corpus string, n int) {
	files, err := corpusFiles(corpus)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	settled := func() int64 {
		runtime.GC()
		debug.FreeOSMemory()
		return procStatus("VmRSS:")
	}
	m := rssFigures{Images: n, Start: settled()}
	for i := range n {
		imageproc.Normalise(context.Background(), files[i%len(files)].src, imageproc.Options{})
		if i%10 == 0 {
			m.Max = max(m.Max, procStatus("VmRSS:"))
		}
	}
	m.End, m.Peak = settled(), procStatus("VmHWM:")
	json.NewEncoder(os.Stdout).Encode(m)
}

func procStatus(field string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// init measures INIT under the real aws-lambda-rie: each function and the rietest echo Lambda
// as the floor, five fresh emulators each, median.
func (r *report) init(ctx context.Context) {
	if !rietest.Available() {
		r.skip("Function start-up (INIT) under the Lambda RIE", fmt.Errorf("aws-lambda-rie missing (make setup)"))
		return
	}
	tmp, _ := os.MkdirTemp("", "benchinit")
	defer os.RemoveAll(tmp)
	r.f("\n## Function start-up (INIT) under the Lambda RIE\n\n`INIT REPORT` of the real bootstrap under aws-lambda-rie, five fresh emulators each, median; the rietest echo Lambda (aws-lambda-go, no work) is the floor.\n\n| Function | INIT median ms | min | max | vs echo |\n|---|---:|---:|---:|---:|\n")
	var echo time.Duration
	for _, fn := range []struct{ name, pkg, event string }{
		{"echo (reference)", "./internal/rietest/testdata/echo", `{"ping":1}`},
		{"onupload", "./functions/onupload", `{"Records":[]}`},
		{"api", "./functions/api", `{"version":"2.0","rawPath":"/v1.0/me/photo","requestContext":{"http":{"method":"GET"}}}`},
	} {
		bin, err := rietest.Build(ctx, fn.pkg, filepath.Join(tmp, fn.name))
		if err != nil {
			r.f("| %s | not built: %v | | | |\n", fn.name, err)
			continue
		}
		ds := initDurations(ctx, bin, rietest.Options{MemoryMB: 2048, Env: map[string]string{"GRAPH_SECRET_ID": "x", "UPLOAD_BUCKET": "photos", "STATE_BUCKET": "photos-state", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}}, fn.event, 5)
		if len(ds) == 0 {
			r.f("| %s | no INIT REPORT | | | |\n", fn.name)
			continue
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		med := median(ds)
		if echo == 0 {
			echo = med
		}
		r.f("| %s | %s | %s | %s | %s |\n", fn.name, ms(med), ms(ds[0]), ms(ds[len(ds)-1]), ratio(med, echo))
	}
}

// stack measures the per-object overhead on the local stack: objects uploaded one at a time,
// each for a person of its own (so that every photo is new and written, not skipped as
// unchanged), the time from PutObject until the function's REPORT line, the function's own
// billed duration (REPORT), Normalise on the same bytes in this process, and the S3 requests
// the function made for the object, counted in the S3 server's access log: on the object's key
// (but the upload itself), and in the state bucket for the photo's record.
func (r *report) stack(ctx context.Context, n int) {
	const section = "Per-object overhead on the local stack"
	if !rietest.Available() {
		r.skip(section, fmt.Errorf("aws-lambda-rie missing"))
		return
	}
	dir, _ := os.MkdirTemp("", "benchstack")
	defer os.RemoveAll(dir)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var people []graphtest.User
	for i := range n + 1 {
		people = append(people, graphtest.User{ID: fmt.Sprintf("be0c0000-0000-4000-8000-%012d", i), UPN: fmt.Sprintf("bench%03d@contoso.com", i)})
	}
	st, err := devstack.Start(sctx, devstack.Options{Dir: dir, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), S3AccessLog: true, Users: people})
	if err != nil {
		r.skip(section, err)
		return
	}
	defer st.Close()
	samples, err := devstack.Samples()
	if err != nil {
		r.skip(section, err)
		return
	}
	src := samples[0].Data // the demo's 1200×1600 EXIF-6 portrait JPEG
	var e2e, fn, norm []time.Duration
	var requests, stateRequests []int
	stepMs := map[string][]time.Duration{} // the job's own {step}_ms, from its log line
	var beyond []time.Duration             // REPORT − the job's normalise_ms
	for i := range n + 1 {
		key := fmt.Sprintf("bench/%03d.jpg", i)
		before := len(st.OnUpload.Reports())
		t0 := time.Now()
		logged, err := st.S3.Requests()
		if err != nil {
			r.skip(section, err)
			return
		}
		_, err = st.S3.Client().PutObject(sctx, &s3.PutObjectInput{Bucket: aws.String(devstack.Bucket), Key: aws.String(key),
			Body: bytes.NewReader(src), Metadata: map[string]string{"graph-target": "users/" + people[i].UPN}})
		if err != nil {
			r.skip(section, err)
			return
		}
		// Wait for the next REPORT line without polling: the function has the CPU to itself.
		seen := 0
		_, err = st.OnUpload.WaitLine(sctx, func(l rietest.LogLine) bool {
			if _, ok := rietest.ParseReport(l.Text); ok {
				seen++
			}
			return seen > before
		})
		d := time.Since(t0)
		if err != nil {
			r.skip(section, fmt.Errorf("no REPORT for %s: %v", key, err))
			return
		}
		reps := st.OnUpload.Reports()
		count, state, err := functionRequests(sctx, st.S3, key, len(logged))
		if err != nil {
			r.skip(section, err)
			return
		}
		if status, _, err := st.ObjectOutcome(sctx, key); err != nil || status != "synced" {
			r.skip(section, fmt.Errorf("%s: outcome %q, %v; want synced", key, status, err))
			return
		}
		t1 := time.Now()
		imageproc.Normalise(ctx, src, imageproc.Options{})
		nd := time.Since(t1)
		if i == 0 {
			continue // the first carries INIT and the token fetch
		}
		e2e, norm, requests, stateRequests = append(e2e, d), append(norm, nd), append(requests, count), append(stateRequests, state)
		fn = append(fn, reps[len(reps)-1].Duration)
		steps := jobSteps(st.OnUpload.Lines(), key)
		for step, took := range steps {
			stepMs[step] = append(stepMs[step], took)
		}
		// The function's own normalise, from its log line: the in-process Normalise beside it
		// runs at another moment, and on a shared machine the two differ by more than the rest.
		beyond = append(beyond, reps[len(reps)-1].Duration-steps["normalise"])
	}
	spread := func(ns []int) string {
		sort.Ints(ns)
		if ns[0] == ns[len(ns)-1] {
			return strconv.Itoa(ns[0])
		}
		return fmt.Sprintf("%d (%d–%d)", ns[len(ns)/2], ns[0], ns[len(ns)-1])
	}
	r.f("\n## %s\n\n%d uploads of the demo portrait (1200×1600 JPEG, EXIF 6, no tags of its own), one at a time, each for a person of its own so that every photo is written, after one warm-up: upload → S3 notification → queue → onupload under the RIE → Graph emulator → tags. Medians. S3 requests per object are the function's requests on the object's key in the S3 server's access log; record requests are its requests to the state bucket for the photo's record (SKIP_UNCHANGED).\n\n", section, n)
	r.f("| Upload to REPORT ms | Function duration (REPORT) ms | Normalise alone ms | Function overhead ms (REPORT − Normalise) | Beyond its own normalise ms (REPORT − the job's normalise) | Stack overhead ms (upload to REPORT − REPORT) | S3 requests per object | Record requests per object |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n| %s | %s | %s | %s | %s | %s | %s | %s |\n",
		ms(median(e2e)), ms(median(fn)), ms(median(norm)), ms(median(fn)-median(norm)), ms(median(beyond)), ms(median(e2e)-median(fn)), spread(requests), spread(stateRequests))
	steps := []string{"source", "limits", "normalise", "unchanged", "graph", "remember", "recorder", "total"}
	r.f("\nThe photo job's steps, as its log line times them (medians): source is the S3 requests before the body, limits reading the body, unchanged and remember the photo's record, recorder the tag write.\n\n|")
	for _, s := range steps {
		r.f(" %s ms |", s)
	}
	r.f("\n|%s\n|", strings.Repeat("---:|", len(steps)))
	for _, s := range steps {
		r.f(" %s |", ms(median(stepMs[s])))
	}
	r.f("\n")
}

// jobSteps reads the {step}_ms fields of the function's log line for key.
func jobSteps(lines []rietest.LogLine, key string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l.Text), &m) != nil || m["key"] != key || m["status"] == nil {
			continue
		}
		for k, v := range m {
			if step, ok := strings.CutSuffix(k, "_ms"); ok {
				if f, ok := v.(float64); ok {
					out[step] = time.Duration(f * float64(time.Millisecond))
				}
			}
		}
	}
	return out
}

// functionRequests counts the S3 requests the function made for key, from position from of
// the access log: on the key (but its upload), and in the state bucket. The access log line of
// the last request may land a moment after the function's REPORT, so the log is read until the
// tag write is in it.
func functionRequests(ctx context.Context, srv *s3test.Server, key string, from int) (object, state int, err error) {
	for {
		reqs, err := srv.Requests()
		if err != nil {
			return 0, 0, err
		}
		object, state = 0, 0
		tagged := false
		for _, q := range reqs[min(from, len(reqs)):] {
			switch {
			case q.Bucket == devstack.StateBucket:
				state++
			case q.Bucket == devstack.Bucket && q.Key == key && q.Operation != "s3_PutObject":
				object++
				tagged = tagged || q.Operation == "s3_PutObjectTagging"
			}
		}
		if tagged {
			return object, state, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("no tag write for %s in the S3 access log: %w", key, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// initDurations starts bin under a fresh emulator n times, invokes it once with event and reads
// the INIT duration of its REPORT line; starts that fail or report no INIT are left out.
func initDurations(ctx context.Context, bin string, opts rietest.Options, event string, n int) []time.Duration {
	var ds []time.Duration
	for range n {
		e, err := rietest.Start(ctx, bin, opts)
		if err != nil {
			break
		}
		e.Invoke(ctx, []byte(event))
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := e.InitDuration(ictx)
		cancel()
		e.Close()
		if err == nil {
			ds = append(ds, d)
		}
	}
	return ds
}
