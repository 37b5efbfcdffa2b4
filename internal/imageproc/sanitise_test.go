package imageproc

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/hostile"
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

func TestWebPLayout(t *testing.T) {
	chunk := func(kind string, n int) hostile.WebPChunk {
		return hostile.WebPChunk{Kind: kind, Data: make([]byte, n)}
	}
	vp8, vp8l, alph := chunk("VP8 ", 10), chunk("VP8L", 10), chunk("ALPH", 9)
	vp8x := func(flags byte) hostile.WebPChunk { return hostile.VP8X(flags, 64, 64) }
	anim, still := hostile.VP8XAnimation, byte(0)
	file := hostile.WebPFile
	// A frame whose payload is shorter than the fixed ANMF header.
	short := hostile.WebPChunk{Kind: "ANMF", Data: make([]byte, 10)}
	// A file whose last chunk claims more than there is.
	cut := file(vp8x(still), vp8l)[:30+8+4]
	huge := append(file(vp8x(still)), "VP8L\xff\xff\xff\xff"...)
	tests := []struct {
		name string
		in   []byte
		want webpLayout
		cost decodeCost
	}{
		{"lossy", file(vp8), webpLayout{}, decodeRows},
		{"lossless", file(vp8l), webpLayout{lossless: true}, decodeWhole},
		{"extended lossy", file(vp8x(still), chunk("ICCP", 7), vp8), webpLayout{}, decodeRows},
		{"extended with alpha", file(vp8x(still), alph, vp8), webpLayout{alpha: true}, decodeWhole},
		{"alpha flag alone", file(vp8x(hostile.VP8XAlpha), vp8), webpLayout{alpha: true}, decodeWhole},
		{"extended lossless", file(vp8x(still), vp8l), webpLayout{lossless: true}, decodeWhole},
		{"lossless after a lossy chunk", file(vp8, vp8l), webpLayout{lossless: true}, decodeWhole},
		{"animated lossy", file(vp8x(anim), hostile.ANIM(), hostile.ANMF(0, 0, 64, 64, vp8)), webpLayout{animated: true}, decodeCanvas},
		{"animated, lossless second frame", file(vp8x(anim), hostile.ANIM(), hostile.ANMF(0, 0, 64, 64, vp8), hostile.ANMF(0, 0, 64, 64, vp8l)),
			webpLayout{animated: true, lossless: true}, decodeCanvas},
		{"alpha inside a frame", file(vp8x(anim), hostile.ANIM(), hostile.ANMF(0, 0, 64, 64, alph, vp8)), webpLayout{animated: true, alpha: true}, decodeCanvas},
		{"frames without the animation flag", file(vp8x(still), hostile.ANIM(), hostile.ANMF(0, 0, 64, 64, vp8l)), webpLayout{animated: true, lossless: true}, decodeCanvas},
		{"frame shorter than its header", file(vp8x(still), short), webpLayout{animated: true}, decodeCanvas},
		{"flags inside a frame are not the file's", file(vp8, hostile.WebPChunk{Kind: "ANMF", Data: append(make([]byte, 16), file(vp8x(anim | hostile.VP8XAlpha))[12:]...)}),
			webpLayout{animated: true}, decodeCanvas},
		{"truncated VP8X", file(vp8x(anim))[:20], webpLayout{}, decodeRows},
		{"chunk running past the end", cut, webpLayout{lossless: true}, decodeWhole},
		{"chunk size 2^32-1", huge, webpLayout{lossless: true}, decodeWhole},
		{"empty", nil, webpLayout{}, decodeRows},
	}
	for _, tt := range tests {
		got := readWebPLayout(tt.in)
		if got != tt.want || got.cost() != tt.cost {
			t.Errorf("%s: %+v cost %d, want %+v cost %d", tt.name, got, got.cost(), tt.want, tt.cost)
		}
	}
}

