package imageproc

import (
	"bytes"
	"encoding/binary"
)

// dropPNGText returns src without its text chunks (tEXt, zTXt, iTXt). They are metadata the
// photo never keeps, and libpng inflates every zTXt/iTXt while reading the header: a few KB of
// compressed text can expand to hundreds of MB and seconds of CPU before a pixel is read
// (a "zTXt bomb"). src is returned as is when it has none, or when its chunk structure is
// broken (libvips then refuses it as corrupt).
func dropPNGText(src []byte) []byte {
	const sigLen = 8
	type span struct{ from, to int }
	var drop []span
	for i := sigLen; i+12 <= len(src); {
		n := int(binary.BigEndian.Uint32(src[i : i+4]))
		end := i + 12 + n
		if n < 0 || n > len(src) || end > len(src) || end < i {
			return src
		}
		switch string(src[i+4 : i+8]) {
		case "tEXt", "zTXt", "iTXt":
			drop = append(drop, span{i, end})
		case "IEND":
			i = len(src)
			continue
		}
		i = end
	}
	if len(drop) == 0 {
		return src
	}
	var out bytes.Buffer
	out.Grow(len(src))
	last := 0
	for _, d := range drop {
		out.Write(src[last:d.from])
		last = d.to
	}
	out.Write(src[last:])
	return out.Bytes()
}

// webpNeedsFullDecode reports whether a WebP cannot be scaled while decoding: lossless (VP8L)
// images, and lossy ones with an alpha plane (ALPH), are decoded whole at full size — 4 bytes a
// pixel for VP8L — so they get the same pixel budget as other non-streaming inputs.
func webpNeedsFullDecode(src []byte) bool {
	for i := 12; i+8 <= len(src); {
		fourcc := string(src[i : i+4])
		n := int(binary.LittleEndian.Uint32(src[i+4 : i+8]))
		switch fourcc {
		case "VP8L", "ALPH":
			return true
		case "VP8 ":
			return false
		}
		next := i + 8 + n + n&1 // chunks are padded to an even size
		if n < 0 || next <= i || next > len(src) {
			return false
		}
		i = next
	}
	return false
}
