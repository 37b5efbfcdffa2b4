package imageproc

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"math"
	"testing"

	"github.com/graphphoto/graphphoto/internal/imageproc/imageproctest"
)

// The colour tests check the pipeline against renderings it does not share code with: for RGB
// working spaces, the published primaries and transfer curves evaluated here in Go; for CMYK
// (lookup-table profiles), libvips' icc_transform on the full-size image with the embedded
// profile. Each also has a negative control, so a test passes only when the profile was used.

type mat3 [3][3]float64

func (m mat3) mul(v [3]float64) [3]float64 {
	return [3]float64{
		m[0][0]*v[0] + m[0][1]*v[1] + m[0][2]*v[2],
		m[1][0]*v[0] + m[1][1]*v[1] + m[1][2]*v[2],
		m[2][0]*v[0] + m[2][1]*v[1] + m[2][2]*v[2],
	}
}

var (
	// XYZ (D65) to linear sRGB, IEC 61966-2-1.
	xyzToSRGB = mat3{{3.2404542, -1.5371385, -0.4985314}, {-0.9692660, 1.8760108, 0.0415560}, {0.0556434, -0.2040259, 1.0572252}}
	// Adobe RGB (1998) to XYZ (D65), Adobe RGB (1998) Color Image Encoding §4.3.4.
	adobeToXYZ = mat3{{0.5767309, 0.1855540, 0.1881852}, {0.2973769, 0.6273491, 0.0752741}, {0.0270343, 0.0706872, 0.9911085}}
	// ProPhoto (ROMM) RGB to XYZ (D50), ISO 22028-2, then Bradford D50 → D65.
	prophotoToXYZ50  = mat3{{0.7976749, 0.1351917, 0.0313534}, {0.2880402, 0.7118741, 0.0000857}, {0, 0, 0.8252100}}
	bradfordD50toD65 = mat3{{0.9555766, -0.0230393, 0.0631636}, {-0.0282895, 1.0099416, 0.0210077}, {0.0122982, -0.0204830, 1.3299098}}
)

func srgbEncode(v float64) float64 {
	v = math.Max(0, math.Min(1, v))
	if v <= 0.0031308 {
		return 255 * 12.92 * v
	}
	return 255 * (1.055*math.Pow(v, 1/2.4) - 0.055)
}

func adobeToSRGB(rgb [3]float64) [3]float64 {
	var lin [3]float64
	for i, v := range rgb {
		lin[i] = math.Pow(v, 563.0/256)
	}
	out := xyzToSRGB.mul(adobeToXYZ.mul(lin))
	return [3]float64{srgbEncode(out[0]), srgbEncode(out[1]), srgbEncode(out[2])}
}

func prophotoToSRGB(rgb [3]float64) [3]float64 {
	var lin [3]float64
	for i, v := range rgb {
		if v < 1.0/32 {
			lin[i] = v / 16
		} else {
			lin[i] = math.Pow(v, 1.8)
		}
	}
	out := xyzToSRGB.mul(bradfordD50toD65.mul(prophotoToXYZ50.mul(lin)))
	return [3]float64{srgbEncode(out[0]), srgbEncode(out[1]), srgbEncode(out[2])}
}

// diffToFormula is the mean absolute difference, in 8-bit levels, between out and the formula
// applied to every raw device pixel of src (scaled to 0..1 by full).
func diffToFormula(t *testing.T, src []byte, out image.Image, full float64, formula func([3]float64) [3]float64) float64 {
	t.Helper()
	raw, err := imageproctest.RawDevice(src)
	if err != nil {
		t.Fatal(err)
	}
	if out.Bounds().Dx() != raw.W || out.Bounds().Dy() != raw.H {
		t.Fatalf("output %v, source %dx%d: the comparison needs the unresized image", out.Bounds().Size(), raw.W, raw.H)
	}
	var sum float64
	for y := 0; y < raw.H; y++ {
		for x := 0; x < raw.W; x++ {
			i := (y*raw.W + x) * raw.Bands
			want := formula([3]float64{raw.Pix[i] / full, raw.Pix[i+1] / full, raw.Pix[i+2] / full})
			r, g, b, _ := out.At(x, y).RGBA()
			sum += math.Abs(float64(r>>8)-want[0]) + math.Abs(float64(g>>8)-want[1]) + math.Abs(float64(b>>8)-want[2])
		}
	}
	return sum / float64(3*raw.W*raw.H)
}

func identity(rgb [3]float64) [3]float64 { return [3]float64{rgb[0] * 255, rgb[1] * 255, rgb[2] * 255} }

