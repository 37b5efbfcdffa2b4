// Package imageproc turns an untrusted upload into a profile photo Graph accepts: an upright,
// square, sRGB, metadata-free baseline JPEG within a byte budget (docs/architecture.md §3).
//
// The order of the work is the list in pipeline; each step is a method below it. Pixel work is
// done by libvips in the order vips_thumbnail uses: shrink while decoding, resize, colour to
// sRGB, then orient and crop the small image (alpha is flattened first: see flatten). Colour comes after
// the resize because an ICC transform costs per pixel and HEIC, PNG and TIFF cannot shrink
// while decoding: on a 12 MP phone HEIC it would transform 12 MP instead of 0.4.
package imageproc

import (
	"context"
	"fmt"
	"math"
	"runtime"
)

// Source describes an input as its header tells it, before any pixel is decoded.
type Source struct {
	Format      Format
	Width       int // as stored, before EXIF orientation
	Height      int
	Orientation int // EXIF 1..8
	Interlaced  bool
}

// Photo is the normalised result.
type Photo struct {
	JPEG         []byte
	Width        int
	Height       int
	Bytes        int
	Quality      int
	SourceFormat Format
	SourceWidth  int // upright, after EXIF orientation
	SourceHeight int
}

// job carries one image through the pipeline.
type job struct {
	src    []byte
	opts   Options
	source Source
	// target size of the resize, in the stored (not yet rotated) orientation
	targetW, targetH int
	// side of the square crop; 0 with CropNone
	square int
	img    *vipsImage
	photo  Photo
}

type step struct {
	name string
	run  func(*job) error
}

// pipeline is the whole image path, in order.
var pipeline = []step{
	{"inspect", (*job).inspect},           // sniff magic bytes, read the header, apply limits
	{"load", (*job).load},                 // decode with shrink-on-load, sequentially
	{"flatten", (*job).flatten},           // alpha onto white, so the resize works on opaque pixels
	{"resize", (*job).resize},             // Lanczos3 down to the target
	{"colour", (*job).colour},             // embedded ICC (CMYK, P3, Adobe RGB, ProPhoto) → sRGB, 8 bit
	{"materialise", (*job).materialise},   // the small image in memory: orient and crop need random access
	{"orient", (*job).orient},             // EXIF orientation, on the small image
	{"crop", (*job).crop},                 // attention / centre square
	{"encode", (*job).encodeWithinBudget}, // strip all metadata, baseline JPEG, quality then size to fit
}

// Normalise runs the pipeline on src. Refusals are *Error with a stable Reason; the same input
// and options always give the same bytes.
func Normalise(ctx context.Context, src []byte, opts Options) (Photo, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return Photo{}, fmt.Errorf("normalise image: options: %w", err)
	}
	release, err := acquire(ctx)
	if err != nil {
		return Photo{}, err
	}
	defer release()

	j := &job{src: src, opts: opts}
	defer func() { j.img.close() }() // j.img is set by the load step
	for _, s := range pipeline {
		if err := ctx.Err(); err != nil {
			return Photo{}, fmt.Errorf("normalise image: stopped before %s: %w", s.name, err)
		}
		if err := s.run(j); err != nil {
			return Photo{}, err
		}
	}
	return j.photo, nil
}

// acquire takes the process's libvips slot and pins the goroutine to its OS thread, because
// libvips keeps per-thread state that vips_thread_shutdown must release on the same thread.
func acquire(ctx context.Context) (func(), error) {
	configure()
	select {
	case vipsSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("normalise image: waiting for libvips: %w", ctx.Err())
	}
	runtime.LockOSThread()
	return func() {
		threadDone()
		runtime.UnlockOSThread()
		<-vipsSlot
	}, nil
}

