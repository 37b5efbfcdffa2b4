package hostile

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// allCases builds the set once for the tests below (it takes a few seconds).
var allCases = sync.OnceValues(Cases)

// TestCases: the set is large enough (at least 40 cases), covers every class below and has sane
// names.
func TestCases(t *testing.T) {
	cs, err := allCases()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) < 40 {
		t.Errorf("%d cases; want at least 40", len(cs))
	}
	classes := map[string]int{}
	for _, c := range cs {
		classes[c.Class]++
		if c.What == "" || !strings.Contains(c.Name, ".") || !strings.HasPrefix(c.Name, c.Class[:4]) {
			t.Errorf("%s: class %q, what %q", c.Name, c.Class, c.What)
		}
		if (c.Want.Reason == "") == (c.Want.Side == 0) {
			t.Errorf("%s: want %+v names neither a photo nor a reason", c.Name, c.Want)
		}
		if len(c.Data) > 4_000_000 {
			t.Errorf("%s: %d bytes; every case must fit the API's request body", c.Name, len(c.Data))
		}
	}
	for _, class := range []string{"bomb", "decompression", "truncated", "corrupt", "script", "document", "polyglot", "size", "depth", "animation"} {
		if classes[class] == 0 {
			t.Errorf("no %s case", class)
		}
	}
}

// TestDeclaredSizes: the headers say what the cases claim, read back by Go's own decoders
// (PNG, JPEG, GIF) or by hand (WebP, HEIF, TIFF).
func TestDeclaredSizes(t *testing.T) {
	cs, err := allCases()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]byte{}
	for _, c := range cs {
		byName[c.Name] = c.Data
	}
	for name, want := range map[string][2]int{
		"bomb-png-65536x65536.png":              {65536, 65536},
		"bomb-jpeg-20000x14000.jpg":             {20000, 14000},
		"bomb-jpeg-progressive-20000x14000.jpg": {20000, 14000},
		"bomb-gif-65535x65535.gif":              {65535, 65535},
		"size-1x100000.png":                     {1, 100000},
		"size-jpeg-60000x1.jpg":                 {60000, 1},
		"decompress-png-7000x7000-zeros.png":    {7000, 7000},
	} {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(byName[name]))
		if err != nil || cfg.Width != want[0] || cfg.Height != want[1] {
			t.Errorf("%s: %dx%d (%v), want %dx%d", name, cfg.Width, cfg.Height, err, want[0], want[1])
		}
	}
	// VP8L: 14-bit sizes after the signature byte.
	w := byName["bomb-webp-16383x16383.webp"]
	bits := binary.LittleEndian.Uint32(w[21:])
	if got := [2]uint32{bits&0x3FFF + 1, (bits>>14)&0x3FFF + 1}; got != [2]uint32{16383, 16383} {
		t.Errorf("webp declares %v", got)
	}
	// HEIF: the ispe box.
	h := byName["bomb-heic-16384x16384.heic"]
	i := bytes.Index(h, []byte("ispe"))
	if i < 0 || binary.BigEndian.Uint32(h[i+8:]) != 16384 || binary.BigEndian.Uint32(h[i+12:]) != 16384 {
		t.Errorf("heic ispe not 16384x16384")
	}
	// Truncations are prefixes of one file, of the lengths their names give.
	if !bytes.HasPrefix(byName["truncated-jpeg-at-200.jpg"], []byte{0xFF, 0xD8, 0xFF}) || len(byName["truncated-jpeg-at-200.jpg"]) != 200 {
		t.Error("truncated-jpeg-at-200.jpg is not a 200-byte JPEG prefix")
	}
}

