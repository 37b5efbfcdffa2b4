package imageproc

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"testing"

	"github.com/graphphoto/graphphoto/internal/imagetest"
)

// readManifest is every test image (internal/imagetest): the rows of the image folder's
// manifest, then the generated files.
func readManifest(t testing.TB) []imagetest.File {
	t.Helper()
	_, files := imagetest.Corpus(t)
	return files
}

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	return imagetest.Read(t, name)
}

// jpegSegments lists the marker segments of a JPEG up to the start of scan.
func jpegSegments(b []byte) ([]jpegSegment, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, fmt.Errorf("no SOI")
	}
	var segs []jpegSegment
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return nil, fmt.Errorf("marker expected at %d", i)
		}
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2 : i+4]))
		if i+2+n > len(b) {
			return nil, fmt.Errorf("segment %x overruns", m)
		}
		segs = append(segs, jpegSegment{Marker: m, Data: b[i+4 : i+2+n]})
		if m == 0xDA {
			return segs, nil
		}
		i += 2 + n
	}
	return nil, fmt.Errorf("no SOS")
}

type jpegSegment struct {
	Marker byte
	Data   []byte
}

// checkCleanBaselineJPEG asserts what Graph and privacy need of every output: a baseline JPEG
// with only a JFIF APP0 segment (no EXIF/GPS, XMP, ICC, IPTC, comments).
func checkCleanBaselineJPEG(t testing.TB, data []byte) image.Image {
	t.Helper()
	segs, err := jpegSegments(data)
	if err != nil {
		t.Fatalf("output is not a well-formed JPEG: %v", err)
	}
	for _, s := range segs {
		switch {
		case s.Marker == 0xE0 && bytes.HasPrefix(s.Data, []byte("JFIF\x00")):
		case s.Marker >= 0xE0 && s.Marker <= 0xEF:
			t.Errorf("metadata segment APP%d left in output (%q...)", s.Marker-0xE0, s.Data[:min(len(s.Data), 12)])
		case s.Marker == 0xFE:
			t.Errorf("comment segment left in output")
		case s.Marker == 0xC2 || s.Marker == 0xC6 || s.Marker == 0xCA || s.Marker == 0xCE:
			t.Errorf("progressive frame SOF%x; want baseline", s.Marker-0xC0)
		}
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	return img
}

// meanAbsDiff compares two images of the same size, in 8-bit RGB levels.
func meanAbsDiff(t testing.TB, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v vs %v", a.Bounds().Size(), b.Bounds().Size())
	}
	var sum float64
	var n int
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			sum += math.Abs(float64(r1>>8)-float64(r2>>8)) + math.Abs(float64(g1>>8)-float64(g2>>8)) + math.Abs(float64(b1>>8)-float64(b2>>8))
			n += 3
		}
	}
	return sum / float64(n)
}

// synthPNG draws a w×h RGBA test card: a colour gradient, or with transparent set, a fully
// transparent (black) field around an opaque red square.
func synthPNG(t testing.TB, w, h int, transparent bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), 128, 255}
			if transparent {
				c = color.NRGBA{0, 0, 0, 0}
				if x > w/4 && x < 3*w/4 && y > h/4 && y < 3*h/4 {
					c = color.NRGBA{220, 20, 20, 255}
				}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// synthJPEG encodes a w×h gradient, with noise when noisy (hard to compress).
func synthJPEG(t testing.TB, w, h int, noisy bool) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	seed := uint32(2463534242)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), 100, 255}
			if noisy {
				seed ^= seed << 13
				seed ^= seed >> 17
				seed ^= seed << 5
				c = color.RGBA{uint8(seed), uint8(seed >> 8), uint8(seed >> 16), 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// synthAlphaSquare is a size×size PNG: fully transparent black with an opaque grey square in
// the middle half.
func synthAlphaSquare(t testing.TB, size int, grey uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if x >= size/4 && x < 3*size/4 && y >= size/4 && y < 3*size/4 {
				img.SetNRGBA(x, y, color.NRGBA{grey, grey, grey, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// inspect runs the pipeline's first step alone: sniff, read the header, apply the limits, as
// Normalise would refuse before decoding a pixel.
func inspect(ctx context.Context, src []byte, opts Options) (Source, error) {
	release, err := acquire(ctx)
	if err != nil {
		return Source{}, err
	}
	defer release()
	j := &job{src: src, opts: opts.WithDefaults()}
	err = j.inspect()
	return j.source, err
}
