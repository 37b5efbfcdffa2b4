package imageproc

import (
	"context"
	"errors"
	"image/color"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/hostile"
)

func TestSniff(t *testing.T) {
	ftyp := func(major string, compat ...string) []byte {
		b := []byte{0, 0, 0, byte(16 + 4*len(compat)), 'f', 't', 'y', 'p'}
		b = append(b, major...)
		b = append(b, 0, 0, 0, 0)
		for _, c := range compat {
			b = append(b, c...)
		}
		return append(b, make([]byte, 16)...)
	}
	tests := []struct {
		name string
		in   []byte
		want Format
	}{
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0}, FormatJPEG},
		{"png", []byte("\x89PNG\r\n\x1a\n...."), FormatPNG},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), FormatWebP},
		{"gif87", []byte("GIF87a...."), FormatGIF},
		{"gif89", []byte("GIF89a...."), FormatGIF},
		{"tiff le", []byte("II*\x00...."), FormatTIFF},
		{"tiff be", []byte("MM\x00*...."), FormatTIFF},
		{"heic", ftyp("heic", "mif1", "heic"), FormatHEIC},
		{"heix (10-bit HEIC, missing from bimg)", ftyp("heix", "mif1"), FormatHEIC},
		{"mif1 generic", ftyp("mif1", "heic"), FormatHEIC},
		{"mif1 listing avif", ftyp("mif1", "miaf", "avif"), FormatAVIF},
		{"avif", ftyp("avif", "mif1"), FormatAVIF},
		{"mp4 is not an image", ftyp("isom", "mp41"), FormatUnknown},
		{"ftyp size past the data", []byte("\x00\x00\x10\x00ftypheic\x00\x00\x00\x00heic"), FormatUnknown},
		{"empty", nil, FormatUnknown},
		{"two bytes of jpeg", []byte{0xFF, 0xD8}, FormatUnknown},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), FormatUnknown},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3"), FormatUnknown},
		{"postscript", []byte("%!PS-Adobe-3.0 EPSF-3.0"), FormatUnknown},
		{"bmp", []byte("BM\x00\x00\x00\x00\x00\x00"), FormatUnknown},
		{"html", []byte("<!doctype html><img src=x>"), FormatUnknown},
		{"vips native", []byte("\x08\xf2\xa6\xb6...."), FormatUnknown},
		{"matrix text", []byte("2 2\n1 2\n3 4\n"), FormatUnknown},
		{"zip", []byte("PK\x03\x04...."), FormatUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff(tt.in); got != tt.want {
				t.Errorf("Sniff = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRefusedBeforeLibvips checks that what the allow-list refuses never reaches a libvips
// loader: the error is unsupported_format, and the message says what the bytes looked like.
func TestRefusedBeforeLibvips(t *testing.T) {
	tests := []struct {
		name, in, says string
	}{
		{"svg with script and external entity", `<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">&x;<script>1</script></svg>`, "SVG"},
		{"pdf", "%PDF-1.4\n1 0 obj<<>>endobj", "PDF"},
		{"postscript", "%!PS-Adobe-3.0\n/x 1 def", "PostScript"},
		{"empty", "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalise(context.Background(), []byte(tt.in), Options{})
			var e *Error
			if !errors.As(err, &e) || e.Code != ReasonUnsupportedFormat {
				t.Fatalf("err = %v, want unsupported_format", err)
			}
			if !strings.Contains(strings.ToLower(e.Error()), strings.ToLower(tt.says)) {
				t.Errorf("message %q does not say %q", e.Error(), tt.says)
			}
			if e.Transient() {
				t.Error("a refused format must be permanent")
			}
		})
	}
}

// FuzzSniff drives the sniffer and the header path with arbitrary bytes: nothing may panic or
// crash libvips, every refusal is a typed *Error, and what passes Inspect respects the limits.
func FuzzSniff(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0})
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x00\x00\x00\x01\x00\x00\x08\x02\x00\x00\x00"))
	f.Add([]byte("GIF89a\x10\x00\x10\x00\x00\x00\x00"))
	f.Add([]byte("RIFF\x1a\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00"))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Add([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"))
	f.Add(synthPNG(f, 64, 64, false))
	f.Add(synthJPEG(f, 64, 64, false))
	f.Add(hostile.WebPFile(hostile.VP8X(hostile.VP8XAnimation, 64, 64), hostile.ANIM(),
		hostile.ANMF(0, 0, 64, 48, hostile.VP8LSolid(64, 48, color.NRGBA{R: 9, A: 255}))))
	opts := Options{}.WithDefaults()
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := inspect(context.Background(), b, opts)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if src.Format == FormatUnknown || Sniff(b) != src.Format {
			t.Fatalf("accepted format %v for bytes sniffed as %v", src.Format, Sniff(b))
		}
		if int64(src.Width)*int64(src.Height) > int64(opts.MaxPixels) || min(src.Width, src.Height) < opts.MinSide {
			t.Fatalf("accepted %dx%d outside the limits", src.Width, src.Height)
		}
		if src.Format == FormatWebP && src.Width*src.Height > opts.pixelLimit(FormatWebP, readWebPLayout(b).cost()) {
			t.Fatalf("accepted a %dx%d %s over its budget", src.Width, src.Height, readWebPLayout(b))
		}
	})
}
