package imageproc

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/reason"
)

func TestNormaliseSynthetic(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		src        []byte
		opts       Options
		wantReason reason.Reason
		wantW      int
		wantH      int
	}{
		{"landscape png to default square", synthPNG(t, 1200, 800, false), Options{}, reason.Reason{}, 648, 648},
		{"portrait jpeg to square", synthJPEG(t, 900, 1600, false), Options{}, reason.Reason{}, 648, 648},
		{"small square stays its size", synthPNG(t, 200, 200, false), Options{}, reason.Reason{}, 200, 200},
		{"small oblong crops to its short side", synthJPEG(t, 300, 120, false), Options{}, reason.Reason{}, 120, 120},
		{"fit inside with crop none", synthPNG(t, 1200, 800, false), Options{Crop: CropNone}, reason.Reason{}, 648, 432},
		{"fit inside never upscales", synthPNG(t, 300, 100, false), Options{Crop: CropNone}, reason.Reason{}, 300, 100},
		{"centre crop", synthJPEG(t, 1000, 700, false), Options{Crop: CropCentre, Size: 240}, reason.Reason{}, 240, 240},
		{"exactly 48 px accepted", synthPNG(t, 48, 48, false), Options{}, reason.Reason{}, 48, 48},
		{"47 px refused", synthPNG(t, 47, 200, false), Options{}, ReasonTooSmall, 0, 0},
		{"1x1 refused", synthPNG(t, 1, 1, false), Options{}, ReasonTooSmall, 0, 0},
		{"one pixel wide strip refused", synthPNG(t, 1, 3000, false), Options{}, ReasonTooSmall, 0, 0},
		{"over the pixel limit", synthJPEG(t, 400, 300, false), Options{MaxPixels: 100_000}, ReasonTooManyPixels, 0, 0},
		{"png gets half the limit", synthPNG(t, 400, 300, false), Options{MaxPixels: 200_000}, ReasonTooManyPixels, 0, 0},
		{"baseline jpeg gets the whole limit", synthJPEG(t, 400, 300, false), Options{MaxPixels: 120_000}, reason.Reason{}, 300, 300},
		{"garbage after a jpeg signature", append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{0x42}, 500)...), Options{}, ReasonCorruptImage, 0, 0},
		{"truncated png", synthPNG(t, 300, 300, false)[:200], Options{}, ReasonCorruptImage, 0, 0},
		{"truncated jpeg", synthJPEG(t, 600, 600, false)[:3000], Options{}, ReasonCorruptImage, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Normalise(ctx, tt.src, tt.opts)
			if !tt.wantReason.IsZero() {
				var e *Error
				if !errors.As(err, &e) || e.Code != tt.wantReason {
					t.Fatalf("err = %v, want reason %s", err, tt.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Width != tt.wantW || p.Height != tt.wantH {
				t.Errorf("got %dx%d, want %dx%d", p.Width, p.Height, tt.wantW, tt.wantH)
			}
			img := checkCleanBaselineJPEG(t, p.JPEG)
			if s := img.Bounds().Size(); s.X != p.Width || s.Y != p.Height {
				t.Errorf("JPEG is %v, Photo says %dx%d", s, p.Width, p.Height)
			}
			if p.Bytes != len(p.JPEG) || p.Quality != Options(tt.opts).WithDefaults().Quality {
				t.Errorf("bytes %d (len %d), quality %d", p.Bytes, len(p.JPEG), p.Quality)
			}
		})
	}
}

func TestAlphaFlattenedOnWhite(t *testing.T) {
	// A mid-grey square on fully transparent black, resized 800 → 648 so edges blend. Without
	// premultiplication the transparent pixels' black bleeds into the edge (darker than the
	// grey); without flattening on white the transparent field comes out black.
	src := synthAlphaSquare(t, 800, 128)
	p, err := Normalise(context.Background(), src, Options{Crop: CropCentre})
	if err != nil {
		t.Fatal(err)
	}
	img := checkCleanBaselineJPEG(t, p.JPEG)
	for _, pt := range [][2]int{{2, 2}, {p.Width - 3, 2}, {2, p.Height - 3}, {p.Width - 3, p.Height - 3}} {
		r, g, b, _ := img.At(pt[0], pt[1]).RGBA()
		if r>>8 < 250 || g>>8 < 250 || b>>8 < 250 {
			t.Errorf("transparent corner %v is %d,%d,%d; want white", pt, r>>8, g>>8, b>>8)
		}
	}
	darkest := 255
	for y := 0; y < p.Height; y++ {
		for x := 0; x < p.Width; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			darkest = min(darkest, int(r>>8))
		}
	}
	// JPEG ringing moves a sharp edge by a few levels; a black fringe moves it by dozens.
	if darkest < 128-10 {
		t.Errorf("darkest pixel %d: transparent black bled into the grey square", darkest)
	}
}

