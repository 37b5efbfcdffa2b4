package imagetest

import (
	"bytes"
	"encoding/binary"
	"image/gif"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestManifest: the repository's manifest tells the truth about every file it lists (bytes,
// size and format as libvips reads them), lists every file in the folder, and the README names
// each one, so no image ships without its source and licence.
func TestManifest(t *testing.T) {
	dir, err := RepoDir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	manifest, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(manifest)), "\n")[1:] {
		cols := strings.Split(line, "\t")
		rows[cols[1]] = cols
	}
	listed := map[string]bool{}
	var total int64
	for _, f := range files {
		listed[f.Name] = true
		t.Run(f.Name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, f.Name))
			if err != nil {
				t.Fatal(err)
			}
			total += int64(len(b))
			if n, _ := strconv.Atoi(rows[f.Name][2]); n != len(b) {
				t.Errorf("manifest says %s bytes, file has %d", rows[f.Name][2], len(b))
			}
			h, err := ReadHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.Width != f.Width || h.Height != f.Height || h.Format() != f.Format {
				t.Errorf("manifest says %dx%d %s, libvips reads %dx%d %s", f.Width, f.Height, f.Format, h.Width, h.Height, h.Format())
			}
			if f.Set != "corpus" && f.Set != "corpus_extra" {
				t.Errorf("set %q", f.Set)
			}
			if lic := rows[f.Name][10]; lic == "" {
				t.Error("no licence note")
			}
			if !bytes.Contains(readme, []byte("`"+f.Name+"`")) {
				t.Error("README.md does not name the file")
			}
			if _, ok := generator(f.Name); ok {
				t.Error("a generated file has the name of a real one")
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "MANIFEST.tsv" && n != "README.md" && !listed[n] {
			t.Errorf("%s is in the folder but not in the manifest", n)
		}
	}
	// The repository stays small: the set is a few MB, not a corpus.
	if total > 5<<20 {
		t.Errorf("the test images weigh %d KB; keep them under 5 MB", total>>10)
	}
}

