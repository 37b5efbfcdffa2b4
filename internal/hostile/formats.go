package hostile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// ---- PNG, chunk by chunk ------------------------------------------------------------------

const pngSignature = "\x89PNG\r\n\x1a\n"

// PNGChunk appends one PNG chunk (length, type, data, CRC) to b.
func PNGChunk(b *bytes.Buffer, kind string, data []byte) {
	binary.Write(b, binary.BigEndian, uint32(len(data)))
	crc := crc32.NewIEEE()
	crc.Write([]byte(kind))
	crc.Write(data)
	b.WriteString(kind)
	b.Write(data)
	binary.Write(b, binary.BigEndian, crc.Sum32())
}

func ihdr(w, h uint32, depth, colourType, interlace byte) []byte {
	d := make([]byte, 13)
	binary.BigEndian.PutUint32(d[0:], w)
	binary.BigEndian.PutUint32(d[4:], h)
	d[8], d[9], d[12] = depth, colourType, interlace
	return d
}

// pngHeaderOnly is a PNG whose IHDR declares w×h and whose one IDAT holds a single empty zlib
// stream: a decoder that trusts the header allocates for w×h before it finds out.
// PNGHeaderOnly is a valid PNG signature and IHDR declaring w×h 8-bit RGB, then a tiny IDAT: a
// decoder that trusts the header would allocate w×h×3 bytes.
func PNGHeaderOnly(w, h uint32, interlace byte) []byte {
	var b bytes.Buffer
	b.WriteString(pngSignature)
	PNGChunk(&b, "IHDR", ihdr(w, h, 8, 2, interlace))
	PNGChunk(&b, "IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01})
	PNGChunk(&b, "IEND", nil)
	return b.Bytes()
}

// pngStream writes a real w×h 8-bit RGB PNG row by row without holding the image: row(y, buf)
// fills one row of w*3 bytes. Every row uses filter 0.
func pngStream(w, h int, row func(y int, buf []byte), extra func(b *bytes.Buffer)) ([]byte, error) {
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 1+w*3)
	for y := 0; y < h; y++ {
		line[0] = 0
		row(y, line[1:])
		if _, err := zw.Write(line); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(pngSignature)
	PNGChunk(&b, "IHDR", ihdr(uint32(w), uint32(h), 8, 2, 0))
	if extra != nil {
		extra(&b)
	}
	data := idat.Bytes()
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		PNGChunk(&b, "IDAT", data[:n])
		data = data[n:]
	}
	PNGChunk(&b, "IEND", nil)
	return b.Bytes(), nil
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return b.Bytes(), nil
}

// pngChunks splits a PNG into its signature and chunks (kind, data), so a case can rework them.
func pngChunks(p []byte) ([][2][]byte, error) {
	if !bytes.HasPrefix(p, []byte(pngSignature)) {
		return nil, errors.New("not a png")
	}
	var out [][2][]byte
	for i := 8; i+12 <= len(p); {
		n := int(binary.BigEndian.Uint32(p[i:]))
		if i+12+n > len(p) {
			return nil, errors.New("png chunk overruns the file")
		}
		out = append(out, [2][]byte{p[i+4 : i+8], p[i+8 : i+8+n]})
		i += 12 + n
	}
	return out, nil
}

// ---- JPEG ---------------------------------------------------------------------------------

// portrait paints a face-like picture with enough detail that a JPEG of it is realistic.
func portrait(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := w/2, h*2/5, min(w, h)/4
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(40 + 100*y/h), uint8(80 + 80*x/w), 160, 255}
			dx, dy := x-cx, y-cy
			if dx*dx+dy*dy < r*r {
				c = color.RGBA{224, 172, 140, 255}
			}
			if (x/7+y/5)%9 == 0 {
				c.R, c.G = c.R/2, c.G/2
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func encodeJPEG(img image.Image, q int) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	return b.Bytes(), nil
}

// JPEGDeclaring is a real 64×64 baseline JPEG whose SOF0 declares w×h: a decoder that trusts
// the header would size its buffers for w×h before finding the entropy-coded data far too short.
func JPEGDeclaring(w, h int) ([]byte, error) {
	small, err := encodeJPEG(portrait(64, 64), 80)
	if err != nil {
		return nil, err
	}
	return jpegSetSize(small, w, h)
}