func TestDeterministic(t *testing.T) {
	src := synthJPEG(t, 1500, 1000, true)
	a, err := Normalise(context.Background(), src, Options{MaxBytes: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, err := Normalise(context.Background(), src, Options{MaxBytes: 50_000})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.JPEG, b.JPEG) {
			t.Fatal("same input and options gave different bytes")
		}
	}
}

func TestBudget(t *testing.T) {
	// Noise is the worst case for JPEG: at 648² and Q85 it takes ~260 KB.
	src := synthJPEG(t, 1000, 1000, true)
	tests := []struct {
		budget      int
		wantShrunk  bool
		wantQLowerd bool
	}{
		{4_000_000, false, false},
		{200_000, false, true},
		{100_000, false, true},
		{20_000, true, true},
		{MinMaxBytes, true, true},
	}
	for _, tt := range tests {
		p, err := Normalise(context.Background(), src, Options{MaxBytes: tt.budget})
		if err != nil {
			t.Fatalf("budget %d: %v", tt.budget, err)
		}
		checkCleanBaselineJPEG(t, p.JPEG)
		if p.Bytes > tt.budget {
			t.Errorf("budget %d: %d bytes", tt.budget, p.Bytes)
		}
		if shrunk := p.Width < 648; shrunk != tt.wantShrunk {
			t.Errorf("budget %d: %dx%d, shrunk=%v want %v", tt.budget, p.Width, p.Height, shrunk, tt.wantShrunk)
		}
		if lowered := p.Quality < DefaultQuality; lowered != tt.wantQLowerd {
			t.Errorf("budget %d: quality %d", tt.budget, p.Quality)
		}
		if p.Width != p.Height {
			t.Errorf("budget %d: %dx%d is not square", tt.budget, p.Width, p.Height)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{Size: -1}, {Size: 20000}, {Quality: 101}, {Quality: -5}, {MaxBytes: 9_999},
		{MaxPixels: -1}, {MinSide: 700}, {Crop: Crop(9)},
	}
	for _, o := range bad {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
		if _, err := Normalise(context.Background(), synthPNG(t, 64, 64, false), o); err == nil {
			t.Errorf("Normalise accepted %+v", o)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
	// Each refusal names its field, so that configuration can name its variable; all are told.
	for o, fields := range map[Options][]string{
		{Quality: 101}: {"Quality"}, {Size: 20000}: {"Size"}, {MaxBytes: 9_999}: {"MaxBytes"}, {MaxPixels: -1}: {"MaxPixels"},
		{Crop: Crop(9)}: {"Crop"}, {MinSide: 700}: {"MinSide"}, {Quality: 0x55 * 2, MaxBytes: 1}: {"Quality", "MaxBytes"},
	} {
		var got []string
		for _, err := range o.Validate().(interface{ Unwrap() []error }).Unwrap() {
			var oe *OptionError
			if errors.As(err, &oe) {
				got = append(got, oe.Field)
			}
		}
		if strings.Join(got, ",") != strings.Join(fields, ",") {
			t.Errorf("%+v: fields %v, want %v", o, got, fields)
		}
	}
	for _, s := range []string{"attention", "centre", "center", "none", ""} {
		if _, err := ParseCrop(s); err != nil {
			t.Errorf("ParseCrop(%q): %v", s, err)
		}
	}
	if _, err := ParseCrop("entropy"); err == nil {
		t.Error("ParseCrop accepted entropy")
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Normalise(ctx, synthPNG(t, 100, 100, false), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := Normalise(ctx, synthPNG(t, 100, 100, false), Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

// TestNoLibvipsLeak: every image libvips allocates for a photo is released when Normalise
// returns, on success and on refusal. libvips' worker threads keep a few region buffers of their
// own between calls, so the check is that repeating the work does not add to what is held: one
// leaked output image would add at least 1 MB per call here.
func TestNoLibvipsLeak(t *testing.T) {
	inputs := [][]byte{
		synthPNG(t, 900, 600, false), synthAlphaSquare(t, 300, 90), synthJPEG(t, 800, 800, true),
		synthJPEG(t, 600, 600, false)[:3000], synthPNG(t, 20, 20, false),
	}
	pass := func() {
		for _, src := range inputs {
			Normalise(context.Background(), src, Options{MaxBytes: 20_000})
		}
	}
	pass()
	before, _ := trackedMemory()
	for range 5 {
		pass()
	}
	if after, _ := trackedMemory(); after-before > 512<<10 {
		t.Errorf("libvips holds %d bytes more after five more passes", after-before)
	}
}
