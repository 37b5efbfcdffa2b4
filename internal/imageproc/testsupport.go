// This file holds what only the package's tests call: independent renderings for the colour
// tests, libvips' own thumbnail as the benchmarks' reference row, synthetic large JPEGs and
// memory probes. It is not a _test.go file because Go does not allow cgo in test files; nothing
// outside the tests calls it.

package imageproc

/*
#include "vips.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// Pixels is an uncompressed image, one float64 per band, rows top to bottom.
type pixels struct {
	W, H, Bands int
	Pix         []float64
}

// referenceRender decodes src at full size and converts it to 8-bit sRGB with libvips'
// icc_transform alone: profile is the fallback, embedded says whether the file's own profile
// wins. Only tests call it, to check the pipeline's colour against a plain rendering.
func referenceRender(ctx context.Context, src []byte, profile string, embedded bool) (pixels, error) {
	release, err := acquire(ctx)
	if err != nil {
		return pixels{}, err
	}
	defer release()
	cp := C.CString(profile)
	defer C.free(unsafe.Pointer(cp))
	emb := C.int(0)
	if embedded {
		emb = 1
	}
	var out *C.VipsImage
	if C.gp_decode_reference(unsafe.Pointer(&src[0]), C.size_t(len(src)), cp, emb, &out) != 0 {
		return pixels{}, vipsError("reference render")
	}
	img := &vipsImage{p: out}
	defer img.close()
	return img.pixels()
}

// rawDevice decodes src at full size without any colour management.
func rawDevice(ctx context.Context, src []byte) (pixels, error) {
	release, err := acquire(ctx)
	if err != nil {
		return pixels{}, err
	}
	defer release()
	var out *C.VipsImage
	if C.gp_decode_raw(unsafe.Pointer(&src[0]), C.size_t(len(src)), &out) != 0 {
		return pixels{}, vipsError("raw decode")
	}
	img := &vipsImage{p: out}
	defer img.close()
	return img.pixels()
}

func (v *vipsImage) pixels() (pixels, error) {
	var n C.size_t
	mem := C.vips_image_write_to_memory(v.p, &n)
	if mem == nil {
		return pixels{}, vipsError("write to memory")
	}
	defer C.g_free(C.gpointer(mem))
	w, h := v.size()
	bands := int(C.vips_image_get_bands(v.p))
	p := pixels{W: w, H: h, Bands: bands, Pix: make([]float64, w*h*bands)}
	switch C.vips_image_get_format(v.p) {
	case C.VIPS_FORMAT_UCHAR:
		src := unsafe.Slice((*byte)(mem), int(n))
		for i := range p.Pix {
			p.Pix[i] = float64(src[i])
		}
	case C.VIPS_FORMAT_DOUBLE:
		copy(p.Pix, unsafe.Slice((*float64)(mem), len(p.Pix)))
	default:
		return pixels{}, vipsError("unexpected band format")
	}
	return p, nil
}

// trackedMemory reports libvips' tracked allocations: current and high-water bytes.
func trackedMemory() (current, highwater int64) {
	return int64(C.vips_tracked_get_mem()), int64(C.vips_tracked_get_mem_highwater())
}

// bandMeans is the mean of the first three bands of src at full size, as stored or rendered to
// sRGB through its embedded profile.
func bandMeans(ctx context.Context, src []byte, rendered bool) ([3]float64, error) {
	release, err := acquire(ctx)
	if err != nil {
		return [3]float64{}, err
	}
	defer release()
	cp := C.CString("srgb")
	defer C.free(unsafe.Pointer(cp))
	var m [3]C.double
	tr := C.int(0)
	if rendered {
		tr = 1
	}
	if C.gp_band_means(unsafe.Pointer(&src[0]), C.size_t(len(src)), cp, tr, &m[0], 3) != 0 {
		return [3]float64{}, vipsError("band means")
	}
	return [3]float64{float64(m[0]), float64(m[1]), float64(m[2])}, nil
}

// synthLargeJPEG makes a smooth w×h JPEG with libvips, baseline or progressive.
func synthLargeJPEG(w, h int, progressive bool) ([]byte, error) {
	configure()
	var buf unsafe.Pointer
	var n C.size_t
	p := C.int(0)
	if progressive {
		p = 1
	}
	if C.gp_synth_jpeg(C.int(w), C.int(h), p, &buf, &n) != 0 {
		return nil, vipsError("synthesise jpeg")
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}

// thumbnailReference runs libvips' own thumbnail operation (what vipsthumbnail does) on src
// with the same size and crop, encoded like ours: the reference row of the benchmarks.
func thumbnailReference(src []byte, opts Options) ([]byte, error) {
	opts = opts.WithDefaults()
	release, err := acquire(context.Background())
	if err != nil {
		return nil, err
	}
	defer release()
	img, err := referenceThumbnail(src, opts.Size, opts.Crop)
	if err != nil {
		return nil, err
	}
	defer img.close()
	if err := img.flattenWhite(); err != nil {
		return nil, err
	}
	return img.jpeg(opts.Quality)
}

// trimMalloc hands glibc's free pages back to the kernel, so a test measuring RSS sees memory
// that is held, not pages glibc keeps for reuse.
func trimMalloc() { C.gp_trim_malloc() }
