package imageproc

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"image/png"
	"testing"

	"github.com/graphphoto/graphphoto/internal/hostile"
	"github.com/graphphoto/graphphoto/internal/imagetest"
)

// withChunks inserts chunks after a PNG's IHDR.
func withChunks(t *testing.T, src []byte, chunks map[string][]byte, order ...string) []byte {
	t.Helper()
	ihdrEnd := 8 + 12 + 13
	var b bytes.Buffer
	b.Write(src[:ihdrEnd])
	for _, k := range order {
		hostile.PNGChunk(&b, k[:4], chunks[k])
	}
	b.Write(src[ihdrEnd:])
	return b.Bytes()
}

func TestDropPNGText(t *testing.T) {
	base := synthPNG(t, 64, 64, false)
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(make([]byte, 8<<20)) // 8 MiB of zeros: about 8 KB compressed
	w.Close()
	withText := withChunks(t, base, map[string][]byte{
		"tEXt":  []byte("Comment\x00hello"),
		"zTXt":  append([]byte("Bomb\x00\x00"), z.Bytes()...),
		"iTXt1": []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x/>"),
	}, "tEXt", "zTXt", "iTXt1")
	out := dropPNGText(withText)
	if !bytes.Equal(out, base) {
		t.Fatalf("text chunks not removed exactly: %d bytes, want %d", len(out), len(base))
	}
	if _, err := png.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("result is not a valid PNG: %v", err)
	}
	if got := dropPNGText(base); &got[0] != &base[0] {
		t.Error("a PNG without text chunks should be returned as is")
	}
	broken := append([]byte{}, withText[:40]...)
	binary.BigEndian.PutUint32(broken[33:], 0xFFFFFFF0) // absurd length
	if got := dropPNGText(broken); !bytes.Equal(got, broken) {
		t.Error("a broken chunk list must be left for libvips to refuse")
	}
	// Through Normalise: the text bomb becomes an ordinary small photo.
	p, err := Normalise(context.Background(), withText, Options{})
	if err != nil || p.Width != 64 {
		t.Fatalf("normalise: %v %+v", err, p)
	}
}

func TestWebPNeedsFullDecode(t *testing.T) {
	riff := func(chunks ...string) []byte {
		b := []byte("RIFF\x00\x00\x00\x00WEBP")
		for _, c := range chunks {
			b = append(b, c[:4]...)
			b = binary.LittleEndian.AppendUint32(b, 10)
			b = append(b, make([]byte, 10)...)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"lossy", riff("VP8 "), false},
		{"lossless", riff("VP8L"), true},
		{"extended lossy", riff("VP8X", "ICCP", "VP8 "), false},
		{"extended with alpha", riff("VP8X", "ALPH", "VP8 "), true},
		{"extended lossless", riff("VP8X", "VP8L"), true},
		{"truncated", riff("VP8X")[:20], false},
	}
	for _, tt := range tests {
		if got := webpNeedsFullDecode(tt.in); got != tt.want {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
	// A WebP with alpha decodes whole, so it is refused at a quarter of the limit.
	const name = "webp_alpha_vignette.webp"
	f := imagetest.Lookup(t, name)
	px := f.Width * f.Height
	_, err := Normalise(context.Background(), readCorpus(t, name), Options{MaxPixels: 4*px - 1})
	var e *Error
	if !errors.As(err, &e) || e.Code != ReasonTooManyPixels {
		t.Errorf("WebP with alpha at %d px: %v", px, err)
	}
}
