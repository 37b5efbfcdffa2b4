// Package imageproctest is test support for images, in libvips: the independent renderings the
// colour tests of imageproc check the pipeline against, libvips' own thumbnail as the benchmarks'
// reference row, synthetic large JPEGs, libvips' tracked memory, and Encode, the one helper that
// writes raw pixels as an image file (CMYK and progressive JPEG, WebP and TIFF, which Go's
// encoders do not write) for the test images, the hostile set and the local stack's samples.
//
// It is not part of imageproc because Go allows no cgo in test files, and whatever imageproc's own
// files hold is linked into both Lambda bootstraps; a test in go list -deps ./functions/... proves
// that nothing here is. It imports no testing package and nothing of this module, so imageproc's
// own tests can import it.
package imageproctest

/*
#cgo pkg-config: vips
#include "imageproctest.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// libvips keeps its error text in one process-wide buffer, and per-thread state that
// vips_thread_shutdown releases on the thread that made it: one call at a time, on a locked
// thread, as imageproc works.
var (
	mu       sync.Mutex
	start    sync.Once
	startErr error
)

// call runs f with libvips started, alone, on one OS thread.
func call(f func() error) error {
	start.Do(func() {
		if C.ipt_start(C.int(runtime.GOMAXPROCS(0))) != 0 {
			startErr = errors.New("imageproctest: libvips did not start")
		}
	})
	if startErr != nil {
		return startErr
	}
	mu.Lock()
	defer mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer C.vips_thread_shutdown()
	return f()
}

func vipsError(what string) error {
	msg := strings.TrimSpace(C.GoString(C.vips_error_buffer()))
	C.vips_error_clear()
	return fmt.Errorf("imageproctest: %s: %s", what, msg)
}

// Raster is an uncompressed image, one float64 per band, rows top to bottom.
type Raster struct {
	W, H, Bands int
	Pix         []float64
}

func raster(img *C.VipsImage) (Raster, error) {
	defer C.g_object_unref(C.gpointer(img))
	var n C.size_t
	mem := C.vips_image_write_to_memory(img, &n)
	if mem == nil {
		return Raster{}, vipsError("write to memory")
	}
	defer C.g_free(C.gpointer(mem))
	w, h, bands := int(C.vips_image_get_width(img)), int(C.vips_image_get_height(img)), int(C.vips_image_get_bands(img))
	r := Raster{W: w, H: h, Bands: bands, Pix: make([]float64, w*h*bands)}
	switch C.vips_image_get_format(img) {
	case C.VIPS_FORMAT_UCHAR:
		src := unsafe.Slice((*byte)(mem), int(n))
		for i := range r.Pix {
			r.Pix[i] = float64(src[i])
		}
	case C.VIPS_FORMAT_DOUBLE:
		copy(r.Pix, unsafe.Slice((*float64)(mem), len(r.Pix)))
	default:
		return Raster{}, errors.New("imageproctest: unexpected band format")
	}
	return r, nil
}

func nonEmpty(src []byte) error {
	if len(src) == 0 {
		return errors.New("imageproctest: an empty file")
	}
	return nil
}

// ReferenceRender decodes src at full size and converts it to 8-bit sRGB with libvips'
// icc_transform alone: profile is the fallback, embedded says whether the file's own profile
// wins. The colour tests check the pipeline's colour against this plain rendering.
func ReferenceRender(src []byte, profile string, embedded bool) (Raster, error) {
	if err := nonEmpty(src); err != nil {
		return Raster{}, err
	}
	var r Raster
	err := call(func() error {
		cp := C.CString(profile)
		defer C.free(unsafe.Pointer(cp))
		emb := C.int(0)
		if embedded {
			emb = 1
		}
		var out *C.VipsImage
		if C.ipt_decode_reference(unsafe.Pointer(&src[0]), C.size_t(len(src)), cp, emb, &out) != 0 {
			return vipsError("reference render")
		}
		var err error
		r, err = raster(out)
		return err
	})
	return r, err
}

// RawDevice decodes src at full size without any colour management.
func RawDevice(src []byte) (Raster, error) {
	if err := nonEmpty(src); err != nil {
		return Raster{}, err
	}
	var r Raster
	err := call(func() error {
		var out *C.VipsImage
		if C.ipt_decode_raw(unsafe.Pointer(&src[0]), C.size_t(len(src)), &out) != 0 {
			return vipsError("raw decode")
		}
		var err error
		r, err = raster(out)
		return err
	})
	return r, err
}

// BandMeans is the mean of the first three bands of src at full size, as stored or rendered to
// sRGB through its embedded profile.
func BandMeans(src []byte, rendered bool) ([3]float64, error) {
	if err := nonEmpty(src); err != nil {
		return [3]float64{}, err
	}
	var m [3]C.double
	err := call(func() error {
		cp := C.CString("srgb")
		defer C.free(unsafe.Pointer(cp))
		tr := C.int(0)
		if rendered {
			tr = 1
		}
		if C.ipt_band_means(unsafe.Pointer(&src[0]), C.size_t(len(src)), cp, tr, &m[0], 3) != 0 {
			return vipsError("band means")
		}
		return nil
	})
	return [3]float64{float64(m[0]), float64(m[1]), float64(m[2])}, err
}

// SynthJPEG makes a smooth w×h JPEG with libvips, baseline or progressive, streaming: a 100 MP
// file in a moment and little memory.
func SynthJPEG(w, h int, progressive bool) ([]byte, error) {
	var out []byte
	err := call(func() error {
		var buf unsafe.Pointer
		var n C.size_t
		p := C.int(0)
		if progressive {
			p = 1
		}
		if C.ipt_synth_jpeg(C.int(w), C.int(h), p, &buf, &n) != 0 {
			return vipsError("synthesise jpeg")
		}
		defer C.g_free(C.gpointer(buf))
		out = C.GoBytes(buf, C.int(n))
		return nil
	})
	return out, err
}

// Thumbnail runs libvips' own thumbnail operation (what vipsthumbnail does) on src with size and
// crop ("attention", "centre" or "none"), flattened on white and encoded at quality as the
// pipeline encodes: the benchmarks' reference row.
func Thumbnail(src []byte, size int, crop string, quality int) ([]byte, error) {
	if err := nonEmpty(src); err != nil {
		return nil, err
	}
	interesting := map[string]C.int{"attention": C.VIPS_INTERESTING_ATTENTION, "centre": C.VIPS_INTERESTING_CENTRE, "none": C.VIPS_INTERESTING_NONE}
	in, ok := interesting[crop]
	if !ok {
		return nil, fmt.Errorf("imageproctest: crop %q: want attention, centre or none", crop)
	}
	var out []byte
	err := call(func() error {
		var buf unsafe.Pointer
		var n C.size_t
		if C.ipt_thumbnail(unsafe.Pointer(&src[0]), C.size_t(len(src)), C.int(size), in, C.int(quality), &buf, &n) != 0 {
			return vipsError("thumbnail")
		}
		defer C.g_free(C.gpointer(buf))
		out = C.GoBytes(buf, C.int(n))
		return nil
	})
	return out, err
}

// TrackedMemory reports libvips' tracked allocations: current and high-water bytes.
func TrackedMemory() (current, highwater int64) {
	return int64(C.vips_tracked_get_mem()), int64(C.vips_tracked_get_mem_highwater())
}

// Pixels are raw 8-bit pixels to encode.
type Pixels struct {
	Pix   []byte // W×H×Bands bytes, rows top to bottom
	W, H  int
	Bands int  // 3 (RGB or, with CMYK, no), 4 (RGB and alpha, or CMYK)
	CMYK  bool // the four bands are C, M, Y, K
	// Profile, when set, is an ICC profile file the sRGB pixels are converted to before encoding;
	// libvips embeds it unless the suffix strips it.
	Profile string
}

// Encode writes p as libvips' suffix says: the format and its options, such as
// ".jpg[Q=90,interlace,strip]", ".webp[Q=75,lossless]" or ".tif[compression=lzw]".
func Encode(p Pixels, suffix string) ([]byte, error) {
	if p.W < 1 || p.H < 1 || len(p.Pix) != p.W*p.H*p.Bands || (p.CMYK && p.Bands != 4) {
		return nil, errors.New("imageproctest: encode: pixel buffer of the wrong size")
	}
	var out []byte
	err := call(func() error {
		cs := C.CString(suffix)
		defer C.free(unsafe.Pointer(cs))
		var cp *C.char
		if p.Profile != "" {
			cp = C.CString(p.Profile)
			defer C.free(unsafe.Pointer(cp))
		}
		cmyk := C.int(0)
		if p.CMYK {
			cmyk = 1
		}
		var buf unsafe.Pointer
		var n C.size_t
		if C.ipt_encode(unsafe.Pointer(&p.Pix[0]), C.int(p.W), C.int(p.H), C.int(p.Bands), cmyk, cp, cs, &buf, &n) != 0 {
			return vipsError("encode " + suffix)
		}
		defer C.g_free(C.gpointer(buf))
		out = C.GoBytes(buf, C.int(n))
		return nil
	})
	return out, err
}
