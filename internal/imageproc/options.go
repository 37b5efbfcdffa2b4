package imageproc

import (
	"errors"
	"fmt"
	"strings"
)

// Crop is how a non-square image becomes a square photo.
type Crop int

const (
	// CropAttention keeps the part libvips finds most interesting (skin tones, saturation,
	// edges): for portraits that is usually the face.
	CropAttention Crop = iota
	// CropCentre keeps the middle.
	CropCentre
	// CropNone does not crop: the photo fits inside Size×Size.
	CropNone
)

func (c Crop) String() string {
	switch c {
	case CropCentre:
		return "centre"
	case CropNone:
		return "none"
	}
	return "attention"
}

// ParseCrop accepts attention, centre (or center) and none.
func ParseCrop(s string) (Crop, error) {
	switch s {
	case "attention", "":
		return CropAttention, nil
	case "centre", "center":
		return CropCentre, nil
	case "none":
		return CropNone, nil
	}
	return 0, fmt.Errorf("crop %q: want attention, centre or none", s)
}

// Defaults (docs/architecture.md §3, §7). 648 is the largest size Graph serves, so every smaller
// size it derives stays sharp.
const (
	DefaultSize      = 648
	DefaultQuality   = 85
	DefaultMaxBytes  = 4_000_000
	DefaultMaxPixels = 100_000_000
	DefaultMinSide   = 48
	// MinMaxBytes is the smallest budget we promise to meet: below it a 48 px photo at the
	// lowest quality we are willing to send may not fit.
	MinMaxBytes = 10_000
	// minQuality is the lowest JPEG quality we send before shrinking the photo instead:
	// below it blocking artefacts show on faces.
	minQuality = 40
)

// Options control Normalise. The zero value means every default.
type Options struct {
	Size     int  // square side (or longest side with CropNone); never upscaled
	Crop     Crop // attention by default
	Quality  int  // starting JPEG quality, 1..100
	MaxBytes int  // byte budget of the JPEG; >= MinMaxBytes
	// MaxPixels bounds width×height read from the header, for formats that can shrink while
	// decoding (baseline JPEG, lossy WebP). Others get half; progressive JPEG, interlaced PNG,
	// lossless WebP and WebP with alpha a quarter: their decoders hold the whole image, so they
	// cost memory in proportion to their pixels. Animated WebP gets an eighth: its canvas is
	// held whole beside the first frame (see decodeCanvas).
	MaxPixels int
	// MinSide is the smallest width or height accepted. Graph refuses photos under 48 px
	// (ValidationWidthTooSmall).
	MinSide int
}

// WithDefaults fills zero fields with the defaults.
func (o Options) WithDefaults() Options {
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Quality == 0 {
		o.Quality = DefaultQuality
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MinSide == 0 {
		o.MinSide = DefaultMinSide
	}
	return o
}

// OptionError is an option out of range. Field names the Options field, so that a caller can
// name its own setting for it (internal/config names the environment variable).
type OptionError struct {
	Field string // Size, Crop, Quality, MaxBytes, MaxPixels or MinSide
	Value int
	Want  string
}

func (e *OptionError) Error() string {
	words := map[string]string{"MaxBytes": "max bytes", "MaxPixels": "max pixels", "MinSide": "min side"}[e.Field]
	if words == "" {
		words = strings.ToLower(e.Field)
	}
	return fmt.Sprintf("%s %d: want %s", words, e.Value, e.Want)
}

// Validate reports every option out of range, each an *OptionError (joined when there are
// several); callers check at start-up, not per image.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var errs []error
	bad := func(field string, value int, want string) {
		errs = append(errs, &OptionError{Field: field, Value: value, Want: want})
	}
	if o.Size < 1 || o.Size > 16384 {
		bad("Size", o.Size, "1..16384")
	}
	if o.Quality < 1 || o.Quality > 100 {
		bad("Quality", o.Quality, "1..100")
	}
	if o.MaxBytes < MinMaxBytes {
		bad("MaxBytes", o.MaxBytes, fmt.Sprintf("at least %d", MinMaxBytes))
	}
	if o.MaxPixels < 1 {
		bad("MaxPixels", o.MaxPixels, "at least 1")
	}
	if o.MinSide < 1 || o.MinSide > o.Size {
		bad("MinSide", o.MinSide, fmt.Sprintf("1..size (%d)", o.Size))
	}
	if o.Crop < CropAttention || o.Crop > CropNone {
		bad("Crop", int(o.Crop), "attention, centre or none")
	}
	return errors.Join(errs...)
}

// decodeCost is how much of an image its decoder holds at once, which sets its pixel budget.
type decodeCost int

const (
	// decodeRows: rows stream through the decoder. Formats that shrink while decoding get all
	// of MaxPixels, the others half.
	decodeRows decodeCost = iota
	// decodeWhole: the decoder holds the whole image at full size (progressive JPEG,
	// interlaced PNG, lossless WebP, WebP with alpha): a quarter.
	decodeWhole
	// decodeCanvas: an animated WebP, whose first frame libvips composes on a full-size canvas
	// beside the frame's own buffers: an eighth.
	decodeCanvas
)

// pixelLimit is the pixel budget for an image of format f as its header describes it.
func (o Options) pixelLimit(f Format, cost decodeCost) int {
	switch {
	case cost == decodeCanvas:
		return o.MaxPixels / 8
	case cost == decodeWhole:
		return o.MaxPixels / 4
	case f.shrinksOnLoad():
		return o.MaxPixels
	}
	return o.MaxPixels / 2
}
