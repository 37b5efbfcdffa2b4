package imageproctest

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"testing"
)

func gradient(w, h, bands int) []byte {
	pix := make([]byte, w*h*bands)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for b := 0; b < bands; b++ {
				pix[(y*w+x)*bands+b] = byte((x*255/w + y*64/h + b*40) % 256)
			}
		}
	}
	return pix
}

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      Pixels
		suffix string
		magic  []byte
		bands  int
	}{
		{"rgb jpeg", Pixels{Pix: gradient(120, 80, 3), W: 120, H: 80, Bands: 3}, ".jpg[Q=90,strip]", []byte{0xFF, 0xD8, 0xFF}, 3},
		{"progressive jpeg", Pixels{Pix: gradient(120, 80, 3), W: 120, H: 80, Bands: 3}, ".jpg[Q=80,interlace,strip]", []byte{0xFF, 0xD8, 0xFF}, 3},
		{"cmyk jpeg", Pixels{Pix: gradient(64, 48, 4), W: 64, H: 48, Bands: 4, CMYK: true}, ".jpg[Q=90]", []byte{0xFF, 0xD8, 0xFF}, 4},
		{"webp with alpha", Pixels{Pix: gradient(64, 48, 4), W: 64, H: 48, Bands: 4}, ".webp[Q=75]", []byte("RIFF"), 4},
		{"lossless webp", Pixels{Pix: gradient(64, 48, 3), W: 64, H: 48, Bands: 3}, ".webp[lossless,strip]", []byte("RIFF"), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.p, tc.suffix)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, tc.magic) {
				t.Fatalf("starts %x, want %x", b[:4], tc.magic)
			}
			r, err := RawDevice(b)
			if err != nil || r.W != tc.p.W || r.H != tc.p.H || r.Bands != tc.bands {
				t.Errorf("decoded %dx%dx%d (%v), want %dx%dx%d", r.W, r.H, r.Bands, err, tc.p.W, tc.p.H, tc.bands)
			}
		})
	}
	progressive, _ := Encode(Pixels{Pix: gradient(120, 80, 3), W: 120, H: 80, Bands: 3}, ".jpg[Q=80,interlace]")
	if !bytes.Contains(progressive, []byte{0xFF, 0xC2}) {
		t.Error("interlace did not make a progressive JPEG (no SOF2)")
	}
	for _, bad := range []Pixels{{Pix: make([]byte, 10), W: 4, H: 4, Bands: 3}, {Pix: make([]byte, 48), W: 4, H: 4, Bands: 3, CMYK: true}, {W: 0, H: 4, Bands: 3}} {
		if _, err := Encode(bad, ".jpg"); err == nil {
			t.Errorf("%dx%dx%d from %d bytes accepted", bad.W, bad.H, bad.Bands, len(bad.Pix))
		}
	}
	if _, err := Encode(Pixels{Pix: gradient(8, 8, 3), W: 8, H: 8, Bands: 3}, ".nosuchformat"); err == nil {
		t.Error("an unknown suffix was accepted")
	}
}

func TestRenderingsAndReference(t *testing.T) {
	src, err := Encode(Pixels{Pix: gradient(300, 200, 3), W: 300, H: 200, Bands: 3}, ".jpg[Q=95]")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := RawDevice(src)
	if err != nil || raw.W != 300 || raw.H != 200 || raw.Bands != 3 || len(raw.Pix) != 300*200*3 {
		t.Fatalf("raw %dx%dx%d %d, %v", raw.W, raw.H, raw.Bands, len(raw.Pix), err)
	}
	ref, err := ReferenceRender(src, "srgb", true)
	if err != nil || ref.W != 300 || ref.H != 200 {
		t.Fatalf("reference %dx%d, %v", ref.W, ref.H, err)
	}
	// An sRGB file rendered to sRGB keeps its values (within rounding).
	var diff float64
	for i := range raw.Pix {
		diff += math.Abs(raw.Pix[i] - ref.Pix[i])
	}
	if mean := diff / float64(len(raw.Pix)); mean > 2 {
		t.Errorf("sRGB rendered to sRGB moved by %.2f on average", mean)
	}
	stored, err := BandMeans(src, false)
	rendered, err2 := BandMeans(src, true)
	if err != nil || err2 != nil || math.Abs(stored[0]-rendered[0]) > 2 || stored[0] < 10 {
		t.Errorf("band means %v %v (%v %v)", stored, rendered, err, err2)
	}
	thumb, err := Thumbnail(src, 100, "centre", 85)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(thumb))
	if err != nil || img.Bounds() != image.Rect(0, 0, 100, 100) {
		t.Errorf("thumbnail %v, %v", img.Bounds(), err)
	}
	if _, err := Thumbnail(src, 100, "entropy", 85); err == nil {
		t.Error("crop entropy accepted")
	}
	if _, err := RawDevice(nil); err == nil {
		t.Error("an empty file decoded")
	}
	if _, err := ReferenceRender([]byte("not an image"), "srgb", true); err == nil {
		t.Error("text rendered")
	}
	big, err := SynthJPEG(2000, 1500, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(big))
	if err != nil || cfg.Width != 2000 || cfg.Height != 1500 || !bytes.Contains(big, []byte{0xFF, 0xC2}) {
		t.Errorf("synthetic JPEG %dx%d, %v", cfg.Width, cfg.Height, err)
	}
	if cur, high := TrackedMemory(); cur < 0 || high <= 0 {
		t.Errorf("tracked memory %d, high-water %d", cur, high)
	}
}
