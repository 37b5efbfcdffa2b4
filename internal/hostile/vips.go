package hostile

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <vips/vips.h>

// A JPEG from raw 8-bit pixels (bands 3 = sRGB, 4 = CMYK), optionally progressive: Go's encoder
// writes neither CMYK nor progressive JPEG.
static int hostile_jpeg(void *pix, int w, int h, int bands, int progressive, int q, void **buf, size_t *len) {
	VipsImage *img = vips_image_new_from_memory_copy(pix, (size_t) w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
	int r;
	if (!img)
		return -1;
	img->Type = bands == 4 ? VIPS_INTERPRETATION_CMYK : VIPS_INTERPRETATION_sRGB;
	r = vips_jpegsave_buffer(img, buf, len, "Q", q, "interlace", progressive, "strip", TRUE, NULL);
	g_object_unref(img);
	return r;
}

// A WebP from raw 8-bit sRGB pixels (bands 3 or 4), lossy at quality q or lossless; Go has no
// WebP encoder. Four bands give a lossy file an ALPH chunk.
static int hostile_webp(void *pix, int w, int h, int bands, int lossless, int q, void **buf, size_t *len) {
	VipsImage *img = vips_image_new_from_memory_copy(pix, (size_t) w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
	int r;
	if (!img)
		return -1;
	img->Type = VIPS_INTERPRETATION_sRGB;
	r = vips_webpsave_buffer(img, buf, len, "Q", q, "lossless", lossless, "strip", TRUE, NULL);
	g_object_unref(img);
	return r;
}
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/h2non/bimg" // starts libvips (vips_init) before the cgo call below
)

var _ = bimg.VipsVersion

// vipsJPEG encodes w×h pixels of bands 3 (RGB) or 4 (CMYK) bytes each.
func vipsJPEG(pix []byte, w, h, bands int, progressive bool, quality int) ([]byte, error) {
	if len(pix) != w*h*bands {
		return nil, errors.New("vips jpeg: pixel buffer of the wrong size")
	}
	prog := 0
	if progressive {
		prog = 1
	}
	var buf unsafe.Pointer
	var n C.size_t
	if C.hostile_jpeg(unsafe.Pointer(&pix[0]), C.int(w), C.int(h), C.int(bands), C.int(prog), C.int(quality), &buf, &n) != 0 {
		msg := C.GoString(C.vips_error_buffer())
		C.vips_error_clear()
		return nil, errors.New("vips jpeg: " + msg)
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}

// vipsWebP encodes w×h pixels of bands 3 (RGB) or 4 (RGBA) bytes each as a still WebP.
func vipsWebP(pix []byte, w, h, bands int, lossless bool, quality int) ([]byte, error) {
	if len(pix) != w*h*bands || (bands != 3 && bands != 4) {
		return nil, errors.New("vips webp: pixel buffer of the wrong size")
	}
	ll := 0
	if lossless {
		ll = 1
	}
	var buf unsafe.Pointer
	var n C.size_t
	if C.hostile_webp(unsafe.Pointer(&pix[0]), C.int(w), C.int(h), C.int(bands), C.int(ll), C.int(quality), &buf, &n) != 0 {
		msg := C.GoString(C.vips_error_buffer())
		C.vips_error_clear()
		return nil, errors.New("vips webp: " + msg)
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}
