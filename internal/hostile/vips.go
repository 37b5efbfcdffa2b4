package hostile

import (
	"fmt"

	"github.com/graphphoto/graphphoto/internal/imageproc/imageproctest"
)

// vipsJPEG encodes w×h pixels of bands 3 (RGB) or 4 (CMYK) bytes each, stripped, baseline or
// progressive: Go's encoder writes neither CMYK nor progressive JPEG.
func vipsJPEG(pix []byte, w, h, bands int, progressive bool, quality int) ([]byte, error) {
	opts := fmt.Sprintf("Q=%d,strip", quality)
	if progressive {
		opts += ",interlace"
	}
	return imageproctest.Encode(imageproctest.Pixels{Pix: pix, W: w, H: h, Bands: bands, CMYK: bands == 4}, ".jpg["+opts+"]")
}

// vipsWebP encodes w×h pixels of bands 3 (RGB) or 4 (RGBA) bytes each as a still WebP, lossy at
// quality or lossless, stripped; Go has no WebP encoder. Four bands give a lossy file an ALPH
// chunk.
func vipsWebP(pix []byte, w, h, bands int, lossless bool, quality int) ([]byte, error) {
	if bands != 3 && bands != 4 {
		return nil, fmt.Errorf("vips webp: %d bands, want 3 or 4", bands)
	}
	opts := fmt.Sprintf("Q=%d,strip", quality)
	if lossless {
		opts += ",lossless"
	}
	return imageproctest.Encode(imageproctest.Pixels{Pix: pix, W: w, H: h, Bands: bands}, ".webp["+opts+"]")
}
