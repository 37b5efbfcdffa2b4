package imagetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"

	"github.com/graphphoto/graphphoto/internal/hostile"
)

// The files generated from the repository's real images. They are made when a test asks, not
// committed: nothing can drift between a generator and its output, and the repository stays
// small. Each kind is made by an encoder that writes the format for real (Go's own PNG and GIF
// encoders, libvips' WebP, TIFF, progressive and CMYK JPEG writers, the hostile package's
// pixel bombs) from a real photo, so the decoders meet what a camera, an editor or a print
// workflow writes.
const (
	// camera is the real camera JPEG every generated photo starts from.
	camera = "jpeg_camera_3mp_canon_exif6.jpg"
	// fogra39 carries the print profile of the CMYK JPEG: Coated FOGRA39, not libvips' built-in
	// CMYK profile, so a test can tell which of the two a conversion used.
	fogra39 = "tiff_cmyk_fogra39.tif"
	// frameBox is the box the photo is fitted in: upright 720×960, larger than the 648 px photo on
	// both sides (so each format goes through the resize) and within the 1000 px the colour tests
	// compare unresized.
	frameBox         = 960
	frameW, frameH   = 720, 960
	smallBox         = 480 // the GIF's frame, as GIFs are small
	smallW, smallH   = 360, 480
	jpegBombW        = 20000
	jpegBombH        = 14000
	pngBombSide      = 65536
	cameraW, cameraH = 2048, 1536 // the camera JPEG as stored (EXIF orientation 6)
	undecodable      = "undecodable by libvips"
)

type gen struct {
	File
	build func(dir string) ([]byte, error)
}

// generators is the table of generated files; the facts of each (size, format) are checked
// against what libvips reads back by TestGenerated.
func generators() []gen {
	photo := func(what, name, format string, build func(dir string) ([]byte, error)) gen {
		return gen{File{Set: SetGenerated, Name: name, Width: frameW, Height: frameH, Format: format, What: what}, build}
	}
	return []gen{
		photo("CMYK JPEG with the Coated FOGRA39 profile embedded (the camera photo converted by libvips' icc_transform)",
			"jpeg_cmyk_fogra39_icc.jpg", "jpeg", func(dir string) ([]byte, error) { return cmykJPEG(dir, ".jpg[Q=90]") }),
		photo("CMYK JPEG without a profile (the same pixels, profile stripped)",
			"jpeg_cmyk_untagged.jpg", "jpeg", func(dir string) ([]byte, error) { return cmykJPEG(dir, ".jpg[Q=90,strip]") }),
		photo("progressive JPEG", "jpeg_progressive.jpg", "jpeg", vipsSaved(".jpg[Q=85,interlace]")),
		photo("16-bit RGB PNG (Go's encoder; 8-bit samples widened ×257)", "png16_rgb_photo.png", "png", png16),
		photo("8-bit palette PNG, Plan 9 palette, Floyd-Steinberg dithered (Go's encoder)", "png_palette_photo.png", "png", pngPalette),
		photo("RGBA PNG: opaque ellipse fading to transparent corners (Go's encoder)", "png_rgba_vignette.png", "png", pngRGBA),
		photo("simple lossy WebP (RIFF, VP8, as cwebp writes it)", "webp_lossy_photo.webp", "webp", webpLossy),
		photo("lossy WebP with an alpha channel (VP8X, ALPH, VP8)", "webp_alpha_vignette.webp", "webp", webpAlpha),
		photo("TIFF, LZW with horizontal predictor", "tiff_rgb_lzw.tif", "tiff", vipsSaved(".tif[compression=lzw,predictor=horizontal]")),
		{File{Set: SetGenerated, Name: "gif_animated_transparent.gif", Width: smallW, Height: smallH, Format: "gif",
			What: "animated GIF, 3 frames, transparent border (Go's encoder)"}, animatedGIF},
		{File{Set: SetGenerated, Name: "bomb_jpeg_20000x14000.jpg", Width: jpegBombW, Height: jpegBombH, Format: "jpeg",
			What: "pixel bomb: 64×64 baseline JPEG whose SOF0 declares 20000×14000 (hostile.JPEGDeclaring)"},
			func(string) ([]byte, error) { return hostile.JPEGDeclaring(jpegBombW, jpegBombH) }},
		{File{Set: SetGenerated, Name: "bomb_png_65536x65536.png", Width: pngBombSide, Height: pngBombSide, Format: "png",
			What: "pixel bomb: PNG IHDR declaring 65536×65536 RGB over an empty IDAT (hostile.PNGHeaderOnly)"},
			func(string) ([]byte, error) { return hostile.PNGHeaderOnly(pngBombSide, pngBombSide, 0), nil }},
		{File{Set: SetGenerated, Name: "jpeg_truncated_camera.jpg", Width: cameraW, Height: cameraH, Format: "jpeg",
			What: "the camera JPEG cut after half its bytes, as an interrupted upload leaves it"}, truncatedCamera},
		{File{Set: SetGenerated, Name: "jpeg_corrupt_header_camera.jpg", Format: undecodable,
			What: "the camera JPEG with its Huffman table counts overwritten (more codes than a table holds)"}, corruptHeaderCamera},
	}
}