// TestAnimatedWebP: each animated WebP case is VP8X (the animation flag only) + ANIM + one
// ANMF, read back by hand: canvas and frame sizes as named, a lossless frame whose VP8L header
// agrees with the ANMF, and alpha carried by an ALPH chunk inside the frame alone.
func TestAnimatedWebP(t *testing.T) {
	cs, err := allCases()
	if err != nil {
		t.Fatal(err)
	}
	le24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	tests := map[string]struct {
		canvas, frame [2]int
		inner         []string // the frame's chunks
	}{
		"bomb-webp-animated-canvas.webp":               {[2]int{16383, 16383}, [2]int{1, 1}, []string{"VP8L"}},
		"bomb-webp-animated-lossless-10000x10000.webp": {[2]int{10000, 10000}, [2]int{10000, 10000}, []string{"VP8L"}},
		"bomb-webp-animated-lossless-5000x5000.webp":   {[2]int{5000, 5000}, [2]int{5000, 4998}, []string{"VP8L"}},
		"bomb-webp-animated-alpha-5000x5000.webp":      {[2]int{5000, 5000}, [2]int{64, 64}, []string{"ALPH", "VP8 "}},
		"bomb-webp-animated-lossy-7000x7000.webp":      {[2]int{7000, 7000}, [2]int{64, 64}, []string{"VP8 "}},
		"decompress-webp-animated-3535x3535.webp":      {[2]int{3535, 3535}, [2]int{3535, 3533}, []string{"VP8L"}},
	}
	seen := 0
	for _, c := range cs {
		want, ok := tests[c.Name]
		if !ok {
			continue
		}
		seen++
		d := c.Data
		if string(d[0:4]) != "RIFF" || int(binary.LittleEndian.Uint32(d[4:]))+8 != len(d) || string(d[8:16]) != "WEBPVP8X" {
			t.Errorf("%s: not a RIFF WEBP starting with VP8X", c.Name)
			continue
		}
		vp8x := d[20:30]
		if vp8x[0] != VP8XAnimation || [2]int{le24(vp8x[4:]) + 1, le24(vp8x[7:]) + 1} != want.canvas {
			t.Errorf("%s: VP8X flags %#x, canvas %dx%d", c.Name, vp8x[0], le24(vp8x[4:])+1, le24(vp8x[7:])+1)
		}
		if string(d[30:34]) != "ANIM" || string(d[44:48]) != "ANMF" {
			t.Errorf("%s: chunks after VP8X are %q and %q", c.Name, d[30:34], d[44:48])
			continue
		}
		n := int(binary.LittleEndian.Uint32(d[48:]))
		frame := d[52:]
		if 52+n+n&1 != len(d) {
			t.Errorf("%s: ANMF of %d bytes does not end the file (%d bytes)", c.Name, n, len(d))
			continue
		}
		frame = frame[:n]
		if le24(frame[0:]) != 0 || le24(frame[3:]) != 0 || [2]int{le24(frame[6:]) + 1, le24(frame[9:]) + 1} != want.frame {
			t.Errorf("%s: frame at (%d,%d) of %dx%d", c.Name, 2*le24(frame[0:]), 2*le24(frame[3:]), le24(frame[6:])+1, le24(frame[9:])+1)
		}
		var inner []string
		for i := 16; i+8 <= len(frame); {
			kind, m := string(frame[i:i+4]), int(binary.LittleEndian.Uint32(frame[i+4:]))
			inner = append(inner, kind)
			if kind == "VP8L" {
				bits := binary.LittleEndian.Uint32(frame[i+9:])
				if got := [2]int{int(bits&0x3FFF) + 1, int(bits>>14&0x3FFF) + 1}; frame[i+8] != 0x2f || got != want.frame {
					t.Errorf("%s: VP8L declares %v, the ANMF %v", c.Name, got, want.frame)
				}
			}
			i += 8 + m + m&1
		}
		if strings.Join(inner, ",") != strings.Join(want.inner, ",") {
			t.Errorf("%s: frame holds %q, want %q", c.Name, inner, want.inner)
		}
	}
	if seen != len(tests) {
		t.Errorf("found %d of the %d animated WebP cases", seen, len(tests))
	}
}

