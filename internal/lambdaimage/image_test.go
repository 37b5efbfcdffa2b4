//go:build imagetest

// The tests of the real image: they need root (chroot, mounts), debootstrap and Debian's
// archive, so they are compiled only with -tags imagetest, by make image-test (TestImage) and
// make image (TestArchive), never by make test.
package lambdaimage_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/api"
	"github.com/graphphoto/graphphoto/internal/devstack"
	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/lambdaimage"
	"github.com/graphphoto/graphphoto/internal/onupload"
	"github.com/graphphoto/graphphoto/internal/rietest"
	"github.com/graphphoto/graphphoto/internal/tool"
)

// Paths inside the mounted image of what the test adds under /tmp.
const (
	emulator = "/tmp/rie/aws-lambda-rie"
	echoBoot = "/tmp/echo/bootstrap"
	cliPath  = "/tmp/graphphoto"
)

// sampleBucket is the bucket the events/ S3 samples name.
const sampleBucket = "hr-photo-uploads"

// Users of the events/ samples that the local stack's directory does not have.
var sampleUsers = []graphtest.User{
	{ID: "da4e0000-0000-4000-8000-000000000004", UPN: "dave@contoso.com"},
	{ID: "e4140000-0000-4000-8000-000000000005", UPN: "erin@contoso.com"},
	{ID: "f4a40000-0000-4000-8000-000000000006", UPN: "frank@contoso.com"},
	{ID: "94ace000-0000-4000-8000-000000000007", UPN: "grace@contoso.com"},
	{ID: "ca401000-0000-4000-8000-000000000003", UPN: "carol.sample@contoso.com"}, // apigw-v2-put-me.json's caller
	{ID: "d04a0000-0000-4000-8000-000000000004", UPN: "dora@contoso.com"},         // apigw-v2-put-heic.json's caller
}

// interruptible ends the context on Ctrl-C or SIGTERM, so that the cleanups (unmounts) run
// rather than the process dying with the chroot mounted.
func interruptible(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	t.Cleanup(func() { stop(); cancel() })
	return ctx
}

