package imageproc

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/imagetest"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// expectation derives what Normalise must do with a corpus file from the manifest's facts
// (dimensions, what the file is), not from a list of known answers.
func expectation(e imagetest.File) (why reason.Reason, side int) {
	switch {
	case strings.HasPrefix(e.Name, "bomb_"):
		return ReasonTooManyPixels, 0
	case strings.Contains(e.Name, "corrupt") || strings.Contains(e.Name, "truncated"):
		return ReasonCorruptImage, 0
	case e.Width == 0 || e.Height == 0:
		return ReasonCorruptImage, 0
	case min(e.Width, e.Height) < DefaultMinSide:
		return ReasonTooSmall, 0
	}
	return reason.Reason{}, min(DefaultSize, e.Width, e.Height)
}

func TestCorpus(t *testing.T) {
	entries := readManifest(t)
	budgets := []int{DefaultMaxBytes, 100_000, 20_000}
	if testing.Short() {
		budgets = budgets[:1]
	}
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			src := readCorpus(t, e.Name)
			wantReason, side := expectation(e)
			for _, budget := range budgets {
				p, err := Normalise(context.Background(), src, Options{MaxBytes: budget})
				if !wantReason.IsZero() {
					var refused *Error
					if !errors.As(err, &refused) || refused.Code != wantReason {
						t.Fatalf("err = %v, want %s", err, wantReason)
					}
					return
				}
				if err != nil {
					t.Fatalf("budget %d: %v", budget, err)
				}
				if p.Bytes > budget {
					t.Errorf("budget %d: %d bytes", budget, p.Bytes)
				}
				if budget == DefaultMaxBytes && (p.Width != side || p.Height != side || p.Quality != DefaultQuality) {
					t.Errorf("got %dx%d q%d, want %dx%d q%d", p.Width, p.Height, p.Quality, side, side, DefaultQuality)
				}
				if p.Width != p.Height {
					t.Errorf("budget %d: %dx%d is not square", budget, p.Width, p.Height)
				}
				heif := p.SourceFormat == FormatHEIC || p.SourceFormat == FormatAVIF
				if p.SourceFormat.String() != e.Format && !(e.Format == "heif" && heif) {
					t.Errorf("source format %v, manifest says %s", p.SourceFormat, e.Format)
				}
				checkCleanBaselineJPEG(t, p.JPEG)
			}
		})
	}
}

// TestOrientations: the eight EXIF orientations of each set must come out as the same upright
// image as the one without an Orientation tag.
func TestOrientations(t *testing.T) {
	sets := []struct {
		reference string
		pattern   string
	}{
		{"landscape_o0.jpg", "jpeg_exif_o%d.jpg"},
		{"portrait_o0.jpg", "portrait_o%d.jpg"},
	}
	for _, crop := range []Crop{CropCentre, CropAttention} {
		for _, set := range sets {
			ref := decodeNormalised(t, set.reference, Options{Crop: crop})
			for o := 1; o <= 8; o++ {
				name := strings.Replace(set.pattern, "%d", string(rune('0'+o)), 1)
				t.Run(crop.String()+"/"+name, func(t *testing.T) {
					got := decodeNormalised(t, name, Options{Crop: crop})
					// The sets are the same photo re-encoded per orientation; a wrong rotation
					// or flip, or a crop window in the wrong place, moves almost every pixel.
					if d := meanAbsDiff(t, ref, got); d > 6 {
						t.Errorf("%.1f levels from the upright reference", d)
					}
				})
			}
		}
	}
	// A control: the mirror image must be far outside the tolerance, or the comparison above
	// could not catch a missing flip.
	ref := decodeNormalised(t, "landscape_o0.jpg", Options{Crop: CropCentre})
	if d := meanAbsDiff(t, ref, flipH(ref)); d < 15 {
		t.Fatalf("a mirrored image is only %.1f levels away: the tolerance is too loose", d)
	}
}

func decodeNormalised(t *testing.T, name string, opts Options) image.Image {
	t.Helper()
	p, err := Normalise(context.Background(), readCorpus(t, name), opts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	img, err := jpeg.Decode(bytes.NewReader(p.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func flipH(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(b.Max.X-1-(x-b.Min.X), y, img.At(x, y))
		}
	}
	return out
}

// TestBombsRefusedCheaply: pixel bombs are refused from the header, before libvips allocates
// pixel memory. Each file is normalised in a fresh process, and its peak RSS is compared with a
// fresh process normalising a small valid image (the cost of libvips itself).
func TestBombsRefusedCheaply(t *testing.T) {
	if name := os.Getenv("IMAGEPROC_CHILD_FILE"); name != "" {
		_, err := Normalise(context.Background(), readCorpus(t, name), Options{})
		t.Logf("refused: %v", err)
		reportPeak(t)
		return
	}
	peak := func(name string) int64 {
		return childPeakRSS(t, "TestBombsRefusedCheaply", "IMAGEPROC_CHILD_FILE="+name)
	}
	base := peak("landscape_o0.jpg")
	for _, name := range []string{"bomb_jpeg_20000x14000.jpg", "bomb_png_65536x65536.png"} {
		src := readCorpus(t, name)
		_, err := Normalise(context.Background(), src, Options{})
		var refused *Error
		if !errors.As(err, &refused) || refused.Code != ReasonTooManyPixels {
			t.Fatalf("%s: err = %v, want too_many_pixels", name, err)
		}
		got := peak(name)
		t.Logf("%s: peak RSS %d MB, small valid image %d MB", name, got>>20, base>>20)
		if got > base+16<<20 {
			t.Errorf("%s: peak RSS %d MB, %d MB over a small valid image", name, got>>20, (got-base)>>20)
		}
	}
}