// TestAnimationFrames: the GIF really has 1,000 frames, and the polyglots carry their payload.
func TestAnimationFrames(t *testing.T) {
	cs, err := allCases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		switch c.Name {
		case "animation-gif-1000-frames.gif":
			g, err := gif.DecodeAll(bytes.NewReader(c.Data))
			if err != nil || len(g.Image) != 1000 {
				t.Errorf("gif: %v, %d frames", err, len(g.Image))
			}
		case "polyglot-jpeg-zip.jpg":
			if !bytes.Contains(c.Data, []byte("PK\x03\x04")) {
				t.Error("jpeg/zip polyglot has no zip")
			}
		case "polyglot-png-html.png":
			if !bytes.Contains(c.Data, []byte("<script>")) {
				t.Error("png/html polyglot has no script")
			}
		}
	}
}

// TestSolidWebP: the single-symbol VP8L stream decodes to one colour in Go's reference-style
// bit reader below (a decoder written from the spec, independent of the writer).
func TestSolidWebP(t *testing.T) {
	data := vp8lSolid(3, 2, color.NRGBA{R: 1, G: 2, B: 3, A: 255})
	r := bitReader{b: data}
	if r.get(8) != 0x2f || r.get(14)+1 != 3 || r.get(14)+1 != 2 {
		t.Fatal("bad VP8L header")
	}
	r.get(4) // alpha hint, version
	if r.get(1) != 0 || r.get(1) != 0 || r.get(1) != 0 {
		t.Fatal("transform, cache or meta codes present")
	}
	var syms []uint64
	for range 5 {
		if r.get(1) != 1 || r.get(1) != 0 {
			t.Fatal("not a one-symbol simple code")
		}
		if r.get(1) == 1 {
			syms = append(syms, r.get(8))
		} else {
			syms = append(syms, r.get(1))
		}
	}
	if want := []uint64{2, 1, 3, 255, 0}; !equal(syms, want) {
		t.Errorf("symbols %v, want %v", syms, want)
	}
}

type bitReader struct {
	b   []byte
	pos uint
}

func (r *bitReader) get(n uint) uint64 {
	var v uint64
	for i := range n {
		byteI, bit := (r.pos+i)/8, (r.pos+i)%8
		if int(byteI) < len(r.b) && r.b[byteI]>>bit&1 == 1 {
			v |= 1 << i
		}
	}
	r.pos += n
	return v
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	cs, err := WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		b, err := os.ReadFile(filepath.Join(dir, c.Name))
		if err != nil || !bytes.Equal(b, c.Data) {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
}

// TestWebPChunks: WebPFile and WebPChunks are inverses, odd payloads are padded, and a cut
// file is an error, not a short list.
func TestWebPChunks(t *testing.T) {
	in := []WebPChunk{VP8X(VP8XAnimation|VP8XAlpha, 3, 5), ANIM(), {"ODD ", []byte{1, 2, 3}}, ANMF(2, 4, 1, 1, VP8LSolid(1, 1, color.NRGBA{A: 255}))}
	file := WebPFile(in...)
	if len(file)%2 != 0 {
		t.Errorf("file of %d bytes: a chunk was not padded", len(file))
	}
	out, err := WebPChunks(file)
	if err != nil || len(out) != len(in) {
		t.Fatalf("%d chunks back (%v), want %d", len(out), err, len(in))
	}
	for i := range in {
		if out[i].Kind != in[i].Kind || !bytes.Equal(out[i].Data, in[i].Data) {
			t.Errorf("chunk %d: %q %x, want %q %x", i, out[i].Kind, out[i].Data, in[i].Kind, in[i].Data)
		}
	}
	for _, cut := range []int{len(file) - 1, 20, 11} {
		if _, err := WebPChunks(file[:cut]); err == nil {
			t.Errorf("file cut at %d: no error", cut)
		}
	}
}