func cacheDir(t *testing.T) string {
	if d := os.Getenv("GRAPHPHOTO_CACHE"); d != "" {
		return d
	}
	d, err := lambdaimage.DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mirrors are this machine's apt archives, or DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR.
func mirrors(t *testing.T) lambdaimage.Mirrors {
	m, err := lambdaimage.AptMirrors("/etc/apt", lambdaimage.Suite)
	if err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv("DEBIAN_MIRROR"); v != "" {
		m.Main = v
	}
	if v := os.Getenv("DEBIAN_SECURITY_MIRROR"); v != "" {
		m.Security = v
	}
	return m
}

func ensureRoot(t *testing.T, ctx context.Context, repo string) *lambdaimage.Root {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the image tests need root: debootstrap, chroot and mounts")
	}
	var log bytes.Buffer
	root, err := lambdaimage.EnsureRoot(ctx, lambdaimage.RootOptions{Repo: repo, CacheDir: cacheDir(t), Mirrors: mirrors(t), Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(log.String(), 40))
	}
	how := "from the cache"
	if root.Built {
		how = "built (debootstrap and install.sh)"
	}
	t.Logf("root filesystem %s: %s in %v", root.Dir, how, root.Took.Round(time.Second))
	return root
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// TestImage assembles the image's root filesystem from image/packages.txt, installs the
// bootstraps where the Dockerfile puts them, and runs them inside it (chroot, root read-only,
// /tmp writable, no HOME) under the Lambda RIE against the local stack: every events/ sample,
// the API path with a real upload, then INIT, the size, and the 12 MP JPEG beside this machine.
func TestImage(t *testing.T) {
	ctx := interruptible(t, 45*time.Minute)
	repo := tool.MustModuleRoot(t)
	root := ensureRoot(t, ctx, repo)

	t.Run("contents", func(t *testing.T) { checkContents(t, root) })

	work := t.TempDir()
	boots, err := lambdaimage.BuildBootstraps(ctx, repo, filepath.Join(work, "task"))
	if err != nil {
		t.Fatal(err)
	}
	echo, err := rietest.Build(ctx, filepath.Join(repo, "internal/rietest/testdata/echo"), filepath.Join(work, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(work, "graphphoto")
	if out, err := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", cli, filepath.Join(repo, "cmd/graphphoto")).CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	rie, err := rietest.Binary()
	if err != nil {
		t.Fatal(err)
	}

	c, err := lambdaimage.OpenChroot(cacheDir(t), root.Dir, filepath.Join(work, "task"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("unmount the image: %v", err)
		}
	})
	for src, dst := range map[string]string{rie: emulator, echo: echoBoot, cli: cliPath} {
		if err := c.Put(src, dst, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("like Lambda", func(t *testing.T) { checkSandbox(t, ctx, c) })

	st, err := devstack.Start(ctx, devstack.Options{
		Dir:        t.TempDir(),
		Users:      sampleUsers,
		Env:        map[string]string{"TARGET_KEY_PREFIX": "photos/"},
		Versioning: true,
		Image: &devstack.Image{
			Root: c.Dir, OnUpload: lambdaimage.TaskRoot + "/onupload", API: lambdaimage.TaskRoot + "/api",
			Emulator: emulator, Tmp: "/tmp",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("onupload's output:\n%s\napi's output:\n%s", st.OnUpload.Output(), st.API.Output())
		}
		st.Close()
	})
	t.Run("S3 samples", func(t *testing.T) { s3Samples(t, ctx, repo, st) })
	t.Run("API samples", func(t *testing.T) { apiSamples(t, ctx, repo, st) })
	t.Run("API upload", func(t *testing.T) { apiUpload(t, ctx, st) })
	if t.Failed() {
		return
	}
	for _, e := range []*rietest.Emulator{st.OnUpload, st.API} {
		if out := e.Output(); strings.Contains(out, "BEGIN CERTIFICATE") || strings.Contains(out, "eyJ") {
			t.Error("a certificate or a bearer token reached the functions' output")
		}
	}

	// Figures: INIT beside the echo function, in the image and on this machine.
	hostHome, err := tool.VipsHome(t.TempDir(), "heif")
	if err != nil {
		t.Fatal(err)
	}
	initTable(t, ctx, c, boots, echo, hostHome)
	loaderFigures(t, ctx, c)
	sizeFigures(t, root, boots)
	warmFigures(t, ctx, c, cli, hostHome)
}

// checkContents: the libvips every test runs, the package list installed and nothing that is
// build material, libvips' HEIF module alone, and the CA roots Graph and Entra ID chain to.
func checkContents(t *testing.T, root *lambdaimage.Root) {
	pkgs, err := lambdaimage.RootPackages(root.Dir)
	if err != nil {
		t.Fatal(err)
	}
	host, err := lambdaimage.HostPackageVersion("libvips42")
	if err != nil {
		t.Fatal(err)
	}
	if pkgs["libvips42"] != host {
		t.Errorf("the image has libvips42 %s, the tests on this machine run %s: upgrade this machine (apt-get upgrade) or the image so that shipped is tested", pkgs["libvips42"], host)
	}
	for _, p := range root.Packages {
		if pkgs[p] == "" {
			t.Errorf("%s (in %s) is not installed", p, lambdaimage.PackagesFile)
		}
	}
	for p := range pkgs {
		if why := lambdaimage.Forbidden(p); why != "" {
			t.Errorf("%s is installed: %s", p, why)
		}
	}
	mods, err := lambdaimage.VipsModules(root.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 || filepath.Base(mods[0]) != "vips-heif.so" {
		t.Errorf("libvips modules %v, want vips-heif.so alone", mods)
	}
	if headers, _ := filepath.Glob(filepath.Join(root.Dir, "usr/include/*")); len(headers) > 0 {
		t.Errorf("header files in the image: %v", headers)
	}
	// Graph's and login.microsoftonline.com's certificates chain to DigiCert Global Root G2.
	b, err := os.ReadFile(filepath.Join(root.Dir, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil {
		t.Fatal(err)
	}
	var roots []string
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			roots = append(roots, cert.Subject.CommonName)
		}
	}
	if !slices.Contains(roots, "DigiCert Global Root G2") {
		t.Errorf("the CA bundle (%d roots) lacks DigiCert Global Root G2, which Graph's certificates chain to", len(roots))
	}
	t.Logf("libvips42 %s (this machine: %s), %d packages, modules %v, %d CA roots", pkgs["libvips42"], host, len(pkgs), mods, len(roots))
}

// checkSandbox: the chroot is what Lambda gives a function: a read-only root, a writable /tmp.
func checkSandbox(t *testing.T, ctx context.Context, c *lambdaimage.Chroot) {
	for _, tc := range []struct {
		script string
		ok     bool
	}{
		{"touch /tmp/written", true},
		{"touch /var/task/written", false},
		{"touch /etc/written", false},
		{"test -x /var/task/onupload && test -x /var/task/api", true},
		{"test -e /usr/bin/gcc || test -e /usr/bin/cc || test -e /usr/local/go", false},
	} {
		err := c.Command(ctx, nil, "/bin/sh", "-c", tc.script).Run()
		if (err == nil) != tc.ok {
			t.Errorf("%q inside the image: error %v, want success %v", tc.script, err, tc.ok)
		}
	}
}

// s3Samples feeds every S3 path sample of events/ to onupload, each naming objects created here.
func s3Samples(t *testing.T, ctx context.Context, repo string, st *devstack.Stack) {
	// The objects' own notifications wait, so that each sample's invocation does the work
	// rather than finding it done; the queue delivers them afterwards (and onupload skips them).
	st.Queue.Pause(true)
	defer st.Queue.Pause(false)
	if err := st.S3.CreateBucket(ctx, sampleBucket); err != nil {
		t.Fatal(err)
	}
	if err := st.S3.EnableVersioning(ctx, sampleBucket); err != nil {
		t.Fatal(err)
	}
	samples, err := devstack.Samples()
	if err != nil {
		t.Fatal(err)
	}
	var photos [][]byte
	for _, s := range samples {
		if s.Expect == "synced" {
			photos = append(photos, s.Data)
		}
	}
	if len(photos) == 0 {
		t.Fatal("the local stack has no sample that syncs")
	}
	files, err := filepath.Glob(filepath.Join(repo, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		payload, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		if name == "env.json" || strings.HasPrefix(name, "apigw-") {
			continue
		}
		n++
		ev, err := onupload.Decode(payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		type object struct{ key, target string }
		var objects []object
		for _, item := range ev.Items {
			for _, o := range item.Objects {
				if o.Bucket != sampleBucket {
					t.Fatalf("%s names bucket %s, want %s", name, o.Bucket, sampleBucket)
				}
				in := &s3.PutObjectInput{Bucket: aws.String(sampleBucket), Key: aws.String(o.Key), Body: bytes.NewReader(photos[len(objects)%len(photos)])}
				target := keyTarget(o.Key)
				if target == "" {
					target = "users/alice@contoso.com"
					in.Metadata = map[string]string{"graph-target": target}
				}
				out, err := st.S3.Client().PutObject(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				if o.VersionID != "" {
					payload = bytes.ReplaceAll(payload, []byte(o.VersionID), []byte(aws.ToString(out.VersionId)))
				}
				if o.ETag != "" {
					// The function skips an event whose object the key no longer holds: the
					// sample names the ETag of what was just put, as S3 would.
					payload = bytes.ReplaceAll(payload, []byte(o.ETag), []byte(strings.Trim(aws.ToString(out.ETag), `"`)))
				}
				objects = append(objects, object{o.Key, target})
			}
		}
		res, err := st.OnUpload.InvokeResult(ctx, payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.FunctionError != nil {
			t.Fatalf("%s: function error %v", name, res.FunctionError)
		}
		if ev.Trigger == onupload.TriggerBatch && !bytes.Contains(res.Payload, []byte(`"resultCode":"`+onupload.BatchSucceeded+`"`)) {
			t.Errorf("%s: answer %s, want every task succeeded", name, res.Payload)
		}
		if ev.Trigger == onupload.TriggerSQS && string(res.Payload) != `{"batchItemFailures":[]}` {
			t.Errorf("%s: answer %s, want no batch item failures", name, res.Payload)
		}
		synced := 0
		for _, l := range res.Logs {
			var m map[string]any
			if json.Unmarshal([]byte(l.Text), &m) == nil && m["requestId"] == res.RequestID && m["message"] == "photo synced" && m["status"] == "synced" {
				synced++
			}
		}
		if synced != len(objects) {
			t.Errorf("%s: %d \"photo synced\" lines with the invocation's request id, want %d:\n%v", name, synced, len(objects), res.Logs)
		}
		for _, o := range objects {
			tags, err := st.S3.Client().GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(sampleBucket), Key: aws.String(o.key)})
			if err != nil {
				t.Fatal(err)
			}
			status := ""
			for _, tag := range tags.TagSet {
				if aws.ToString(tag.Key) == onupload.TagStatus {
					status = aws.ToString(tag.Value)
				}
			}
			if status != "synced" {
				t.Errorf("%s: %s tagged %q, want synced", name, o.key, status)
			}
			if _, ok := st.Graph.Photo(devstack.TenantID, canonical(o.target)); !ok {
				t.Errorf("%s: no photo in Graph for %s", name, o.target)
			}
		}
		t.Logf("%s: %d object(s) synced, %v", name, len(objects), res.Report.Duration.Round(time.Millisecond))
	}
	if n < 6 {
		t.Errorf("%d S3 samples in events/, want one per trigger (6)", n)
	}
}

// keyTarget reads the photos/{target}/{file} layout of the samples.
func keyTarget(key string) string {
	rest, ok := strings.CutPrefix(key, "photos/")
	if !ok {
		return ""
	}
	return rest[:strings.LastIndex(rest, "/")]
}

// canonical maps a target by UPN to the Graph emulator's object ids.
func canonical(target string) string {
	ids := map[string]string{"alice@contoso.com": devstack.AliceID, "bob@contoso.com": devstack.BobID, "carol@contoso.com": devstack.CarolID}
	for _, u := range sampleUsers {
		ids[u.UPN] = u.ID
	}
	parts := strings.Split(target, "/")
	if len(parts) >= 2 && ids[parts[1]] != "" {
		parts[1] = ids[parts[1]]
	}
	return strings.Join(parts, "/")
}

// apiSamples feeds every events/apigw-* sample to the api function.
func apiSamples(t *testing.T, ctx context.Context, repo string, st *devstack.Stack) {
	want := map[string]struct {
		status int
		target string
	}{
		"apigw-v2-put-jpeg.json":     {200, "users/" + devstack.AliceID},
		"apigw-v2-put-heic.json":     {200, "users/" + devstack.BobID},
		"apigw-v2-put-me.json":       {200, "users/ca401000-0000-4000-8000-000000000003"},
		"apigw-v2-unauthorised.json": {401, ""},
		"apigw-v2-post-upload.json":  {200, ""},
	}
	files, err := filepath.Glob(filepath.Join(repo, "events", "apigw-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("%d API samples in events/, this test knows %d: add the new one here", len(files), len(want))
	}
	for _, file := range files {
		name := filepath.Base(file)
		payload, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// The samples come from an API Gateway of their own; the function answers only the
		// stack's (API_GATEWAY_ID), as a deployed one answers only its own.
		payload = bytes.ReplaceAll(payload, []byte(`"apiId": "abc123defg"`), []byte(`"apiId": "`+devstack.FrontAPIID+`"`))
		res, err := st.API.InvokeResult(ctx, payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out events.APIGatewayV2HTTPResponse
		if res.FunctionError != nil || json.Unmarshal(res.Payload, &out) != nil {
			t.Fatalf("%s: answer %s (%v)", name, res.Payload, res.FunctionError)
		}
		w, known := want[name]
		if !known || out.StatusCode != w.status {
			t.Errorf("%s: status %d, want %d: %s", name, out.StatusCode, w.status, out.Body)
			continue
		}
		if w.target != "" {
			var put api.PutResult
			if err := json.Unmarshal([]byte(out.Body), &put); err != nil {
				t.Fatalf("%s: %s", name, out.Body)
			}
			if p, ok := st.Graph.Photo(devstack.TenantID, w.target); !ok || len(p.Data) != put.Bytes {
				t.Errorf("%s: Graph holds %v for %s, the answer says %d bytes", name, ok, w.target, put.Bytes)
			}
		}
		t.Logf("%s: %d, %v", name, out.StatusCode, res.Report.Duration.Round(time.Millisecond))
	}
}

// apiUpload takes the API path a large original takes: POST /v1.0/uploads through the front
// door, PUT the photo to the presigned URL, then S3's notification, the queue, onupload and
// Graph, all inside the image.
func apiUpload(t *testing.T, ctx context.Context, st *devstack.Stack) {
	samples, err := devstack.Samples()
	if err != nil {
		t.Fatal(err)
	}
	photo := samples[0].Data
	token, err := st.UserToken(devstack.BobID, "bob@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"target": "me", "fileName": "bob.jpg", "size": len(photo)})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.APIURL+"/v1.0/uploads", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := st.APIClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var up api.Upload
	if resp.StatusCode != 200 || json.Unmarshal(answer, &up) != nil {
		t.Fatalf("POST /v1.0/uploads = %d: %s", resp.StatusCode, answer)
	}
	put, _ := http.NewRequestWithContext(ctx, up.Method, up.URL, bytes.NewReader(photo))
	for k, v := range up.Headers {
		if k != "content-length" {
			put.Header.Set(k, v)
		}
	}
	resp, err = http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT to the presigned URL = %d: %s", resp.StatusCode, answer)
	}
	// onupload tags the object once the queue has delivered it; poll with a generous deadline.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, reason, err := st.ObjectOutcome(ctx, up.Key)
		if err != nil {
			t.Fatal(err)
		}
		if status != "" {
			if status != "synced" {
				t.Fatalf("%s: %s %s, want synced", up.Key, status, reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no outcome after 2 minutes", up.Key)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, ok := st.Graph.Photo(devstack.TenantID, "users/"+devstack.BobID); !ok {
		t.Error("no photo in Graph for bob after the upload")
	}
	t.Logf("POST /v1.0/uploads, PUT %d bytes to %s: synced", len(photo), up.Key)
}

// initEvents are the first events of the INIT measurement, as cmd/benchreport sends them.
var initEvents = map[string]string{
	"echo":     `{"ping":1}`,
	"onupload": `{"Records":[]}`,
	"api":      `{"version":"2.0","rawPath":"/v1.0/me/photo","requestContext":{"http":{"method":"GET"}}}`,
}

// initTable measures INIT (the RIE's INIT REPORT) of echo, onupload and api, five fresh
// emulators each, in the image and on this machine, interleaved so that both see the same load.
func initTable(t *testing.T, ctx context.Context, c *lambdaimage.Chroot, boots map[string]string, echo, vipsHome string) {
	env := map[string]string{"GRAPH_SECRET_ID": "x", "UPLOAD_BUCKET": "photos", "STATE_BUCKET": "photos-state", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
	hostEnv := map[string]string{"VIPSHOME": vipsHome, "VIPS_BLOCK_UNTRUSTED": "1", "MALLOC_ARENA_MAX": "2"}
	imageEnv := map[string]string{}
	for _, kv := range lambdaimage.ImageConfig().Env {
		k, v, _ := strings.Cut(kv, "=")
		imageEnv[k] = v
	}
	for k, v := range env {
		hostEnv[k], imageEnv[k] = v, v
	}
	type where struct {
		name string
		opts rietest.Options
		bin  map[string]string
	}
	places := []where{
		{"image", rietest.Options{Root: c.Dir, Binary: emulator, MemoryMB: 2048, Env: imageEnv}, map[string]string{"echo": echoBoot, "onupload": lambdaimage.TaskRoot + "/onupload", "api": lambdaimage.TaskRoot + "/api"}},
		{"host", rietest.Options{MemoryMB: 2048, Env: hostEnv}, map[string]string{"echo": echo, "onupload": boots[lambdaimage.TaskRoot+"/onupload"], "api": boots[lambdaimage.TaskRoot+"/api"]}},
	}
	got := map[string][]time.Duration{}
	for range 5 {
		for _, fn := range []string{"echo", "onupload", "api"} {
			for _, p := range places {
				e, err := rietest.Start(ctx, p.bin[fn], p.opts)
				if err != nil {
					t.Fatalf("%s %s: %v", p.name, fn, err)
				}
				if _, err := e.Invoke(ctx, []byte(initEvents[fn])); err != nil && !isFunctionError(err) {
					e.Close()
					t.Fatalf("%s %s: %v\n%s", p.name, fn, err, e.Output())
				}
				ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
				d, err := e.InitDuration(ictx)
				cancel()
				e.Close()
				if err != nil {
					t.Fatalf("%s %s: %v", p.name, fn, err)
				}
				got[p.name+" "+fn] = append(got[p.name+" "+fn], d)
			}
		}
	}
	var b strings.Builder
	b.WriteString("INIT under aws-lambda-rie, five fresh emulators each, interleaved (median, min–max):\n")
	b.WriteString("  function   image (chroot)            this machine (VIPSHOME: HEIF only)\n")
	for _, fn := range []string{"echo", "onupload", "api"} {
		im, ho := got["image "+fn], got["host "+fn]
		fmt.Fprintf(&b, "  %-9s  %-24s  %s\n", fn, spread(im, median(got["image echo"])), spread(ho, median(got["host echo"])))
	}
	t.Log(b.String())
}

func isFunctionError(err error) bool {
	var fe *rietest.FunctionError
	return errors.As(err, &fe)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func spread(ds []time.Duration, ref time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
	return fmt.Sprintf("%s ms (%s–%s) %.1f×echo", ms(median(s)), ms(s[0]), ms(s[len(s)-1]), float64(median(s))/float64(ref))
}

var loaderTotal = regexp.MustCompile(`total startup time in dynamic loader:\s*([0-9]+) cycles`)

// leanLibs are the libraries a libvips built with only the allowed loaders links at start-up
// (the configuration this project once built from source: glib, expat, zlib, libjpeg, libpng,
// libwebp, libtiff, lcms2, libexif; HEIF as a module, loaded later in both cases).
var leanLibs = []string{"glib-2.0", "gobject-2.0", "gmodule-2.0", "gio-2.0", "expat", "z", "jpeg", "png16", "webp", "webpmux", "webpdemux", "tiff", "lcms2", "exif"}

// loaderFigures: what loading Debian's libvips costs at start, inside the image. Programs that
// do nothing but link libc, the lean set of libraries, or Debian's libvips (with everything it
// links) are started and timed from exec to exit, with glibc's loader statistics beside; then
// the bootstraps themselves up to their first line of Go (they stop at a configuration error),
// with and without libvips' HEIF module.
func loaderFigures(t *testing.T, ctx context.Context, c *lambdaimage.Chroot) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lean := []string{"-Wl,--no-as-needed"}
	for _, l := range leanLibs {
		lean = append(lean, "-l"+l)
	}
	programs := []struct {
		file string
		libs []string
	}{
		{"libc-only", nil},
		{"lean-libs", lean},
		{"debian-libvips", []string{"-Wl,--no-as-needed", "-lvips"}},
	}
	for _, p := range programs {
		out := filepath.Join(dir, p.file)
		args := append([]string{"-O2", "-o", out, src}, p.libs...)
		if msg, err := exec.CommandContext(ctx, "gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, msg)
		}
		if err := c.Put(out, "/tmp/loader/"+p.file, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	type run struct {
		name string
		bin  string
		env  []string
	}
	runs := []run{
		{"C program: libc only", "/tmp/loader/libc-only", nil},
		{"C program: a lean libvips's libraries", "/tmp/loader/lean-libs", nil},
		{"C program: Debian's libvips", "/tmp/loader/debian-libvips", nil},
		{"echo bootstrap (Go, to its exit)", echoBoot, nil},
		{"onupload to its first line of Go", lambdaimage.TaskRoot + "/onupload", nil},
		{"the same without the HEIF module", lambdaimage.TaskRoot + "/onupload", []string{"VIPSHOME=/tmp/no-modules"}},
	}
	wall := map[string][]time.Duration{}
	cycles := map[string][]float64{}
	objects := map[string]int{}
	for i := range 15 {
		for _, r := range runs {
			env := append(append([]string(nil), lambdaimage.ImageConfig().Env...), r.env...)
			if i%3 == 0 {
				env = append(env, "LD_DEBUG=statistics")
			}
			cmd := c.Command(ctx, env, r.bin)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			start := time.Now()
			_ = cmd.Run() // the bootstraps exit 1: no GRAPH_SECRET_ID, no Runtime API
			if i%3 == 0 {
				if m := loaderTotal.FindStringSubmatch(stderr.String()); m != nil {
					v, _ := strconv.ParseFloat(m[1], 64)
					cycles[r.name] = append(cycles[r.name], v)
				}
				continue // LD_DEBUG's own output would count in the time
			}
			wall[r.name] = append(wall[r.name], time.Since(start))
		}
	}
	for _, r := range runs {
		out, err := c.Command(ctx, []string{"LD_TRACE_LOADED_OBJECTS=1"}, r.bin).CombinedOutput()
		if err != nil {
			t.Errorf("list %s's shared objects: %v\n%s", r.bin, err, out)
		}
		objects[r.name] = strings.Count(string(out), "=>")
	}
	mhz := cpuMHz()
	var b strings.Builder
	fmt.Fprintf(&b, "start-up inside the image, exec to exit, median of 10 (interleaved); loader = glibc's LD_DEBUG=statistics, median of 5 (CPU %.0f MHz):\n", mhz)
	for _, r := range runs {
		v := cycles[r.name]
		sort.Float64s(v)
		loader := "n/a"
		if len(v) > 0 && mhz > 0 {
			loader = fmt.Sprintf("%.1f ms", v[len(v)/2]/(mhz*1e3))
		}
		fmt.Fprintf(&b, "  %-40s %3d shared objects  %6.1f ms  loader %s\n", r.name, objects[r.name], float64(median(wall[r.name]))/1e6, loader)
	}
	t.Log(b.String())
}

func cpuMHz() float64 {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// sizeFigures: the image's uncompressed size (root filesystem and bootstraps).
func sizeFigures(t *testing.T, root *lambdaimage.Root, boots map[string]string) {
	rootSize, err := lambdaimage.TreeSize(root.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var bootSize int64
	for _, p := range boots {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		bootSize += st.Size()
	}
	t.Logf("image size, uncompressed: %.1f MB (root filesystem %.1f MB, bootstraps %.1f MB)",
		float64(rootSize+bootSize)/1e6, float64(rootSize)/1e6, float64(bootSize)/1e6)
}

// warmFigures: the 12 MP camera JPEG, warm, in one process, inside the image and on this
// machine, interleaved. The photo comes from PHOTO_CORPUS and is measured only when it is there.
func warmFigures(t *testing.T, ctx context.Context, c *lambdaimage.Chroot, cli, vipsHome string) {
	const name = "jpeg_camera_12mp_olympus.jpg"
	src := filepath.Join(os.Getenv("PHOTO_CORPUS"), name)
	if _, err := os.Stat(src); os.Getenv("PHOTO_CORPUS") == "" || err != nil {
		t.Logf("12 MP JPEG warm time: not measured (PHOTO_CORPUS does not hold %s)", name)
		return
	}
	if err := c.Put(src, "/tmp/photo.jpg", 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 11 // the first is cold and left out
	args := func(file, out string) []string {
		a := []string{"normalise", "--out", out}
		for range n {
			a = append(a, file)
		}
		return a
	}
	parse := func(out []byte) ([]time.Duration, error) {
		var ds []time.Duration
		for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
			var line struct {
				Status string `json:"status"`
				MS     int64  `json:"ms"`
			}
			if err := json.Unmarshal(l, &line); err != nil || line.Status != "ok" {
				return nil, fmt.Errorf("line %s", l)
			}
			ds = append(ds, time.Duration(line.MS)*time.Millisecond)
		}
		if len(ds) != n {
			return nil, fmt.Errorf("%d lines, want %d", len(ds), n)
		}
		return ds[1:], nil
	}
	var inImage, onHost []time.Duration
	outDir := t.TempDir()
	for range 3 {
		out, err := c.Command(ctx, lambdaimage.ImageConfig().Env, cliPath, args("/tmp/photo.jpg", "/tmp/out")...).Output()
		if err != nil {
			t.Fatalf("normalise in the image: %v", err)
		}
		ds, err := parse(out)
		if err != nil {
			t.Fatalf("normalise in the image: %v", err)
		}
		inImage = append(inImage, ds...)
		host := exec.CommandContext(ctx, cli, args(src, outDir)...)
		host.Env = append(os.Environ(), "VIPSHOME="+vipsHome, "VIPS_BLOCK_UNTRUSTED=1", "MALLOC_ARENA_MAX=2")
		if out, err = host.Output(); err != nil {
			t.Fatalf("normalise on this machine: %v", err)
		}
		if ds, err = parse(out); err != nil {
			t.Fatalf("normalise on this machine: %v", err)
		}
		onHost = append(onHost, ds...)
	}
	t.Logf("12 MP camera JPEG (%s), warm, graphphoto normalise, median of %d: image %v, this machine %v (%.2f×)",
		name, len(inImage), median(inImage), median(onHost), float64(median(inImage))/float64(median(onHost)))
}

// TestArchive opens the archive make image wrote (IMAGE_ARCHIVE) and checks it: layers, entry
// point and environment, both bootstraps, the package list installed, no compiler and no -dev
// package, libvips' HEIF module alone, the CA roots.
func TestArchive(t *testing.T) {
	file := os.Getenv("IMAGE_ARCHIVE")
	if file == "" {
		t.Fatal("IMAGE_ARCHIVE names no archive: make image sets it")
	}
	repo := tool.MustModuleRoot(t)
	packages, err := lambdaimage.ReadPackages(filepath.Join(repo, lambdaimage.PackagesFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := lambdaimage.CheckArchive(file, lambdaimage.Expect{Arch: lambdaimage.DebianArch(), Config: lambdaimage.ImageConfig(), Packages: packages})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d layers %v, linux/%s, command %q, entry point %q, %d files, %d packages (libvips42 %s), modules %v; %.1f MB compressed, %.1f MB uncompressed",
		file, len(r.Layers), r.Layers, r.Arch, r.Config.Cmd, r.Config.Entrypoint, r.Files, len(r.Packages), r.Packages["libvips42"], r.Modules,
		float64(r.Compressed)/1e6, float64(r.Uncompressed)/1e6)
}
