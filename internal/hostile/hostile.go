// Package hostile makes the files an attacker, a broken exporter or a curious user would upload
// instead of a photo: pixel bombs that declare billions of pixels in a few bytes,
// images that are expensive to decompress, files cut short at many offsets, corrupt headers,
// scripts and documents, polyglots, degenerate sizes, 16-bit and CMYK edge cases and a
// 1,000-frame GIF. Each case says what the pipeline must make of it: a typed rejection with a
// stable reason, or a photo of a given size.
//
// Everything is built in memory from first principles (chunk by chunk, box by box) so the
// repository carries no binary fixtures; only the progressive and CMYK JPEGs need an encoder Go
// lacks, and use libvips (vips.go).
package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Reasons a case may be refused with; they are imageproc's stable codes, repeated here so that
// this package depends on nothing it tests.
const (
	UnsupportedFormat = "unsupported_format"
	TooManyPixels     = "too_many_pixels"
	TooSmall          = "too_small"
	CorruptImage      = "corrupt_image"
)

// Case is one hostile file and what must become of it.
type Case struct {
	Name  string // file name, with the extension the content claims
	Class string // bomb, decompression, truncated, corrupt, script, document, polyglot, size, depth, animation
	What  string // one line for reports
	Data  []byte
	Want  Want
}

// Want is the outcome a case must get: Reason "" means a photo of Side×Side pixels (the
// normaliser's square, never upscaled); otherwise the rejection's reason.
type Want struct {
	Reason string
	Side   int
}

// Photo is the outcome of a case that must become a photo.
func Photo(side int) Want { return Want{Side: side} }

// Rejected is the outcome of a case that must be refused for reason.
func Rejected(reason string) Want { return Want{Reason: reason} }

func (w Want) String() string {
	if w.Reason == "" {
		return fmt.Sprintf("photo %dx%d", w.Side, w.Side)
	}
	return "rejected: " + w.Reason
}

// builder makes one or more cases; a builder that cannot build its file fails the whole set,
// since a missing case would shrink the proof silently.
type builder func() ([]Case, error)

// Cases builds every hostile file, sorted by name. It takes a second or two: a few cases
// encode real pixels.
func Cases() ([]Case, error) {
	builders := []builder{
		bombs, decompression, truncations, corruptHeaders, scripts, documents, polyglots, sizes, depths, animations,
	}
	var all []Case
	seen := map[string]bool{}
	for _, b := range builders {
		cs, err := b()
		if err != nil {
			return nil, fmt.Errorf("hostile: %w", err)
		}
		for _, c := range cs {
			if seen[c.Name] {
				return nil, fmt.Errorf("hostile: two cases named %s", c.Name)
			}
			seen[c.Name] = true
			all = append(all, c)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

// WriteDir writes every case into dir, one file each, and returns the cases.
func WriteDir(dir string) ([]Case, error) {
	cs, err := Cases()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("hostile: %w", err)
	}
	for _, c := range cs {
		if err := os.WriteFile(filepath.Join(dir, c.Name), c.Data, 0o644); err != nil {
			return nil, fmt.Errorf("hostile: %w", err)
		}
	}
	return cs, nil
}