// Generated lists the generated files with their facts.
func Generated() []File {
	var out []File
	for _, g := range generators() {
		out = append(out, g.File)
	}
	return out
}

func generator(name string) (gen, bool) {
	for _, g := range generators() {
		if g.Name == name {
			return g, true
		}
	}
	return gen{}, false
}

// Generate makes the generated file called name from the repository's own images (never from
// PHOTO_CORPUS, so both runs test the same generated files).
func Generate(name string) ([]byte, error) {
	g, ok := generator(name)
	if !ok {
		return nil, fmt.Errorf("imagetest: %s is not a generated file", name)
	}
	dir, err := RepoDir()
	if err != nil {
		return nil, err
	}
	b, err := g.build(dir)
	if err != nil {
		return nil, fmt.Errorf("imagetest: generate %s: %w", name, err)
	}
	return b, nil
}

// photoFrame is the camera photo fitted in box×box, upright, as 8-bit sRGB.
func photoFrame(dir string, box int) (pix []byte, w, h int, err error) {
	src, err := os.ReadFile(filepath.Join(dir, camera))
	if err != nil {
		return nil, 0, 0, err
	}
	return frame(src, box)
}

func vipsSaved(suffix string) func(dir string) ([]byte, error) {
	return func(dir string) ([]byte, error) {
		pix, w, h, err := photoFrame(dir, frameBox)
		if err != nil {
			return nil, err
		}
		return save(pix, w, h, 3, "", suffix)
	}
}

// cmykJPEG converts the photo to CMYK through the FOGRA39 profile carried by the CMYK TIFF.
func cmykJPEG(dir, suffix string) ([]byte, error) {
	tif, err := os.ReadFile(filepath.Join(dir, fogra39))
	if err != nil {
		return nil, err
	}
	icc, err := iccOf(tif)
	if err != nil {
		return nil, err
	}
	if len(icc) == 0 {
		return nil, fmt.Errorf("%s carries no ICC profile", fogra39)
	}
	// libvips 8.14 takes an output profile only as a file.
	f, err := os.CreateTemp("", "fogra39-*.icc")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(icc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	pix, w, h, err := photoFrame(dir, frameBox)
	if err != nil {
		return nil, err
	}
	return save(pix, w, h, 3, f.Name(), suffix)
}

// rgbImage wraps packed 8-bit RGB as an image.
func rgbImage(pix []byte, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i < len(pix); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = pix[i], pix[i+1], pix[i+2], 255
	}
	return img
}

