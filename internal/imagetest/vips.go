package imagetest

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

// The frame the generated photos are made from: src fitted inside box×box, upright (EXIF
// orientation applied), 8-bit sRGB, 3 bands.
static int imagetest_frame(const void *src, size_t len, int box, void **pix, size_t *n, int *w, int *h) {
	VipsImage *t = NULL, *u = NULL;
	int r = -1;
	if (VIPS_INIT("imagetest"))
		return -1;
	if (vips_thumbnail_buffer((void *) src, len, &t, box, "height", box, NULL))
		return -1;
	if (!vips_colourspace(t, &u, VIPS_INTERPRETATION_sRGB, NULL) && u->Bands == 3 && u->BandFmt == VIPS_FORMAT_UCHAR) {
		*pix = vips_image_write_to_memory(u, n);
		*w = u->Xsize;
		*h = u->Ysize;
		r = *pix ? 0 : -1;
	} else if (u) {
		vips_error("imagetest", "frame is not 8-bit sRGB");
	}
	if (u)
		g_object_unref(u);
	g_object_unref(t);
	return r;
}

typedef struct {
	int width, height, bands, ushort, cmyk, pages, interlaced;
	size_t icc;
	char loader[64];
} imagetest_header;

// What libvips reads from a file's header, with the loader it picks.
static int imagetest_head(const void *src, size_t len, imagetest_header *h) {
	VipsImage *img;
	const char *loader = NULL;
	const void *icc;
	int v = 0;
	if (VIPS_INIT("imagetest"))
		return -1;
	img = vips_image_new_from_buffer(src, len, "", NULL);
	if (!img)
		return -1;
	memset(h, 0, sizeof(*h));
	if (!vips_image_get_typeof(img, VIPS_META_LOADER) || vips_image_get_string(img, VIPS_META_LOADER, &loader))
		loader = "unknown";
	g_strlcpy(h->loader, loader, sizeof(h->loader));
	h->width = img->Xsize;
	h->height = img->Ysize;
	h->bands = img->Bands;
	h->ushort = img->BandFmt == VIPS_FORMAT_USHORT;
	h->cmyk = img->Type == VIPS_INTERPRETATION_CMYK;
	h->pages = vips_image_get_n_pages(img);
	h->interlaced = vips_image_get_typeof(img, "interlaced") && !vips_image_get_int(img, "interlaced", &v) && v;
	if (vips_image_get_typeof(img, VIPS_META_ICC_NAME) && vips_image_get_blob(img, VIPS_META_ICC_NAME, &icc, &h->icc))
		h->icc = 0;
	g_object_unref(img);
	return 0;
}

// A copy of the ICC profile embedded in src, or NULL with *len 0 when it has none.
static int imagetest_icc(const void *src, size_t len, void **icc, size_t *n) {
	VipsImage *img;
	const void *data;
	int r = 0;
	if (VIPS_INIT("imagetest"))
		return -1;
	img = vips_image_new_from_buffer(src, len, "", NULL);
	if (!img)
		return -1;
	*icc = NULL;
	*n = 0;
	if (vips_image_get_typeof(img, VIPS_META_ICC_NAME)) {
		if (vips_image_get_blob(img, VIPS_META_ICC_NAME, &data, n))
			r = -1;
		else
			*icc = g_memdup2(data, *n);
	}
	g_object_unref(img);
	return r;
}
*/
import "C"

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/graphphoto/graphphoto/internal/imageproc/imageproctest"
)

// vipsError takes libvips' error text for the call that just failed.
func vipsError(what string) error {
	msg := strings.TrimSpace(C.GoString(C.vips_error_buffer()))
	C.vips_error_clear()
	return errors.New("imagetest: " + what + ": " + msg)
}

// frame decodes src fitted inside box×box, upright, as 8-bit sRGB (3 bytes a pixel).
func frame(src []byte, box int) (pix []byte, w, h int, err error) {
	if len(src) == 0 {
		return nil, 0, 0, errors.New("imagetest: frame of an empty file")
	}
	var p unsafe.Pointer
	var n C.size_t
	var cw, ch C.int
	if C.imagetest_frame(unsafe.Pointer(&src[0]), C.size_t(len(src)), C.int(box), &p, &n, &cw, &ch) != 0 {
		return nil, 0, 0, vipsError("frame")
	}
	defer C.g_free(C.gpointer(p))
	return C.GoBytes(p, C.int(n)), int(cw), int(ch), nil
}

// save writes w×h pixels of bands 3 (sRGB) or 4 (sRGB + alpha) in the format and options of
// suffix (libvips' ".ext[options]"); with profile (an ICC file) the pixels are converted to it
// first.
func save(pix []byte, w, h, bands int, profile, suffix string) ([]byte, error) {
	return imageproctest.Encode(imageproctest.Pixels{Pix: pix, W: w, H: h, Bands: bands, Profile: profile}, suffix)
}

// Header is what libvips reads from a file's header.
type Header struct {
	Loader        string // libvips' loader, e.g. jpegload_buffer
	Width, Height int
	Bands         int
	Ushort        bool // 16 bits a sample
	CMYK          bool
	Pages         int
	Interlaced    bool // progressive JPEG, interlaced PNG
	ICCBytes      int  // size of the embedded ICC profile, 0 without
}

// Format is the manifest's name for the loader's format.
func (h Header) Format() string {
	f, _, _ := strings.Cut(h.Loader, "load")
	return f
}

// ReadHeader asks libvips what src is, as a test would to check a file's facts.
func ReadHeader(src []byte) (Header, error) {
	if len(src) == 0 {
		return Header{}, errors.New("imagetest: header of an empty file")
	}
	var h C.imagetest_header
	if C.imagetest_head(unsafe.Pointer(&src[0]), C.size_t(len(src)), &h) != 0 {
		return Header{}, vipsError("read header")
	}
	return Header{
		Loader: C.GoString(&h.loader[0]), Width: int(h.width), Height: int(h.height), Bands: int(h.bands),
		Ushort: h.ushort != 0, CMYK: h.cmyk != 0, Pages: int(h.pages), Interlaced: h.interlaced != 0, ICCBytes: int(h.icc),
	}, nil
}

// iccOf is a copy of the ICC profile embedded in src (nil when there is none).
func iccOf(src []byte) ([]byte, error) {
	if len(src) == 0 {
		return nil, errors.New("imagetest: profile of an empty file")
	}
	var p unsafe.Pointer
	var n C.size_t
	if C.imagetest_icc(unsafe.Pointer(&src[0]), C.size_t(len(src)), &p, &n) != 0 {
		return nil, vipsError("read profile")
	}
	if p == nil {
		return nil, nil
	}
	defer C.g_free(C.gpointer(p))
	return C.GoBytes(p, C.int(n)), nil
}
