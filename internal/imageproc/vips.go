package imageproc

/*
#cgo pkg-config: vips
#include "vips.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	// bimg is the project's libvips binding: its package init starts libvips (vips_init) once
	// per process. Its own Resize decodes and rotates the full-size image and re-encodes it at
	// Q100 before shrinking, has no fail_on, no sequential access and no ICC import, so the
	// pipeline itself goes through the small cgo file beside this one.
	"github.com/h2non/bimg"
)

// VipsVersion is the libvips version this binary is linked against.
const VipsVersion = bimg.VipsVersion

var configureOnce sync.Once

// libvips is a process-wide singleton (its error buffer, thread pool and block list are
// global), and a Lambda handles one event at a time, so one image is in libvips at a time and
// libvips spreads that image over every CPU. The semaphore is the one piece of package state.
var vipsSlot = make(chan struct{}, 1)

func configure() {
	configureOnce.Do(func() {
		C.gp_configure(C.int(runtime.GOMAXPROCS(0)))
	})
}

// vipsImage owns one reference to a VipsImage.
type vipsImage struct{ p *C.VipsImage }

func (v *vipsImage) close() {
	if v != nil && v.p != nil {
		C.g_object_unref(C.gpointer(v.p))
		v.p = nil
	}
}

// replace swaps in the result of a step and drops the reference to the previous image.
func (v *vipsImage) replace(next *C.VipsImage) {
	v.close()
	v.p = next
}

// vipsError returns libvips' error text for the call that just failed and clears it.
func vipsError(op string) error {
	msg := strings.TrimSpace(C.GoString(C.gp_error()))
	C.vips_error_clear()
	if msg == "" {
		msg = "unknown libvips error"
	}
	// libvips prefixes each line with the operation's nickname; one line is enough to say why.
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	return errors.New(op + ": " + msg)
}

type header struct {
	Width, Height  int
	Bands          int
	Orientation    int
	Interlaced     bool
	Pages          int
	HasICC         bool
	Interpretation int
}

func load(f Format, src []byte, shrink int, scale float64) (*vipsImage, error) {
	var out *C.VipsImage
	if C.gp_load(C.int(f.code()), unsafe.Pointer(&src[0]), C.size_t(len(src)), C.int(shrink), C.double(scale), 0, &out) != 0 {
		return nil, vipsError("load " + f.String())
	}
	return &vipsImage{p: out}, nil
}

func (v *vipsImage) header() header {
	var h C.gp_header
	C.gp_header_of(v.p, &h)
	orientation := int(h.orientation)
	if orientation < 1 || orientation > 8 {
		orientation = 1
	}
	return header{
		Width: int(h.width), Height: int(h.height), Bands: int(h.bands),
		Orientation: orientation, Interlaced: h.interlaced != 0, Pages: int(h.pages),
		HasICC: h.has_icc != 0, Interpretation: int(h.interpretation),
	}
}

func (v *vipsImage) isCMYK() bool {
	return C.vips_image_get_interpretation(v.p) == C.VIPS_INTERPRETATION_CMYK
}

func (v *vipsImage) iccImport(fallback string) error {
	cs := C.CString(fallback)
	defer C.free(unsafe.Pointer(cs))
	var out *C.VipsImage
	if C.gp_icc_import(v.p, cs, &out) != 0 {
		return vipsError("icc import")
	}
	v.replace(out)
	return nil
}

func (v *vipsImage) toSRGB() error {
	var out *C.VipsImage
	if C.gp_to_srgb(v.p, &out) != 0 {
		return vipsError("colourspace")
	}
	v.replace(out)
	return nil
}

func (v *vipsImage) resize(hscale, vscale float64) error {
	var out *C.VipsImage
	if C.gp_resize_premultiplied(v.p, C.double(hscale), C.double(vscale), &out) != 0 {
		return vipsError("resize")
	}
	v.replace(out)
	return nil
}

func (v *vipsImage) flattenWhite() error {
	var out *C.VipsImage
	if C.gp_flatten_white(v.p, &out) != 0 {
		return vipsError("flatten")
	}
	v.replace(out)
	return nil
}

func (v *vipsImage) copyMemory() error {
	var out *C.VipsImage
	if C.gp_copy_memory(v.p, &out) != 0 {
		return vipsError("decode")
	}
	v.replace(out)
	return nil
}

func (v *vipsImage) autorot() error {
	var out *C.VipsImage
	if C.gp_autorot(v.p, &out) != 0 {
		return vipsError("orient")
	}
	v.replace(out)
	return nil
}

func (v *vipsImage) crop(width, height int, c Crop) error {
	var out *C.VipsImage
	interesting := C.VIPS_INTERESTING_ATTENTION
	if c == CropCentre {
		interesting = C.VIPS_INTERESTING_CENTRE
	}
	if C.gp_crop(v.p, C.int(width), C.int(height), C.int(interesting), &out) != 0 {
		return vipsError("crop")
	}
	v.replace(out)
	return nil
}

func (v *vipsImage) scaleBy(scale float64) (*vipsImage, error) {
	var out *C.VipsImage
	if C.gp_resize_plain(v.p, C.double(scale), &out) != 0 {
		return nil, vipsError("downscale")
	}
	return &vipsImage{p: out}, nil
}

func (v *vipsImage) size() (int, int) {
	return int(C.vips_image_get_width(v.p)), int(C.vips_image_get_height(v.p))
}

func (v *vipsImage) jpeg(quality int) ([]byte, error) {
	var buf unsafe.Pointer
	var n C.size_t
	if C.gp_jpegsave(v.p, C.int(quality), &buf, &n) != 0 {
		return nil, vipsError("encode jpeg")
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}

// threadDone releases libvips' per-thread state for the OS thread the work ran on. (Handing
// glibc's free pages back with malloc_trim here was tried: it cost 20-25 ms an image, a third of
// a 12 MP JPEG's time, in page faults for the next one; two arenas keep RSS flat without it.)
func threadDone() {
	C.vips_thread_shutdown()
}