// vignette is the alpha of a w×h picture: opaque inside an ellipse of 0.8 of its sides, fading
// to fully transparent at the corners.
func vignette(x, y, w, h int) uint8 {
	dx := (float64(x) + 0.5 - float64(w)/2) / (float64(w) / 2)
	dy := (float64(y) + 0.5 - float64(h)/2) / (float64(h) / 2)
	r := dx*dx + dy*dy
	switch {
	case r <= 0.64:
		return 255
	case r >= 1:
		return 0
	}
	return uint8(255 * (1 - r) / (1 - 0.64))
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	// Fastest deflate: the files are made on every test run, and the level changes only how
	// small the IDAT is, not what a decoder meets.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func png16(dir string) ([]byte, error) {
	pix, w, h, err := photoFrame(dir, frameBox)
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA64(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i < len(pix); i, j = i+3, j+8 {
		for k := range 3 {
			binary.BigEndian.PutUint16(img.Pix[j+2*k:], uint16(pix[i+k])*257)
		}
		binary.BigEndian.PutUint16(img.Pix[j+6:], 0xFFFF)
	}
	return encodePNG(img)
}

func pngPalette(dir string) ([]byte, error) {
	pix, w, h, err := photoFrame(dir, frameBox)
	if err != nil {
		return nil, err
	}
	pal := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
	draw.FloydSteinberg.Draw(pal, pal.Bounds(), rgbImage(pix, w, h), image.Point{})
	return encodePNG(pal)
}

func rgbaVignette(dir string) (*image.NRGBA, error) {
	pix, w, h, err := photoFrame(dir, frameBox)
	if err != nil {
		return nil, err
	}
	img := rgbImage(pix, w, h)
	for y := range h {
		for x := range w {
			img.Pix[img.PixOffset(x, y)+3] = vignette(x, y, w, h)
		}
	}
	return img, nil
}

func pngRGBA(dir string) ([]byte, error) {
	img, err := rgbaVignette(dir)
	if err != nil {
		return nil, err
	}
	return encodePNG(img)
}

func webpAlpha(dir string) ([]byte, error) {
	img, err := rgbaVignette(dir)
	if err != nil {
		return nil, err
	}
	return save(img.Pix, img.Rect.Dx(), img.Rect.Dy(), 4, "", ".webp[Q=75]")
}

// webpLossy keeps only the VP8 chunk of libvips' WebP: libvips 8.14 always adds an EXIF chunk,
// and with it the extended (VP8X) layout, which most WebP encoders do not write.
func webpLossy(dir string) ([]byte, error) {
	b, err := vipsSaved(".webp[Q=75]")(dir)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errors.New("libvips wrote no WebP")
	}
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if i+8+n > len(b) {
			break
		}
		if string(b[i:i+4]) == "VP8 " {
			out := append([]byte("RIFF\x00\x00\x00\x00WEBP"), b[i:i+8+n]...)
			if n%2 == 1 {
				out = append(out, 0) // chunks are padded to an even length
			}
			binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
			return out, nil
		}
		i += 8 + n + n%2
	}
	return nil, errors.New("libvips wrote a WebP without a VP8 chunk")
}

// animatedGIF: the photo as the first frame, its border outside the vignette transparent, then
// two small frames over it.
func animatedGIF(dir string) ([]byte, error) {
	pix, w, h, err := photoFrame(dir, smallBox)
	if err != nil {
		return nil, err
	}
	pal := append(color.Palette{}, palette.Plan9[:255]...)
	transparent := uint8(len(pal))
	pal = append(pal, color.NRGBA{})
	first := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	draw.FloydSteinberg.Draw(first, first.Bounds(), rgbImage(pix, w, h), image.Point{})
	for y := range h {
		for x := range w {
			if vignette(x, y, w, h) < 128 {
				first.SetColorIndex(x, y, transparent)
			}
		}
	}
	g := &gif.GIF{Image: []*image.Paletted{first}, Delay: []int{50}, Disposal: []byte{gif.DisposalNone},
		Config: image.Config{ColorModel: pal, Width: w, Height: h}, BackgroundIndex: transparent}
	for i, c := range []color.Color{color.NRGBA{220, 30, 30, 255}, color.NRGBA{30, 30, 220, 255}} {
		r := image.Rect(w/4+i*w/4, h/4, w/4+i*w/4+w/8, h/4+h/8)
		fr := image.NewPaletted(r, pal)
		draw.Draw(fr, r, image.NewUniform(c), image.Point{}, draw.Src)
		g.Image = append(g.Image, fr)
		g.Delay = append(g.Delay, 50)
		g.Disposal = append(g.Disposal, gif.DisposalBackground)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func cameraJPEG(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, camera))
}

func truncatedCamera(dir string) ([]byte, error) {
	b, err := cameraJPEG(dir)
	if err != nil {
		return nil, err
	}
	return b[:len(b)/2], nil
}

// corruptHeaderCamera overwrites the 16 code counts of the camera JPEG's first Huffman table
// with 255: 4080 codes, where a table holds at most 256, which libjpeg refuses while reading
// the header.
func corruptHeaderCamera(dir string) ([]byte, error) {
	b, err := cameraJPEG(dir)
	if err != nil {
		return nil, err
	}
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		switch b[i+1] {
		case 0xC4: // DHT: class and id, then 16 counts
			if n < 2+1+16 || i+2+n > len(b) {
				return nil, errors.New("camera JPEG has a short DHT segment")
			}
			for k := range 16 {
				b[i+5+k] = 0xFF
			}
			return b, nil
		case 0xDA:
			return nil, errors.New("camera JPEG has no DHT before its scan")
		}
		i += 2 + n
	}
	return nil, errors.New("camera JPEG has no DHT segment")
}
