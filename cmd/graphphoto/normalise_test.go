package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
)

func TestNormaliseCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "portrait.jpg")
	if err := os.WriteFile(good, graphtest.JPEG(300, 500), 0o644); err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(dir, "cv.pdf")
	if err := os.WriteFile(pdf, []byte("%PDF-1.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.jpg")
	if err := os.WriteFile(big, make([]byte, 20_000), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"normalise", "--size", "240", "--max-source-bytes", "15000", "--out", out, good, pdf, big, filepath.Join(dir, "missing.png")}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1 (a missing file is an error); stderr: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want one JSON line per input, got:\n%s", stdout.String())
	}
	var got []normaliseLine
	for _, l := range lines {
		var nl normaliseLine
		if err := json.Unmarshal([]byte(l), &nl); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, nl)
	}
	if g := got[0]; g.Status != "ok" || g.Width != 240 || g.Height != 240 || g.SourceFormat != "jpeg" || g.Quality != 85 {
		t.Errorf("good file: %+v", g)
	}
	if b, err := os.ReadFile(filepath.Join(out, "portrait.jpg")); err != nil || len(b) != got[0].Bytes {
		t.Errorf("written photo: %d bytes, %v; line says %d", len(b), err, got[0].Bytes)
	}
	if g := got[1]; g.Status != "rejected" || g.Reason != "unsupported_format" {
		t.Errorf("pdf: %+v", g)
	}
	if g := got[2]; g.Status != "rejected" || g.Reason != "source_too_large" {
		t.Errorf("big: %+v", g)
	}
	if g := got[3]; g.Status != "error" || g.Message == "" {
		t.Errorf("missing: %+v", g)
	}

	// Rejections alone still exit 0: every input was handled.
	stdout.Reset()
	if code := run(context.Background(), []string{"normalise", "--out", out, pdf}, &stdout, &stderr); code != 0 {
		t.Errorf("rejections only: exit %d", code)
	}
}

func TestNormaliseUsage(t *testing.T) {
	for _, args := range [][]string{
		{"normalise"},
		{"normalise", "x.jpg"},
		{"normalise", "--out", t.TempDir()},
		{"normalise", "--crop", "entropy", "--out", t.TempDir(), "x.jpg"},
		{"normalise", "--quality", "0", "--out", t.TempDir(), "x.jpg"},
		{"normalise", "--max-bytes", "500", "--out", t.TempDir(), "x.jpg"},
		{"frobnicate"},
		{},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