// jpegSetSize rewrites the dimensions in the first SOFn segment: the header then declares
// w×h while the entropy-coded data stays that of the small image.
func jpegSetSize(j []byte, w, h int) ([]byte, error) {
	out := append([]byte(nil), j...)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xFF {
			return nil, fmt.Errorf("jpeg: no marker at %d", i)
		}
		m := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			binary.BigEndian.PutUint16(out[i+5:], uint16(h))
			binary.BigEndian.PutUint16(out[i+7:], uint16(w))
			return out, nil
		}
		i += 2 + n
	}
	return nil, errors.New("jpeg: no SOF segment")
}

// jpegInsert puts segments (each a full FFxx+length+payload) right after SOI.
func jpegInsert(j []byte, segs ...[]byte) []byte {
	out := append([]byte(nil), j[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, j[2:]...)
}

func jpegSegment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// ---- GIF ----------------------------------------------------------------------------------

// gifCanvas is a GIF89a whose logical screen is w×h and whose one frame is a 1×1 pixel: some
// decoders allocate the screen.
func gifCanvas(w, h uint16) []byte {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	binary.Write(&b, binary.LittleEndian, []uint16{w, h})
	b.Write([]byte{0x80, 0, 0})             // global colour table of 2 entries
	b.Write([]byte{0, 0, 0, 255, 255, 255}) // black, white
	b.WriteByte(0x2C)                       // image descriptor
	binary.Write(&b, binary.LittleEndian, []uint16{0, 0, 1, 1})
	b.WriteByte(0)
	b.Write([]byte{0x02, 0x02, 0x44, 0x01, 0x00}) // LZW min code 2, one sub-block: clear, 1, end
	b.WriteByte(0x3B)
	return b.Bytes()
}

// ---- WebP ---------------------------------------------------------------------------------

// bitWriter packs bits least significant first, as VP8L reads them.
type bitWriter struct {
	buf  []byte
	acc  uint64
	bits uint
}

func (w *bitWriter) put(v uint64, n uint) {
	w.acc |= v << w.bits
	w.bits += n
	for w.bits >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.bits -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.bits > 0 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc, w.bits = 0, 0
	}
	return w.buf
}

// vp8lSolid is a lossless WebP bitstream of a w×h picture of one colour. Every prefix code
// has a single symbol, so each pixel costs zero bits: any size fits in about 20 bytes, and a
// decoder still has to produce every pixel.
func vp8lSolid(w, h int, c color.NRGBA) []byte {
	var bw bitWriter
	bw.put(0x2f, 8)
	bw.put(uint64(w-1), 14)
	bw.put(uint64(h-1), 14)
	bw.put(0, 1) // alpha hint
	bw.put(0, 3) // version 0
	bw.put(0, 1) // no transform
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta prefix codes
	for _, sym := range []byte{c.G, c.R, c.B, c.A} {
		bw.put(1, 1) // simple code
		bw.put(0, 1) // one symbol
		bw.put(1, 1) // 8-bit symbol
		bw.put(uint64(sym), 8)
	}
	bw.put(1, 1) // distance code: simple, one symbol, 1-bit symbol 0
	bw.put(0, 1)
	bw.put(0, 1)
	bw.put(0, 1)
	return bw.bytes()
}

// WebPChunk is one RIFF chunk of a WebP: its FourCC and payload.
type WebPChunk struct {
	Kind string
	Data []byte
}

// VP8X feature flags (the WebP container specification, "Extended File Format").
const (
	VP8XAnimation byte = 0x02
	VP8XAlpha     byte = 0x10
)

func riffChunk(b *bytes.Buffer, c WebPChunk) {
	b.WriteString(c.Kind)
	binary.Write(b, binary.LittleEndian, uint32(len(c.Data)))
	b.Write(c.Data)
	if len(c.Data)%2 == 1 {
		b.WriteByte(0)
	}
}

// WebPFile is a RIFF WEBP file holding chunks in order, each padded to an even size.
func WebPFile(chunks ...WebPChunk) []byte {
	var body bytes.Buffer
	body.WriteString("WEBP")
	for _, c := range chunks {
		riffChunk(&body, c)
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(body.Len()))
	b.Write(body.Bytes())
	return b.Bytes()
}

// WebPChunks splits a WebP file into its top-level chunks.
func WebPChunks(b []byte) ([]WebPChunk, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errors.New("webp chunks: not a RIFF WEBP file")
	}
	var out []WebPChunk
	for i := 12; i < len(b); {
		if i+8 > len(b) {
			return nil, errors.New("webp chunks: truncated chunk header")
		}
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n > len(b)-i-8 {
			return nil, errors.New("webp chunks: chunk runs past the end")
		}
		out = append(out, WebPChunk{string(b[i : i+4]), b[i+8 : i+8+n]})
		i += 8 + n + n&1
	}
	return out, nil
}

