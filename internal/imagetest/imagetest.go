// Package imagetest hands tests the repository's test images: the real photos under
// testdata/images at the module root (listed with their facts in its MANIFEST.tsv, attributed
// in its README.md) and the files generated from them when a test asks for one. The packages
// that test images (imageproc, onupload, the onupload function) read the same files through it,
// so a name means the same bytes everywhere.
//
// PHOTO_CORPUS names another folder in the same format for an extra run on a larger corpus
// (make test-corpus); the generated files are the same either way.
//
// Test support only: it imports no testing package (a test passes its testing.TB as a
// tool.Fataler), and no production package may import it (TestNotLinkedIntoProduction).
package imagetest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/graphphoto/graphphoto/internal/tool"
)

// EnvCorpus is the environment variable naming an image folder to use instead of the
// repository's own; a relative path is taken from the module root.
const EnvCorpus = "PHOTO_CORPUS"

// SetGenerated is the Set of the files made by Generate.
const SetGenerated = "generated"

// File is one test image: a manifest row or a generated file, with the facts the tests derive
// their expectations from.
type File struct {
	Set           string // the manifest's set (corpus, corpus_extra), or SetGenerated
	Name          string
	Width, Height int    // as libvips reads the header (0 when it cannot)
	Format        string // jpeg, png, webp, gif, tiff, heif; a description when libvips cannot read it
	What          string
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("imagetest: %w", err)
	}
	root, ok := tool.ModuleRoot(wd)
	if !ok {
		return "", fmt.Errorf("imagetest: no go.mod above %s", wd)
	}
	return root, nil
}

// RepoDir is the repository's own image folder, testdata/images at the module root.
func RepoDir() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "images"), nil
}

// Dir is the image folder the tests read: $PHOTO_CORPUS when set, else RepoDir.
func Dir() (string, error) {
	d := os.Getenv(EnvCorpus)
	if d == "" {
		return RepoDir()
	}
	if !filepath.IsAbs(d) {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		d = filepath.Join(root, d)
	}
	if _, err := os.Stat(filepath.Join(d, "MANIFEST.tsv")); err != nil {
		return "", fmt.Errorf("imagetest: %s=%s is not an image folder with a MANIFEST.tsv: %w", EnvCorpus, os.Getenv(EnvCorpus), err)
	}
	return d, nil
}

// ReadManifest reads dir's MANIFEST.tsv: a header line, then one tab-separated row per file
// (set, file, bytes, WxH, format, pixels, source_repo, path, commit, what, licence_note).
func ReadManifest(dir string) ([]File, error) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		return nil, fmt.Errorf("imagetest: %w", err)
	}
	defer f.Close()
	var out []File
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 11 {
			return nil, fmt.Errorf("imagetest: %s line %d has %d columns, want 11", f.Name(), line, len(cols))
		}
		e := File{Set: cols[0], Name: cols[1], Format: cols[4], What: cols[9]}
		if w, h, ok := strings.Cut(cols[3], "x"); ok {
			e.Width, _ = strconv.Atoi(w)
			e.Height, _ = strconv.Atoi(h)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("imagetest: %s: %w", f.Name(), err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("imagetest: %s lists no file", f.Name())
	}
	return out, nil
}

// Corpus is every test image: the rows of Dir's manifest, then the generated files.
func Corpus(tb tool.Fataler) (dir string, files []File) {
	tb.Helper()
	dir, err := Dir()
	if err != nil {
		tb.Fatal(err)
	}
	files, err = ReadManifest(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return dir, append(files, Generated()...)
}

// Read returns the bytes of a test image by name: generated when Generated lists the name,
// else the file in Dir.
func Read(tb tool.Fataler, name string) []byte {
	tb.Helper()
	if _, ok := generator(name); ok {
		b, err := Generate(name)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	dir, err := Dir()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		tb.Fatal(fmt.Errorf("imagetest: test image %s: %w", name, err))
	}
	return b
}

// Lookup returns the facts of a test image by name.
func Lookup(tb tool.Fataler, name string) File {
	tb.Helper()
	_, files := Corpus(tb)
	for _, f := range files {
		if f.Name == name {
			return f
		}
	}
	tb.Fatal(fmt.Errorf("imagetest: no test image named %s", name))
	return File{}
}
