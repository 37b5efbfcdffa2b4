package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/rietest"
	"github.com/graphphoto/graphphoto/internal/s3test"
)

// TestStack runs the whole local system: the demo through both paths, an upload with the real
// AWS CLI, a stock Microsoft Graph SDK from npm against the HTTPS API, a photo dead-lettered
// while Graph is down and synced after the redrive, and the gallery in a real headless browser.
func TestStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	if !s3test.Available() || !rietest.Available() {
		t.Fatal("versitygw or aws-lambda-rie missing: run `make setup`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	st, err := Start(ctx, Options{Dir: t.TempDir(), Log: slog.New(slog.NewJSONHandler(&logs, nil)), MaxReceives: 2, Visibility: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	t.Run("demo", func(t *testing.T) {
		rows, err := st.Demo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var table bytes.Buffer
		if err := PrintTable(&table, rows); err != nil {
			t.Errorf("%v\n%s", err, table.String())
		}
		for _, r := range rows {
			if (r.Status == "synced" || r.Status == "200") && r.Bytes == 0 {
				t.Errorf("%s: %s but no photo in Graph for %s", r.Path, r.Input, r.Target)
			}
		}
	})

	t.Run("grant holds its size", func(t *testing.T) {
		alice, err := st.UserToken(AliceID, "alice@contoso.com")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.APIURL+"/v1.0/uploads", strings.NewReader(`{"target":"me","size":1000}`))
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, err := st.APIClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var grant struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
			Key     string            `json:"key"`
		}
		err = json.NewDecoder(resp.Body).Decode(&grant)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1.0/uploads: %d %v", resp.StatusCode, err)
		}
		for _, n := range []int{999, 1001, 60 << 20} {
			put, _ := http.NewRequestWithContext(ctx, http.MethodPut, grant.URL, bytes.NewReader(make([]byte, n)))
			for k, v := range grant.Headers {
				if k != "content-length" {
					put.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(put)
			if err != nil {
				// S3 may answer 403 and close while a large body is still being sent.
				if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
					t.Fatal(err)
				}
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%d bytes through a 1000-byte grant: S3 answered %d, want 403", n, resp.StatusCode)
			}
		}
		if _, err := st.S3.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(Bucket), Key: aws.String(grant.Key)}); err == nil {
			t.Error("an object of another size was stored")
		}
	})

	t.Run("aws cli", func(t *testing.T) {
		if _, err := exec.LookPath("aws"); err != nil {
			t.Fatal("the AWS CLI is missing: run `make setup` (Debian package awscli)")
		}
		dir := t.TempDir()
		samples, _ := Samples()
		file := filepath.Join(dir, "dana.jpg")
		os.WriteFile(file, samples[0].Data, 0o644)
		cfg := filepath.Join(dir, "config")
		os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"), 0o644)
		cmd := exec.CommandContext(ctx, "aws", "--endpoint-url", st.S3.Endpoint, "s3", "cp", file, "s3://"+Bucket+"/cli/dana.jpg",
			"--metadata", "graph-target=users/carol@contoso.com")
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+st.S3.AccessKey, "AWS_SECRET_ACCESS_KEY="+st.S3.SecretKey,
			"AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"), "AWS_PAGER=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aws s3 cp: %v\n%s", err, out)
		}
		status, reason := waitOutcome(t, ctx, st, "cli/dana.jpg")
		if status != "synced" {
			t.Errorf("cli upload: %s %s", status, reason)
		}
	})

	t.Run("graph sdk from npm over https", func(t *testing.T) {
		if !strings.HasPrefix(st.APIURL, "https://") {
			t.Fatalf("the API is %s; want https:// by default", st.APIURL)
		}
		testGraphSDK(ctx, t, st)
	})

	t.Run("dead-lettered while Graph is down, synced after the redrive", func(t *testing.T) {
		// Graph answers every photo request 503 (serviceNotAvailable): a transient failure, so
		// the message is retried, then dead-lettered after MaxReceives.
		st.Graph.AddFault(graphtest.Fault{Kind: "graph", Status: 503, RetryAfter: "1"})
		defer st.Graph.ClearFaults()
		samples, _ := Samples()
		const key = "outage/bob.jpg"
		_, err := st.S3.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(Bucket), Key: aws.String(key),
			Body: bytes.NewReader(samples[0].Data), Metadata: map[string]string{"graph-target": "users/bob@contoso.com"}})
		if err != nil {
			t.Fatal(err)
		}
		for !st.deadLettered(key) {
			select {
			case <-st.Queue.Changed():
			case <-ctx.Done():
				t.Fatalf("not dead-lettered; deliveries %+v", st.Queue.Deliveries())
			}
		}
		letters, err := st.Queue.DeadLetters()
		if err != nil || len(letters) != 1 || decodeKey(letters[0].Delivery.Key) != key {
			t.Fatalf("dead letters %+v, %v", letters, err)
		}
		b, _ := os.ReadFile(letters[0].File)
		if !strings.Contains(string(b), key) {
			t.Errorf("dead letter: %s", b)
		}
		if status, reason, _ := st.ObjectOutcome(ctx, key); status == "synced" {
			t.Errorf("object tagged %s %s while Graph was down", status, reason)
		}

		// Graph is back: the redrive moves the letter onto the queue and the photo syncs.
		st.Graph.ClearFaults()
		before := time.Now()
		moved, err := st.Queue.Redrive(ctx)
		if err != nil || moved != 1 {
			t.Fatalf("redrive moved %d: %v", moved, err)
		}
		for {
			status, reason, err := st.ObjectOutcome(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if status == "synced" {
				break
			}
			select {
			case <-st.Queue.Changed():
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				t.Fatalf("not synced after the redrive: %s %s; deliveries %+v", status, reason, st.Queue.Deliveries())
			}
		}
		if p, ok := st.Graph.Photo(TenantID, "users/"+BobID); !ok || p.Updated.Before(before) {
			t.Errorf("bob's photo in Graph after the redrive: ok=%v, updated %v (redrive at %v)", ok, p.Updated, before)
		}
		if left, err := st.Queue.DeadLetters(); len(left) != 0 || err != nil {
			t.Errorf("dead letters left after the redrive: %+v, %v", left, err)
		}
	})

	t.Run("gallery in a browser", func(t *testing.T) {
		browser, err := exec.LookPath("chromium")
		if err != nil {
			t.Fatal("chromium is missing: run `make setup` (Debian package chromium)")
		}
		out := filepath.Join(t.TempDir(), "gallery.png")
		if keep := os.Getenv("DEVSTACK_SCREENSHOT"); keep != "" {
			out = keep
		}
		cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
			"--ignore-certificate-errors", "--hide-scrollbars", "--window-size=1280,1600", "--screenshot="+out, st.Graph.GalleryURL())
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, b)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		// The photos are the only strongly coloured things on the page: the demo's portrait has
		// a red marker and a skin-toned face, the logo is blue.
		var red, blue int
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y += 2 {
			for x := b.Min.X; x < b.Max.X; x += 2 {
				r, g, bl, _ := img.At(x, y).RGBA()
				r, g, bl = r>>8, g>>8, bl>>8
				if r > 200 && g < 80 && bl < 80 {
					red++
				}
				if bl > 180 && r < 40 && g > 90 && g < 150 {
					blue++
				}
			}
		}
		if red < 200 || blue < 200 {
			t.Errorf("screenshot %s shows no photos (red %d, blue %d pixels)", out, red, blue)
		}
		dom := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--user-data-dir="+t.TempDir(), "--ignore-certificate-errors", "--dump-dom", st.Graph.GalleryURL())
		html, err := dom.Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{AliceID, CarolID, GroupID} {
			if !strings.Contains(string(html), id) {
				t.Errorf("gallery does not list %s", id)
			}
		}
	})
	if t.Failed() {
		t.Logf("stack log:\n%s", logs.String())
		io.WriteString(os.Stderr, st.OnUpload.Output())
	}
}

func waitOutcome(t *testing.T, ctx context.Context, st *Stack, key string) (string, string) {
	t.Helper()
	for {
		status, reason, err := st.ObjectOutcome(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if status != "" {
			return status, reason
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: no outcome", key)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
