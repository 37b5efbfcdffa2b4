package devstack

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <vips/vips.h>

// A CMYK JPEG from raw CMYK bytes: Go's encoder writes only YCbCr and grey.
static int devstack_cmyk_jpeg(void *pix, int w, int h, void **buf, size_t *len) {
	VipsImage *img = vips_image_new_from_memory_copy(pix, (size_t) w * h * 4, w, h, 4, VIPS_FORMAT_UCHAR);
	int r;
	if (!img)
		return -1;
	img->Type = VIPS_INTERPRETATION_CMYK;
	r = vips_jpegsave_buffer(img, buf, len, "Q", 90, NULL);
	g_object_unref(img);
	return r;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/h2non/bimg" // starts libvips (vips_init) before the cgo call below
)

var _ = bimg.VipsVersion

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
	var buf unsafe.Pointer
	var n C.size_t
	if C.devstack_cmyk_jpeg(unsafe.Pointer(&pix[0]), C.int(w), C.int(h), &buf, &n) != 0 {
		C.vips_error_clear()
		return nil, fmt.Errorf("sample cmyk jpeg: libvips could not encode it")
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}
