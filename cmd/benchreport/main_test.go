package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/tool"
)

func TestMedianMsRatio(t *testing.T) {
	ms3 := []time.Duration{30 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
	if m := median(ms3); m != 20*time.Millisecond {
		t.Errorf("median %v", m)
	}
	if median(nil) != 0 || ms(0) != "–" || ratio(0, time.Second) != "–" || ratio(time.Second, 0) != "–" {
		t.Error("missing measurements must print a dash")
	}
	if got := ms(1500 * time.Microsecond); got != "1.5" {
		t.Errorf("ms = %q", got)
	}
	if got := ratio(3*time.Second, 2*time.Second); got != "1.50" {
		t.Errorf("ratio = %q", got)
	}
}

// TestCorpusFiles: the corpus rows of the manifest whose image normalises, and only those.
func TestCorpusFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "MANIFEST.tsv"), []byte("set\tfile\n"+
		"corpus\tgood.png\ncorpus\tbroken.jpg\ncorpus_extra\textra.png\n"), 0o644)
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	var b bytes.Buffer
	png.Encode(&b, img)
	os.WriteFile(filepath.Join(dir, "good.png"), b.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "extra.png"), b.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.jpg"), []byte("\xff\xd8\xff garbage"), 0o644)
	files, err := corpusFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].name != "good.png" {
		t.Errorf("files %+v", files)
	}
	if _, err := corpusFiles(t.TempDir()); err == nil {
		t.Error("a folder without a manifest must be an error")
	}
}

// TestDefaultCorpus: the default -corpus, the repository's own images, is a corpus the report
// can time: a bare clone runs make bench without a flag.
func TestDefaultCorpus(t *testing.T) {
	files, err := corpusFiles(filepath.Join(tool.MustModuleRoot(t), defaultCorpus))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.name)
	}
	// The camera JPEG, the phone HEIC and AVIF, the two TIFFs and eight EXIF orientations.
	if len(files) < 13 {
		t.Errorf("%d timed images (%v); want the repository's corpus rows that normalise", len(files), names)
	}
}
