package devstack

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/imageproc"
)

// TestSamples: each sample does in the normaliser what the demo table promises.
func TestSamples(t *testing.T) {
	samples, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			p, err := imageproc.Normalise(context.Background(), s.Data, imageproc.Options{})
			if reason, ok := strings.CutPrefix(s.Expect, "rejected: "); ok {
				var e *imageproc.Error
				if !errors.As(err, &e) || e.Code.String() != reason {
					t.Fatalf("err = %v, want %s", err, reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Width != min(648, p.SourceWidth, p.SourceHeight) || p.Width != p.Height {
				t.Errorf("%dx%d from %dx%d", p.Width, p.Height, p.SourceWidth, p.SourceHeight)
			}
			switch s.Name {
			case "portrait-exif6.jpg":
				// Upright after orientation: 1200 wide, 1600 tall.
				if p.SourceWidth != 1200 || p.SourceHeight != 1600 {
					t.Errorf("upright source %dx%d, want 1200x1600", p.SourceWidth, p.SourceHeight)
				}
			case "print-cmyk.jpg":
				if n := jpegComponents(s.Data); n != 4 {
					t.Errorf("%d colour components, want 4 (CMYK)", n)
				}
			}
		})
	}
}

// jpegComponents reads the component count of a JPEG's baseline frame header (SOF0).
func jpegComponents(b []byte) int {
	for i := 2; i+9 < len(b); {
		if b[i] != 0xFF {
			return 0
		}
		m, n := b[i+1], int(b[i+2])<<8|int(b[i+3])
		if m == 0xC0 {
			return int(b[i+9])
		}
		i += 2 + n
	}
	return 0
}
