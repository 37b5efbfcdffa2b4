package graphtest

import (
	"encoding/binary"
	"errors"
)

type imageInfo struct {
	contentType   string
	width, height int
}

var errNotImage = errors.New("not an image")

// sniffImage reads an image's type and dimensions from its header, without decoding pixels:
// JPEG (the first SOF marker), PNG (IHDR), GIF (logical screen) and BMP (info header).
func sniffImage(b []byte) (imageInfo, error) {
	switch {
	case len(b) >= 4 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return jpegSize(b)
	case len(b) >= 24 && string(b[:8]) == "\x89PNG\r\n\x1a\n" && string(b[12:16]) == "IHDR":
		return imageInfo{"image/png", int(binary.BigEndian.Uint32(b[16:20])), int(binary.BigEndian.Uint32(b[20:24]))}, nil
	case len(b) >= 10 && (string(b[:6]) == "GIF87a" || string(b[:6]) == "GIF89a"):
		return imageInfo{"image/gif", int(binary.LittleEndian.Uint16(b[6:8])), int(binary.LittleEndian.Uint16(b[8:10]))}, nil
	case len(b) >= 26 && string(b[:2]) == "BM":
		w := int(int32(binary.LittleEndian.Uint32(b[18:22])))
		h := int(int32(binary.LittleEndian.Uint32(b[22:26])))
		if h < 0 {
			h = -h
		}
		return imageInfo{"image/bmp", w, h}, nil
	}
	return imageInfo{}, errNotImage
}

// jpegSize walks the JPEG marker segments up to the first start-of-frame.
func jpegSize(b []byte) (imageInfo, error) {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return imageInfo{}, errNotImage
		}
		marker := b[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2
			continue
		case marker == 0xD9 || marker == 0xDA: // end of image or scan before any frame header
			return imageInfo{}, errNotImage
		}
		n := int(binary.BigEndian.Uint16(b[i+2 : i+4]))
		if n < 2 || i+2+n > len(b) {
			return imageInfo{}, errNotImage
		}
		isSOF := marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
		if isSOF {
			if n < 7 {
				return imageInfo{}, errNotImage
			}
			h := int(binary.BigEndian.Uint16(b[i+5 : i+7]))
			w := int(binary.BigEndian.Uint16(b[i+7 : i+9]))
			return imageInfo{"image/jpeg", w, h}, nil
		}
		i += 2 + n
	}
	return imageInfo{}, errNotImage
}
