package devstack

import "github.com/graphphoto/graphphoto/internal/imageproc/imageproctest"

// cmykJPEG paints a w×h CMYK picture (a cyan-to-magenta sweep with a yellow band) and encodes
// it with libvips.
func cmykJPEG(w, h int) ([]byte, error) {
	pix := make([]byte, w*h*4)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 4
			pix[i] = byte(255 * x / w)     // C
			pix[i+1] = byte(255 - 255*x/w) // M
			pix[i+2] = 0                   // Y
			pix[i+3] = byte(30 * y / h)    // K
			if y > h/3 && y < h/2 {
				pix[i+2] = 230
			}
		}
	}
	return imageproctest.Encode(imageproctest.Pixels{Pix: pix, W: w, H: h, Bands: 4, CMYK: true}, ".jpg[Q=90]")
}
