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

// WebP's VP8X feature flags and the fixed part of an ANMF payload (the container
// specification's "Extended File Format").
const (
	vp8xAnimation = 0x02
	vp8xAlpha     = 0x10
	anmfHeader    = 16 // x, y, width-1, height-1, duration (3 bytes each), flags (1)
)

// webpLayout is what a WebP's chunks say about how it decodes, read before libvips sees it.
// Each fact is set by the VP8X flags (what the encoder declared) or by a chunk found at the top
// level or inside an animation frame (what the decoder will meet), whichever says so: a file
// cannot buy a larger budget by clearing a flag.
type webpLayout struct {
	animated bool // VP8X animation flag, or an ANMF chunk
	alpha    bool // VP8X alpha flag, or an ALPH chunk
	lossless bool // a VP8L chunk
}

// readWebPLayout walks a WebP's chunks, and the chunks inside each ANMF frame, bounds-checked
// against src. A chunk that runs past the end is read as far as it goes and ends the walk: a
// broken file is refused by libvips anyway, and what was seen before the break still counts.
func readWebPLayout(src []byte) webpLayout {
	var l webpLayout
	if len(src) > 12 {
		l.scan(src[12:], true)
	}
	return l
}

// scan reads the chunks of b: the file's top level (VP8X and ANMF are read only there, as
// libwebp does) or one frame's payload.
func (l *webpLayout) scan(b []byte, top bool) {
	for len(b) >= 8 {
		fourcc := string(b[:4])
		n := uint64(binary.LittleEndian.Uint32(b[4:8]))
		payload := b[8:]
		if n < uint64(len(payload)) {
			payload = payload[:n]
		}
		switch fourcc {
		case "VP8X":
			if top && len(payload) > 0 {
				l.animated = l.animated || payload[0]&vp8xAnimation != 0
				l.alpha = l.alpha || payload[0]&vp8xAlpha != 0
			}
		case "ANMF":
			if top {
				l.animated = true
				if len(payload) > anmfHeader {
					l.scan(payload[anmfHeader:], false)
				}
			}
		case "VP8L":
			l.lossless = true
		case "ALPH":
			l.alpha = true
		}
		next := 8 + n + n&1 // chunks are padded to an even size
		if next >= uint64(len(b)) {
			return
		}
		b = b[next:]
	}
}

// cost is the decode cost of the WebP (see decodeCost). libvips 8.14 decodes the first frame of
// an animation at full size and composes it on a full-size RGBA canvas whenever a frame does not
// fill the canvas (it cannot place a shrunk frame exactly), on top of what the frame's own
// decoder holds: about 9 bytes a canvas pixel were measured for a lossless frame. Lossless
// frames (VP8L) and alpha planes (ALPH) are decoded whole at full size, 4 bytes a pixel for
// VP8L. A lossy still WebP without alpha shrinks while decoding.
func (l webpLayout) cost() decodeCost {
	switch {
	case l.animated:
		return decodeCanvas
	case l.lossless || l.alpha:
		return decodeWhole
	}
	return decodeRows
}

// String names the layout for a refusal, e.g. "animated lossless webp".
func (l webpLayout) String() string {
	s := "webp"
	if l.lossless {
		s = "lossless " + s
	}
	if l.animated {
		s = "animated " + s
	}
	if l.alpha {
		s += " with alpha"
	}
	return s
}
