package imageproc

import (
	"bytes"
	"encoding/binary"
)

// Format is an image container the normaliser accepts.
type Format int

// The formats of the allow-list (docs/architecture.md §3). Everything else is refused before
// libvips sees a byte: SVG, PDF and PostScript go through parsers (librsvg, poppler, ghostscript)
// with a long CVE history, and libvips' own blocking does not stop poppler from parsing a PDF.
const (
	FormatUnknown Format = iota
	FormatJPEG
	FormatPNG
	FormatWebP
	FormatGIF
	FormatTIFF
	FormatHEIC
	FormatAVIF
)

func (f Format) String() string {
	switch f {
	case FormatJPEG:
		return "jpeg"
	case FormatPNG:
		return "png"
	case FormatWebP:
		return "webp"
	case FormatGIF:
		return "gif"
	case FormatTIFF:
		return "tiff"
	case FormatHEIC:
		return "heic"
	case FormatAVIF:
		return "avif"
	}
	return "unknown"
}

// code is the loader selector of vips.h.
func (f Format) code() int {
	switch f {
	case FormatJPEG:
		return 1
	case FormatPNG:
		return 2
	case FormatWebP:
		return 3
	case FormatGIF:
		return 4
	case FormatTIFF:
		return 5
	case FormatHEIC, FormatAVIF:
		return 6
	}
	return 0
}

// shrinksOnLoad says whether the decoder can produce a smaller image without decoding every
// pixel at full size, which decides how many pixels we let in.
func (f Format) shrinksOnLoad() bool {
	return f == FormatJPEG || f == FormatWebP
}

// HEIF brands libvips 8.14's heifload accepts (foreign/heifload.c), AVIF's included. bimg's
// own sniffer lacks heix (10-bit HEIC, common from recent phones) and the sequence brands.
func heifBrand(brand []byte) Format {
	switch string(brand) {
	case "heic", "heix", "hevc", "heim", "heis", "hevm", "hevs", "mif1", "msf1":
		return FormatHEIC
	case "avif", "avis":
		return FormatAVIF
	}
	return FormatUnknown
}

// Sniff tells the format from the first bytes alone. It never trusts a file name or a
// Content-Type header, which an uploader controls.
func Sniff(b []byte) Format {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return FormatJPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG
	case len(b) >= 12 && bytes.Equal(b[0:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return FormatWebP
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return FormatGIF
	case bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")):
		return FormatTIFF
	}
	return sniffHEIF(b)
}

// sniffHEIF reads the ISO-BMFF ftyp box: size, "ftyp", major brand, minor version, then
// compatible brands. A file whose major brand is generic (mif1) is AVIF when it lists avif.
func sniffHEIF(b []byte) Format {
	if len(b) < 16 || !bytes.Equal(b[4:8], []byte("ftyp")) {
		return FormatUnknown
	}
	size := int(binary.BigEndian.Uint32(b[0:4]))
	if size < 16 || size > len(b) || size > 4096 {
		return FormatUnknown
	}
	major := heifBrand(b[8:12])
	if major == FormatHEIC {
		for i := 16; i+4 <= size; i += 4 {
			if heifBrand(b[i:i+4]) == FormatAVIF {
				return FormatAVIF
			}
		}
	}
	return major
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

// looksLikeSVG is only for the refusal message: SVG is refused whatever it looks like.
func looksLikeSVG(b []byte) bool {
	head := b[:min(len(b), 1024)]
	return bytes.Contains(bytes.ToLower(head), []byte("<svg"))
}