// VP8X is the extended format's header chunk: feature flags and a w×h canvas.
func VP8X(flags byte, w, h int) WebPChunk {
	return WebPChunk{"VP8X", append([]byte{flags, 0, 0, 0}, append(u24(w-1), u24(h-1)...)...)}
}

// ANIM is the animation parameters chunk: white background, loop forever.
func ANIM() WebPChunk { return WebPChunk{"ANIM", []byte{255, 255, 255, 255, 0, 0}} }

// ANMF is one animation frame of w×h at (x, y), which must be even (ANMF stores them halved),
// holding its image chunks (ALPH, then VP8 or VP8L). It is shown 100 ms, blended, not disposed.
func ANMF(x, y, w, h int, chunks ...WebPChunk) WebPChunk {
	var b bytes.Buffer
	b.Write(u24(x / 2))
	b.Write(u24(y / 2))
	b.Write(u24(w - 1))
	b.Write(u24(h - 1))
	b.Write(u24(100))
	b.WriteByte(0)
	for _, c := range chunks {
		riffChunk(&b, c)
	}
	return WebPChunk{"ANMF", b.Bytes()}
}

// VP8LSolid is a VP8L chunk of a w×h one-colour lossless picture (see vp8lSolid): a few dozen
// bytes whatever the size.
func VP8LSolid(w, h int, c color.NRGBA) WebPChunk { return WebPChunk{"VP8L", vp8lSolid(w, h, c)} }

// WebPImageChunks encodes w×h pixels of bands 3 (RGB) or 4 (RGBA) bytes each with libvips and
// returns the image chunks of the result: VP8L when lossless, else VP8 after an ALPH for four
// bands. They make real frames for ANMF.
func WebPImageChunks(pix []byte, w, h, bands int, lossless bool) ([]WebPChunk, error) {
	still, err := vipsWebP(pix, w, h, bands, lossless, 80)
	if err != nil {
		return nil, err
	}
	chunks, err := WebPChunks(still)
	if err != nil {
		return nil, err
	}
	var out []WebPChunk
	for _, c := range chunks {
		switch c.Kind {
		case "ALPH", "VP8 ", "VP8L":
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("webp image chunks: the encoder wrote no image chunk")
	}
	return out, nil
}

func webpLossless(w, h int, c color.NRGBA) []byte { return WebPFile(VP8LSolid(w, h, c)) }

func u24(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }

// webpAnimatedCanvas is an animated WebP whose canvas is w×h and whose one frame is 1×1.
func webpAnimatedCanvas(w, h int) []byte {
	return WebPFile(VP8X(VP8XAnimation, w, h), ANIM(), ANMF(0, 0, 1, 1, VP8LSolid(1, 1, color.NRGBA{200, 0, 0, 255})))
}

// ---- HEIF boxes ---------------------------------------------------------------------------

func box(kind string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	out := make([]byte, 4, n)
	binary.BigEndian.PutUint32(out, uint32(n))
	out = append(out, kind...)
	for _, p := range payload {
		out = append(out, p...)
	}
	return out
}

func fullBox(kind string, version byte, flags uint32, payload ...[]byte) []byte {
	vf := []byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}
	return box(kind, append([][]byte{vf}, payload...)...)
}