// TestWebPBudgets: a lossless WebP or one with alpha gets a quarter of MaxPixels, an animated
// one an eighth whatever its frames hold, and an animation's size is its canvas's.
func TestWebPBudgets(t *testing.T) {
	const w, h = 200, 150
	lossless := hostile.VP8LSolid(w, h, color.NRGBA{R: 200, G: 90, B: 30, A: 255})
	rgba := make([]byte, w*h*4)
	for i := range rgba {
		rgba[i] = byte(i / 7)
	}
	alpha, err := hostile.WebPImageChunks(rgba, w, h, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	lossy, err := hostile.WebPImageChunks(rgba[:w*h*3], w, h, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	animated := func(canvasW, canvasH int, frame ...hostile.WebPChunk) []byte {
		return hostile.WebPFile(hostile.VP8X(hostile.VP8XAnimation, canvasW, canvasH), hostile.ANIM(), hostile.ANMF(0, 0, w, h, frame...))
	}
	tests := []struct {
		name    string
		src     []byte
		size    [2]int // as the header gives it
		divisor int    // the file's budget is MaxPixels/divisor
	}{
		{"lossy still", hostile.WebPFile(lossy...), [2]int{w, h}, 1},
		{"lossless still", hostile.WebPFile(lossless), [2]int{w, h}, 4},
		{"still with alpha", hostile.WebPFile(append([]hostile.WebPChunk{hostile.VP8X(hostile.VP8XAlpha, w, h)}, alpha...)...), [2]int{w, h}, 4},
		{"animated lossy", animated(w, h, lossy...), [2]int{w, h}, 8},
		{"animated lossless", animated(w, h, lossless), [2]int{w, h}, 8},
		{"alpha inside ANMF", animated(w, h, alpha...), [2]int{w, h}, 8},
		{"lossy frame on a larger canvas", animated(3*w, 2*h, lossy...), [2]int{3 * w, 2 * h}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := tt.size[0] * tt.size[1] * tt.divisor
			src, err := Inspect(context.Background(), tt.src, Options{MaxPixels: budget})
			if err != nil || [2]int{src.Width, src.Height} != tt.size {
				t.Fatalf("inspect: %v, %dx%d", err, src.Width, src.Height)
			}
			_, err = Normalise(context.Background(), tt.src, Options{MaxPixels: budget - 1})
			var e *Error
			if !errors.As(err, &e) || e.Code != ReasonTooManyPixels {
				t.Errorf("under MaxPixels %d: %v; want %s", budget-1, err, ReasonTooManyPixels)
			}
			p, err := Normalise(context.Background(), tt.src, Options{MaxPixels: budget})
			if err != nil || p.Width != min(tt.size[0], tt.size[1]) {
				t.Errorf("at MaxPixels %d: %v, %dx%d", budget, err, p.Width, p.Height)
			}
		})
	}
}

// TestHostileWebP: every WebP of the hostile set gets its outcome here, in process, with the
// default limits (the stress proof repeats them one process each, measuring memory).
func TestHostileWebP(t *testing.T) {
	cases, err := hostile.Cases()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if !strings.HasSuffix(c.Name, ".webp") {
			continue
		}
		n++
		p, err := Normalise(context.Background(), c.Data, Options{})
		var e *Error
		switch {
		case errors.As(err, &e):
			if e.Code.String() != c.Want.Reason {
				t.Errorf("%s: refused %s (%v); want %s", c.Name, e.Code, err, c.Want)
			}
		case err != nil:
			t.Errorf("%s: untyped error %v", c.Name, err)
		case c.Want.Reason != "" || p.Width != c.Want.Side || p.Height != c.Want.Side:
			t.Errorf("%s: photo %dx%d; want %s", c.Name, p.Width, p.Height, c.Want)
		}
	}
	if n < 10 {
		t.Errorf("only %d WebP cases in the hostile set", n)
	}
}

// layoutOracle reads src's layout with hostile.WebPChunks, a strict parser written apart from
// readWebPLayout; ok is false when src (or a frame in it) is not a well-formed chunk list.
func layoutOracle(src []byte) (l webpLayout, ok bool) {
	chunks, err := hostile.WebPChunks(src)
	if err != nil {
		return l, false
	}
	for _, c := range chunks {
		switch c.Kind {
		case "VP8X":
			if len(c.Data) > 0 {
				l.animated = l.animated || c.Data[0]&hostile.VP8XAnimation != 0
				l.alpha = l.alpha || c.Data[0]&hostile.VP8XAlpha != 0
			}
		case "ANMF":
			l.animated = true
			if len(c.Data) <= 16 {
				continue
			}
			inner, err := hostile.WebPChunks(append([]byte("RIFF\x00\x00\x00\x00WEBP"), c.Data[16:]...))
			if err != nil {
				return l, false
			}
			for _, ic := range inner {
				l.lossless = l.lossless || ic.Kind == "VP8L"
				l.alpha = l.alpha || ic.Kind == "ALPH"
			}
		case "VP8L":
			l.lossless = true
		case "ALPH":
			l.alpha = true
		}
	}
	return l, true
}

// FuzzWebPLayout feeds readWebPLayout arbitrary chunk lists after a RIFF WEBP header: it must
// not panic, must agree with the strict oracle on every well-formed list, and may only report
// what the bytes hold.
func FuzzWebPLayout(f *testing.F) {
	vp8 := hostile.WebPChunk{Kind: "VP8 ", Data: make([]byte, 10)}
	for _, src := range [][]byte{
		hostile.WebPFile(vp8),
		hostile.WebPFile(hostile.VP8LSolid(10, 10, color.NRGBA{A: 255})),
		hostile.WebPFile(hostile.VP8X(hostile.VP8XAlpha, 10, 10), hostile.WebPChunk{Kind: "ALPH", Data: []byte{1, 2, 3}}, vp8),
		hostile.WebPFile(hostile.VP8X(hostile.VP8XAnimation, 10, 10), hostile.ANIM(), hostile.ANMF(0, 0, 10, 10, vp8),
			hostile.ANMF(2, 2, 4, 4, hostile.WebPChunk{Kind: "ALPH", Data: []byte{7}}, vp8)),
		hostile.WebPFile(hostile.VP8X(0, 10, 10), hostile.ANMF(0, 0, 10, 10, hostile.VP8LSolid(10, 10, color.NRGBA{A: 255}))),
	} {
		f.Add(src[12:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src := append([]byte("RIFF\x00\x00\x00\x00WEBP"), b...)
		got := readWebPLayout(src)
		if want, ok := layoutOracle(src); ok && got != want {
			t.Fatalf("layout %+v, the oracle reads %+v", got, want)
		}
		if got.lossless && !bytes.Contains(b, []byte("VP8L")) ||
			got.alpha && !bytes.Contains(b, []byte("ALPH")) && !bytes.Contains(b, []byte("VP8X")) ||
			got.animated && !bytes.Contains(b, []byte("ANMF")) && !bytes.Contains(b, []byte("VP8X")) {
			t.Fatalf("layout %+v is not in the bytes", got)
		}
		if got.cost() < decodeRows || got.cost() > decodeCanvas || (got.animated && got.cost() != decodeCanvas) {
			t.Fatalf("layout %+v costs %d", got, got.cost())
		}
	})
}