func (j *job) inspect() error {
	f := Sniff(j.src)
	if f == FormatUnknown {
		return refuse(ReasonUnsupportedFormat, nil, "not a JPEG, PNG, WebP, GIF, TIFF, HEIC or AVIF file (%s)", describeBytes(j.src))
	}
	if f == FormatPNG {
		j.src = dropPNGText(j.src)
	}
	img, err := load(f, j.src, 1, 1)
	if err != nil {
		return refuse(ReasonCorruptImage, err, "%s header unreadable", f)
	}
	h := img.header()
	img.close()
	j.source = Source{Format: f, Width: h.Width, Height: h.Height, Orientation: h.Orientation, Interlaced: h.Interlaced}

	// Progressive JPEG, interlaced PNG, lossless WebP and WebP with alpha cannot stream: their
	// decoders hold the whole image; an animated WebP also holds its canvas. For an animation
	// the header's size is the canvas's, which bounds every frame (libwebp's demuxer refuses a
	// frame outside it).
	cost, kind := decodeRows, f.String()
	if h.Interlaced {
		cost, kind = decodeWhole, "interlaced "+kind
	}
	if f == FormatWebP {
		if l := readWebPLayout(j.src); l.cost() > cost {
			cost, kind = l.cost(), l.String()
		}
	}
	pixels := int64(h.Width) * int64(h.Height)
	if limit := j.opts.pixelLimit(f, cost); pixels > int64(limit) {
		return refuse(ReasonTooManyPixels, nil, "%dx%d %s is %.1f MP, over the %.1f MP limit", h.Width, h.Height, kind, float64(pixels)/1e6, float64(limit)/1e6)
	}
	if min(h.Width, h.Height) < j.opts.MinSide {
		return refuse(ReasonTooSmall, nil, "%dx%d is smaller than %d px on a side", h.Width, h.Height, j.opts.MinSide)
	}

	// The output size, in stored orientation. Never upscale.
	w, h2 := float64(h.Width), float64(h.Height)
	if j.opts.Crop == CropNone {
		scale := math.Min(1, float64(j.opts.Size)/math.Max(w, h2))
		j.targetW, j.targetH = max(1, int(math.Round(w*scale))), max(1, int(math.Round(h2*scale)))
	} else {
		j.square = min(j.opts.Size, h.Width, h.Height)
		scale := float64(j.square) / math.Min(w, h2)
		j.targetW, j.targetH = max(j.square, int(math.Round(w*scale))), max(j.square, int(math.Round(h2*scale)))
	}
	return nil
}

func (j *job) load() error {
	f, s := j.source.Format, j.source
	shrink, scale := 1, 1.0
	switch f {
	case FormatJPEG:
		// The largest DCT scale (1/8, 1/4, 1/2) that still leaves at least the target size:
		// libjpeg then skips most of the inverse DCT work. Dimensions round up.
		for _, f := range []int{8, 4, 2} {
			if ceilDiv(s.Width, f) >= j.targetW && ceilDiv(s.Height, f) >= j.targetH {
				shrink = f
				break
			}
		}
	case FormatWebP:
		scale = math.Min(1, math.Max(float64(j.targetW)/float64(s.Width), float64(j.targetH)/float64(s.Height)))
	}
	img, err := load(f, j.src, shrink, scale)
	if err != nil {
		return refuse(ReasonCorruptImage, err, "%s unreadable", f)
	}
	j.img = img
	return nil
}

func (j *job) colour() error {
	fallback := "srgb"
	if j.img.isCMYK() {
		fallback = "cmyk"
	}
	if j.img.isCMYK() || j.img.header().HasICC {
		// Import the embedded profile explicitly: Debian's libvips 8.14.1 colourspace ignores
		// a CMYK JPEG's own profile (fixed in 8.14.3), and without an explicit transform an RGB
		// image in Display P3 or Adobe RGB is just relabelled sRGB and loses its colours.
		if err := j.img.iccImport(fallback); err != nil {
			return refuse(ReasonCorruptImage, err, "colour profile unusable")
		}
	}
	if err := j.img.toSRGB(); err != nil {
		return refuse(ReasonCorruptImage, err, "cannot convert to sRGB")
	}
	if err := j.img.flattenWhite(); err != nil { // CMYK with alpha, now in sRGB
		return refuse(ReasonCorruptImage, err, "flatten failed")
	}
	return nil
}

func (j *job) resize() error {
	w, h := j.img.size()
	if w == j.targetW && h == j.targetH {
		return nil
	}
	if err := j.img.resize(float64(j.targetW)/float64(w), float64(j.targetH)/float64(h)); err != nil {
		return refuse(ReasonCorruptImage, err, "resize failed")
	}
	return nil
}

// flatten puts transparent pixels on white before the resize. The output is an opaque JPEG on
// white anyway, and flattening onto one uniform colour commutes with a linear resize of
// premultiplied pixels, so the result is the same as premultiply → resize → unpremultiply →
// flatten, without a float resize of four bands (3× faster on a 2048×1536 RGBA PNG). CMYK
// white is not 255, so a CMYK image with alpha is flattened in the colour step, once in sRGB.
func (j *job) flatten() error {
	if j.img.isCMYK() {
		return nil
	}
	if err := j.img.flattenWhite(); err != nil {
		return refuse(ReasonCorruptImage, err, "flatten failed")
	}
	return nil
}

