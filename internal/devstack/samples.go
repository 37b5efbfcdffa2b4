package devstack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"

	"github.com/graphphoto/graphphoto/internal/hostile"
)

// Sample is an image the demo uploads, with what should become of it.
type Sample struct {
	Name   string
	Data   []byte
	Expect string // "synced" or "rejected: reason"
	What   string
}

// Samples makes the demo's inputs itself, so `make demo` needs no files: a phone-style portrait
// stored sideways with EXIF orientation 6, a PNG logo with transparency, a CMYK JPEG, a PNG
// whose header declares 900 megapixels, and a PDF.
func Samples() ([]Sample, error) {
	portrait, err := exifPortrait()
	if err != nil {
		return nil, err
	}
	logo, err := alphaLogo()
	if err != nil {
		return nil, err
	}
	cmyk, err := cmykJPEG(500, 400)
	if err != nil {
		return nil, err
	}
	return []Sample{
		{"portrait-exif6.jpg", portrait, "synced", "1200x1600 portrait stored sideways, EXIF orientation 6"},
		{"logo-alpha.png", logo, "synced", "800x800 PNG, transparent background"},
		{"print-cmyk.jpg", cmyk, "synced", "500x400 CMYK JPEG"},
		{"huge-900mp.png", hostile.PNGHeaderOnly(30000, 30000, 0), "rejected: too_many_pixels", "PNG declaring 30000x30000"},
		{"resume.pdf", []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"), "rejected: unsupported_format", "a PDF"},
	}, nil
}

// drawPortrait paints a simple upright head-and-shoulders figure on a gradient.
func drawPortrait(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := float64(w)/2, float64(h)*0.38, float64(w)*0.22
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(40 + 80*y/h), uint8(90 + 60*y/h), 160, 255}
			dx, dy := float64(x)-cx, float64(y)-cy
			switch {
			case dx*dx+dy*dy < r*r:
				c = color.RGBA{224, 172, 140, 255} // face
				if math.Abs(dy+r*0.2) < r*0.08 && math.Abs(math.Abs(dx)-r*0.4) < r*0.12 {
					c = color.RGBA{40, 30, 30, 255} // eyes
				}
			case float64(y) > cy+r*1.3 && math.Abs(dx) < float64(w)*0.42-(float64(h)-float64(y))*0.2:
				c = color.RGBA{30, 60, 110, 255} // shoulders
			}
			img.SetRGBA(x, y, c)
		}
	}
	// A marker in the top-left corner of the upright picture, so a wrong rotation shows.
	for y := 0; y < h/10; y++ {
		for x := 0; x < w/10; x++ {
			img.SetRGBA(x, y, color.RGBA{230, 40, 40, 255})
		}
	}
	return img
}

// exifPortrait stores the upright portrait rotated 90° anticlockwise, as a phone held upright
// does, with EXIF Orientation 6 ("rotate 90° clockwise to view").
func exifPortrait() ([]byte, error) {
	up := drawPortrait(1200, 1600)
	b := up.Bounds()
	stored := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			// upright (x, y) → stored (y, W-1-x)
			stored.Set(y, b.Dx()-1-x, up.At(x, y))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, stored, &jpeg.Options{Quality: 90}); err != nil {
		return nil, fmt.Errorf("sample portrait: %w", err)
	}
	return insertAPP1(buf.Bytes(), exifOrientation(6)), nil
}

// exifOrientation is a minimal little-endian EXIF block: IFD0 with Orientation and a
// description, the kind of metadata the normaliser must strip.
func exifOrientation(o uint16) []byte {
	desc := "graphphoto demo portrait\x00"
	var t bytes.Buffer
	t.WriteString("II*\x00")
	binary.Write(&t, binary.LittleEndian, uint32(8)) // IFD0 offset
	binary.Write(&t, binary.LittleEndian, uint16(2)) // entries
	// ImageDescription (0x010e), ASCII, count, offset to the string after the IFD
	binary.Write(&t, binary.LittleEndian, []uint16{0x010e, 2})
	binary.Write(&t, binary.LittleEndian, []uint32{uint32(len(desc)), 8 + 2 + 2*12 + 4})
	// Orientation (0x0112), SHORT, 1, value
	binary.Write(&t, binary.LittleEndian, []uint16{0x0112, 3})
	binary.Write(&t, binary.LittleEndian, uint32(1))
	binary.Write(&t, binary.LittleEndian, []uint16{o, 0})
	binary.Write(&t, binary.LittleEndian, uint32(0)) // no next IFD
	t.WriteString(desc)
	return append([]byte("Exif\x00\x00"), t.Bytes()...)
}

// insertAPP1 puts an APP1 segment right after SOI (and before Go's JFIF-less tables).
func insertAPP1(jpg, payload []byte) []byte {
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func alphaLogo() ([]byte, error) {
	const n = 800
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := float64(x-n/2), float64(y-n/2)
			d := math.Hypot(dx, dy)
			switch {
			case d < 250:
				img.SetNRGBA(x, y, color.NRGBA{0, 120, 212, 255}) // a blue disc
			case d < 300:
				img.SetNRGBA(x, y, color.NRGBA{0, 120, 212, uint8(255 * (300 - d) / 50)}) // soft edge
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("sample logo: %w", err)
	}
	return buf.Bytes(), nil
}