// TestGenerated: each generated file is what its facts and its description say, read back by
// libvips (and for PNG and GIF, by the bytes of the format).
func TestGenerated(t *testing.T) {
	names := map[string]bool{}
	for _, f := range Generated() {
		if names[f.Name] {
			t.Errorf("two generated files named %s", f.Name)
		}
		names[f.Name] = true
		t.Run(f.Name, func(t *testing.T) {
			b, err := Generate(f.Name)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Generate(f.Name)
			if err != nil || !bytes.Equal(b, again) {
				t.Fatalf("a second run made different bytes (%v)", err)
			}
			h, err := ReadHeader(b)
			if f.Width == 0 {
				if err == nil {
					t.Fatalf("libvips reads the header (%+v); the file claims it cannot", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Width != f.Width || h.Height != f.Height || h.Format() != f.Format {
				t.Errorf("facts say %dx%d %s, libvips reads %dx%d %s", f.Width, f.Height, f.Format, h.Width, h.Height, h.Format())
			}
			check, ok := kinds[f.Name]
			if !ok {
				t.Fatal("no check of what kind of file this is")
			}
			check(t, b, h)
		})
	}
}

// kinds checks that each generated file is the kind of file its name and description say.
var kinds = map[string]func(t *testing.T, b []byte, h Header){
	"jpeg_cmyk_fogra39_icc.jpg": func(t *testing.T, b []byte, h Header) {
		tif, err := os.ReadFile(filepath.Join(repoDir(t), fogra39))
		if err != nil {
			t.Fatal(err)
		}
		want, err := iccOf(tif)
		if err != nil {
			t.Fatal(err)
		}
		got, err := iccOf(b)
		if err != nil {
			t.Fatal(err)
		}
		if !h.CMYK || h.Bands != 4 || len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("CMYK %v, %d bands, profile %d bytes; want CMYK with the %d-byte FOGRA39 profile", h.CMYK, h.Bands, len(got), len(want))
		}
	},
	"jpeg_cmyk_untagged.jpg": func(t *testing.T, b []byte, h Header) {
		if !h.CMYK || h.Bands != 4 || h.ICCBytes != 0 {
			t.Errorf("CMYK %v, %d bands, profile %d bytes; want CMYK without a profile", h.CMYK, h.Bands, h.ICCBytes)
		}
	},
	"jpeg_progressive.jpg": func(t *testing.T, b []byte, h Header) {
		if !h.Interlaced || !bytes.Contains(b, []byte{0xFF, 0xC2}) {
			t.Error("not a progressive JPEG")
		}
	},
	"png16_rgb_photo.png": func(t *testing.T, b []byte, h Header) {
		if depth, colour := pngIHDR(t, b); depth != 16 || colour != 2 || !h.Ushort {
			t.Errorf("bit depth %d, colour type %d; want 16-bit RGB", depth, colour)
		}
	},
	"png_palette_photo.png": func(t *testing.T, b []byte, h Header) {
		if depth, colour := pngIHDR(t, b); depth != 8 || colour != 3 {
			t.Errorf("bit depth %d, colour type %d; want an 8-bit palette", depth, colour)
		}
	},
	"png_rgba_vignette.png": func(t *testing.T, b []byte, h Header) {
		if depth, colour := pngIHDR(t, b); depth != 8 || colour != 6 || h.Bands != 4 {
			t.Errorf("bit depth %d, colour type %d, %d bands; want 8-bit RGBA", depth, colour, h.Bands)
		}
	},
	"webp_lossy_photo.webp": func(t *testing.T, b []byte, h Header) {
		if string(b[12:16]) != "VP8 " || h.Bands != 3 {
			t.Errorf("first chunk %q, %d bands; want simple lossy VP8", b[12:16], h.Bands)
		}
	},
	"webp_alpha_vignette.webp": func(t *testing.T, b []byte, h Header) {
		if string(b[12:16]) != "VP8X" || !bytes.Contains(b, []byte("ALPH")) || !bytes.Contains(b, []byte("VP8 ")) || h.Bands != 4 {
			t.Errorf("%d bands; want extended lossy WebP with an ALPH chunk", h.Bands)
		}
	},
	"tiff_rgb_lzw.tif": func(t *testing.T, b []byte, h Header) {
		if tiffTag(t, b, 259) != 5 || tiffTag(t, b, 317) != 2 {
			t.Errorf("compression %d, predictor %d; want LZW (5) with horizontal predictor (2)", tiffTag(t, b, 259), tiffTag(t, b, 317))
		}
	},
	"gif_animated_transparent.gif": func(t *testing.T, b []byte, h Header) {
		g, err := gif.DecodeAll(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, a := g.Image[0].At(0, 0).RGBA()
		if len(g.Image) != 3 || h.Pages != 3 || a != 0 {
			t.Errorf("%d frames (libvips: %d pages), corner alpha %d; want 3 frames and a transparent corner", len(g.Image), h.Pages, a)
		}
	},
	"bomb_jpeg_20000x14000.jpg": func(t *testing.T, b []byte, h Header) {
		if len(b) > 10_000 {
			t.Errorf("%d bytes; a bomb is small", len(b))
		}
	},
	"bomb_png_65536x65536.png": func(t *testing.T, b []byte, h Header) {
		if len(b) > 10_000 {
			t.Errorf("%d bytes; a bomb is small", len(b))
		}
	},
	"jpeg_truncated_camera.jpg": func(t *testing.T, b []byte, h Header) {
		full, err := os.ReadFile(filepath.Join(repoDir(t), camera))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(full, b) || len(b) >= len(full) || bytes.HasSuffix(b, []byte{0xFF, 0xD9}) {
			t.Error("not a prefix of the camera JPEG without its end marker")
		}
	},
}

func repoDir(t *testing.T) string {
	t.Helper()
	dir, err := RepoDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// pngIHDR is a PNG's bit depth and colour type.
func pngIHDR(t *testing.T, b []byte) (depth, colour byte) {
	t.Helper()
	if len(b) < 33 || string(b[12:16]) != "IHDR" {
		t.Fatal("no IHDR")
	}
	return b[24], b[25]
}

// tiffTag is the value of a SHORT tag of a little-endian TIFF's first IFD (0 when absent).
func tiffTag(t *testing.T, b []byte, tag uint16) int {
	t.Helper()
	if len(b) < 8 || string(b[:4]) != "II*\x00" {
		t.Fatalf("not a little-endian TIFF: %q", b[:min(len(b), 4)])
	}
	le := binary.LittleEndian
	ifd := int(le.Uint32(b[4:]))
	n := int(le.Uint16(b[ifd:]))
	for i := range n {
		e := b[ifd+2+12*i:]
		if le.Uint16(e) == tag {
			return int(le.Uint16(e[8:]))
		}
	}
	return 0
}

// TestRead: a generated name is generated, a real one read from the folder, and PHOTO_CORPUS
// moves only the real ones.
func TestRead(t *testing.T) {
	gen, err := Generate("jpeg_progressive.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if got := Read(t, "jpeg_progressive.jpg"); !bytes.Equal(got, gen) {
		t.Error("Read of a generated name did not generate it")
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "MANIFEST.tsv"), []byte("set\tfile\tbytes\tWxH\tformat\tpixels\tsource_repo\tpath\tcommit\twhat\tlicence_note\n"+
		"corpus\tx.jpg\t4\t?\tjpeg\t-\t-\t-\t-\ta stand-in\tnone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "x.jpg"), []byte("test"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCorpus, other)
	if got := Read(t, "x.jpg"); string(got) != "test" {
		t.Errorf("Read with %s set: %q", EnvCorpus, got)
	}
	if got := Read(t, "jpeg_progressive.jpg"); !bytes.Equal(got, gen) {
		t.Error("a generated file changed with the corpus folder")
	}
	dir, files := Corpus(t)
	if dir != other || len(files) != 1+len(Generated()) || files[0].Name != "x.jpg" || files[0].Width != 0 {
		t.Errorf("Corpus = %s, %+v", dir, files[:1])
	}
	t.Setenv(EnvCorpus, filepath.Join("testdata", "images"))
	if d, err := Dir(); err != nil || d != repoDir(t) {
		t.Errorf("a relative %s is taken from the module root: %s, %v", EnvCorpus, d, err)
	}
	t.Setenv(EnvCorpus, filepath.Join(other, "missing"))
	if _, err := Dir(); err == nil {
		t.Error("a folder without a manifest must be an error, not an empty corpus")
	}
}

// TestNotLinkedIntoProduction: only tests and other test-support packages (named …test)
// import this package, so no function or command carries test images or their generators.
func TestNotLinkedIntoProduction(t *testing.T) {
	root := filepath.Dir(filepath.Dir(repoDir(t)))
	const self = "github.com/graphphoto/graphphoto/internal/imagetest"
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var users int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if imp == self {
				users++
				if !strings.HasSuffix(fields[0], "test") {
					t.Errorf("%s imports imagetest outside its tests", fields[0])
				}
			}
		}
	}
	t.Logf("%d packages import imagetest outside their tests, all of them test support", users)
}