func be16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func be32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// heicCanvas is a HEIF file with one HEVC-coded item whose ispe property declares w×h, a
// minimal hvcC (Main profile, 8 bit, no parameter sets) and a few bytes of "coded data": the
// header is all a reader needs to learn the size.
func heicCanvas(w, h int) []byte {
	ftyp := box("ftyp", []byte("heic"), be32(0), []byte("mif1heic"))
	hdlr := fullBox("hdlr", 0, 0, be32(0), []byte("pict"), make([]byte, 12), []byte("pict\x00"))
	pitm := fullBox("pitm", 0, 0, be16(1))
	infe := fullBox("infe", 2, 0, be16(1), be16(0), []byte("hvc1"), []byte("image\x00"))
	iinf := fullBox("iinf", 0, 0, be16(1), infe)
	hvcc := box("hvcC", []byte{
		1,             // configurationVersion
		0x01,          // profile space 0, tier 0, profile Main
		0x60, 0, 0, 0, // compatibility flags
		0x90, 0, 0, 0, 0, 0, // constraint flags
		90,         // level 3
		0xF0, 0x00, // min spatial segmentation
		0xFC, // parallelism
		0xFD, // chroma 4:2:0
		0xF8, // luma bit depth 8
		0xF8, // chroma bit depth 8
		0, 0, // average frame rate
		0x0F, // length size 4
		0,    // no NAL arrays
	})
	ispe := fullBox("ispe", 0, 0, be32(w), be32(h))
	ipco := box("ipco", hvcc, ispe)
	ipma := fullBox("ipma", 0, 0, be32(1), be16(1), []byte{2, 0x81, 0x02})
	iprp := box("iprp", ipco, ipma)
	coded := []byte{0, 0, 0, 4, 0x26, 0x01, 0xAF, 0x00}
	// iloc v0: offset size 4, length size 4, base offset size 0; one item, one extent.
	ilocFor := func(offset int) []byte {
		return fullBox("iloc", 0, 0, []byte{0x44, 0x00}, be16(1), be16(1), be16(0), be16(1), be32(offset), be32(len(coded)))
	}
	meta := fullBox("meta", 0, 0, hdlr, pitm, ilocFor(0), iinf, iprp)
	offset := len(ftyp) + len(meta) + 8
	meta = fullBox("meta", 0, 0, hdlr, pitm, ilocFor(offset), iinf, iprp)
	return bytes.Join([][]byte{ftyp, meta, box("mdat", coded)}, nil)
}

// ---- TIFF ---------------------------------------------------------------------------------

type ifdEntry struct {
	tag, typ uint16
	values   []uint32
}

// tiffFile is a little-endian, uncompressed, single-strip TIFF: the IFD's entries are written as
// given (sorted by tag by the caller) plus the strip's offset and byte count.
func tiffFile(entries []ifdEntry, strip []byte) []byte {
	const (
		short = 3
		long  = 4
	)
	stripOffset := 8
	ifdOffset := stripOffset + len(strip)
	if ifdOffset%2 == 1 {
		ifdOffset++
	}
	all := append([]ifdEntry(nil), entries...)
	all = append(all, ifdEntry{273, long, []uint32{uint32(stripOffset)}}, ifdEntry{279, long, []uint32{uint32(len(strip))}})
	sortEntries(all)
	extraStart := ifdOffset + 2 + 12*len(all) + 4
	var ifd, extra bytes.Buffer
	binary.Write(&ifd, binary.LittleEndian, uint16(len(all)))
	for _, e := range all {
		binary.Write(&ifd, binary.LittleEndian, []uint16{e.tag, e.typ})
		binary.Write(&ifd, binary.LittleEndian, uint32(len(e.values)))
		size := 2
		if e.typ == long {
			size = 4
		}
		var val bytes.Buffer
		for _, v := range e.values {
			if size == 2 {
				binary.Write(&val, binary.LittleEndian, uint16(v))
			} else {
				binary.Write(&val, binary.LittleEndian, v)
			}
		}
		if val.Len() <= 4 {
			v := append(val.Bytes(), make([]byte, 4-val.Len())...)
			ifd.Write(v)
		} else {
			binary.Write(&ifd, binary.LittleEndian, uint32(extraStart+extra.Len()))
			extra.Write(val.Bytes())
		}
	}
	binary.Write(&ifd, binary.LittleEndian, uint32(0))
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, binary.LittleEndian, uint32(ifdOffset))
	b.Write(strip)
	for b.Len() < ifdOffset {
		b.WriteByte(0)
	}
	b.Write(ifd.Bytes())
	b.Write(extra.Bytes())
	return b.Bytes()
}

func sortEntries(es []ifdEntry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].tag < es[j-1].tag; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// tiffImage is a w×h uncompressed TIFF with spp samples of bits each, photometric pm.
func tiffImage(w, h, spp, bits, pm int, strip []byte) []byte {
	bps := make([]uint32, spp)
	for i := range bps {
		bps[i] = uint32(bits)
	}
	return tiffFile([]ifdEntry{
		{256, 4, []uint32{uint32(w)}},
		{257, 4, []uint32{uint32(h)}},
		{258, 3, bps},
		{259, 3, []uint32{1}},
		{262, 3, []uint32{uint32(pm)}},
		{277, 3, []uint32{uint32(spp)}},
		{278, 4, []uint32{uint32(h)}},
		{284, 3, []uint32{1}},
	}, strip)
}