func TestColourRGBProfiles(t *testing.T) {
	tests := []struct {
		file    string
		full    float64
		formula func([3]float64) [3]float64
	}{
		{"tiff_rgb16_adobergb.tiff", 65535, adobeToSRGB},
		{"prophoto_1px.png", 255, prophotoToSRGB},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := readCorpus(t, tt.file)
			// Unresized (CropNone, no upscaling), so every output pixel maps to one source pixel.
			p, err := Normalise(context.Background(), src, Options{Crop: CropNone, MinSide: 1, Quality: 100})
			if err != nil {
				t.Fatal(err)
			}
			out := checkCleanBaselineJPEG(t, p.JPEG)
			got := diffToFormula(t, src, out, tt.full, tt.formula)
			naive := diffToFormula(t, src, out, tt.full, identity)
			t.Logf("%s: %.2f levels from the formula, %.2f from ignoring the profile", tt.file, got, naive)
			if got > 2.5 {
				t.Errorf("%.2f levels from the published conversion; want ≤ 2.5", got)
			}
			if naive < 2*got+3 {
				t.Errorf("the profile made no clear difference (%.2f vs %.2f): the control cannot tell", naive, got)
			}
		})
	}
}

func TestColourCMYK(t *testing.T) {
	for _, file := range []string{"jpeg_cmyk_fogra39_icc.jpg", "tiff_cmyk_fogra39.tif", "jpeg_cmyk_untagged.jpg"} {
		t.Run(file, func(t *testing.T) {
			src := readCorpus(t, file)
			p, err := Normalise(context.Background(), src, Options{Crop: CropNone, Size: 1000, Quality: 100})
			if err != nil {
				t.Fatal(err)
			}
			out := checkCleanBaselineJPEG(t, p.JPEG)
			embedded, err := imageproctest.ReferenceRender(src, "cmyk", true)
			if err != nil {
				t.Fatal(err)
			}
			builtin, err := imageproctest.ReferenceRender(src, "cmyk", false)
			if err != nil {
				t.Fatal(err)
			}
			got, control := diffToPixels(t, out, embedded), diffToPixels(t, out, builtin)
			t.Logf("%s: %.2f levels from the embedded-profile rendering, %.2f from the built-in profile", file, got, control)
			if got > 2 {
				t.Errorf("%.2f levels from the embedded-profile rendering; want ≤ 2", got)
			}
			if file != "jpeg_cmyk_untagged.jpg" && control < 2*got+2 {
				t.Errorf("output is as close to the built-in CMYK profile (%.2f) as to the embedded one (%.2f)", control, got)
			}
		})
	}
}

func diffToPixels(t *testing.T, out image.Image, ref imageproctest.Raster) float64 {
	t.Helper()
	if out.Bounds().Dx() != ref.W || out.Bounds().Dy() != ref.H || ref.Bands < 3 {
		t.Fatalf("output %v, reference %dx%dx%d", out.Bounds().Size(), ref.W, ref.H, ref.Bands)
	}
	var sum float64
	for y := 0; y < ref.H; y++ {
		for x := 0; x < ref.W; x++ {
			i := (y*ref.W + x) * ref.Bands
			r, g, b, _ := out.At(x, y).RGBA()
			sum += math.Abs(float64(r>>8)-ref.Pix[i]) + math.Abs(float64(g>>8)-ref.Pix[i+1]) + math.Abs(float64(b>>8)-ref.Pix[i+2])
		}
	}
	return sum / float64(3*ref.W*ref.H)
}

// TestColourDisplayP3Photo checks the phone photos (Display P3 HEIC and AVIF) by their mean
// colour, which resizing keeps: the output must match the full-size P3 → sRGB rendering, not
// the P3 values relabelled as sRGB.
func TestColourDisplayP3Photo(t *testing.T) {
	for _, file := range []string{"heic_iphone13_12mp.heic", "avif_12mp_irot.avif"} {
		t.Run(file, func(t *testing.T) {
			src := readCorpus(t, file)
			p, err := Normalise(context.Background(), src, Options{Crop: CropNone, Quality: 100})
			if err != nil {
				t.Fatal(err)
			}
			out, err := jpeg.Decode(bytes.NewReader(p.JPEG))
			if err != nil {
				t.Fatal(err)
			}
			r, err := imageproctest.BandMeans(src, true)
			if err != nil {
				t.Fatal(err)
			}
			n, err := imageproctest.BandMeans(src, false)
			if err != nil {
				t.Fatal(err)
			}
			o := meanRGB(out)
			got, control := dist3(o, r), dist3(o, n)
			t.Logf("%s: mean %v, P3 rendering %v (Δ %.2f), relabelled %v (Δ %.2f)", file, o, r, got, n, control)
			if got > 1.5 {
				t.Errorf("mean colour %.2f levels from the P3 rendering", got)
			}
			if control < got+1 {
				t.Errorf("output as close to the relabelled source (%.2f) as to the rendering (%.2f)", control, got)
			}
		})
	}
}

func meanRGB(img image.Image) [3]float64 {
	var s [3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			s[0] += float64(r >> 8)
			s[1] += float64(g >> 8)
			s[2] += float64(bl >> 8)
		}
	}
	n := float64(b.Dx() * b.Dy())
	return [3]float64{s[0] / n, s[1] / n, s[2] / n}
}

func dist3(a, b [3]float64) float64 {
	return (math.Abs(a[0]-b[0]) + math.Abs(a[1]-b[1]) + math.Abs(a[2]-b[2])) / 3
}