func (j *job) materialise() error {
	// Every lazy step above runs here, decode included: a truncated or corrupt file fails now.
	if err := j.img.copyMemory(); err != nil {
		return refuse(ReasonCorruptImage, err, "%s decode failed", j.source.Format)
	}
	return nil
}

func (j *job) orient() error {
	if j.source.Orientation == 1 {
		return nil
	}
	if err := j.img.autorot(); err != nil {
		return refuse(ReasonCorruptImage, err, "orientation %d failed", j.source.Orientation)
	}
	return nil
}

func (j *job) crop() error {
	if j.square == 0 {
		return nil
	}
	if w, h := j.img.size(); w == j.square && h == j.square {
		return nil
	}
	if err := j.img.crop(j.square, j.square, j.opts.Crop); err != nil {
		return refuse(ReasonCorruptImage, err, "crop failed")
	}
	return nil
}

func (j *job) encodeWithinBudget() error {
	data, q, w, h, err := fitBudget(j.img, j.opts)
	if err != nil {
		return err
	}
	sw, sh := j.source.Width, j.source.Height
	if j.source.Orientation >= 5 {
		sw, sh = sh, sw
	}
	j.photo = Photo{
		JPEG: data, Width: w, Height: h, Bytes: len(data), Quality: q,
		SourceFormat: j.source.Format, SourceWidth: sw, SourceHeight: sh,
	}
	return nil
}

// fitBudget encodes at the configured quality; only when that is over the budget does it look
// for the highest quality that fits, and only when the lowest acceptable quality is still over
// does it shrink the photo, always from the full-size image so blur does not accumulate.
func fitBudget(img *vipsImage, opts Options) ([]byte, int, int, int, error) {
	cur := img
	factor := 1.0
	defer func() {
		if cur != img {
			cur.close()
		}
	}()
	for {
		w, h := cur.size()
		data, q, err := bestQuality(cur, opts.Quality, opts.MaxBytes)
		if err != nil {
			return nil, 0, 0, 0, refuse(ReasonCorruptImage, err, "encode failed")
		}
		if len(data) <= opts.MaxBytes {
			return data, q, w, h, nil
		}
		// JPEG size grows roughly with pixel count: aim under the budget with a margin, but
		// move at least 10 % and at most 50 % per round.
		step := math.Sqrt(float64(opts.MaxBytes)/float64(len(data))) * 0.95
		factor *= math.Max(0.5, math.Min(0.9, step))
		iw, ih := img.size()
		if int(math.Round(float64(min(iw, ih))*factor)) < opts.MinSide {
			return nil, 0, 0, 0, refuse(ReasonBudgetUnreachable, nil, "cannot fit %d bytes even at quality %d and %d px", opts.MaxBytes, minQuality, opts.MinSide)
		}
		next, err := img.scaleBy(factor)
		if err != nil {
			return nil, 0, 0, 0, refuse(ReasonCorruptImage, err, "downscale failed")
		}
		if cur != img {
			cur.close()
		}
		cur = next
	}
}

// bestQuality returns the encoding at start quality when it fits, else the highest quality in
// [minQuality, start) that fits (binary search: at most 6 encodes), else the minQuality one.
func bestQuality(img *vipsImage, start, budget int) ([]byte, int, error) {
	data, err := img.jpeg(start)
	if err != nil || len(data) <= budget || start <= minQuality {
		return data, start, err
	}
	lowest, err := img.jpeg(minQuality)
	if err != nil || len(lowest) > budget {
		return lowest, minQuality, err
	}
	best, bestQ := lowest, minQuality
	lo, hi := minQuality+1, start-1
	for lo <= hi {
		mid := (lo + hi) / 2
		d, err := img.jpeg(mid)
		if err != nil {
			return nil, 0, err
		}
		if len(d) <= budget {
			best, bestQ, lo = d, mid, mid+1
		} else {
			hi = mid - 1
		}
	}
	return best, bestQ, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// describeBytes names what a refused file looks like, for the error message, without echoing
// its content.
func describeBytes(b []byte) string {
	switch {
	case len(b) == 0:
		return "empty"
	case hasPrefixFold(b, "%PDF"):
		return "PDF"
	case hasPrefixFold(b, "%!PS"):
		return "PostScript"
	case looksLikeSVG(b):
		return "SVG"
	}
	return fmt.Sprintf("%d bytes starting % x", len(b), b[:min(len(b), 4)])
}
