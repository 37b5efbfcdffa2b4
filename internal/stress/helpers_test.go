package stress

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// referenceJPEG is a known-good 12 MP (4000×3000) baseline JPEG, made once per process: the
// yardstick the hostile files' times are reported against.
var referenceJPEG = func() func(t testing.TB) []byte {
	once := sync.OnceValues(func() ([]byte, error) {
		const w, h = 4000, 3000
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Y[y*img.YStride+x] = uint8((x*7 + y*3 + (x*y)>>9) & 0xFF)
			}
		}
		for i := range img.Cb {
			img.Cb[i], img.Cr[i] = uint8(100+i%50), uint8(140+i%30)
		}
		var b bytes.Buffer
		err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
		return b.Bytes(), err
	})
	return func(t testing.TB) []byte {
		b, err := once()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}()

// tinyPNG is a 64×64 PNG that starts libvips in a child before the timed file.
func tinyPNG() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// stackTimeout bounds one stack test; STRESS_TIMEOUT overrides (the long forms need more).
func stackTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("STRESS_TIMEOUT")); err == nil {
		return d
	}
	return 10 * time.Minute
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// envInt reads a positive integer from the environment, else def.
// envFloat reads a fraction such as STRESS_RATE_GOAL=0.9; unset is 0, a bad value fails the test.
func envFloat(t *testing.T, name string) float64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		t.Fatalf("%s=%q: want a fraction in [0,1]", name, v)
	}
	return f
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
