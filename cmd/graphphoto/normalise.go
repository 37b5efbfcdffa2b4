package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// normaliseLine is the JSON line printed per input.
type normaliseLine struct {
	File         string `json:"file"`
	Status       string `json:"status"` // ok | rejected | error
	Reason       string `json:"reason,omitempty"`
	Message      string `json:"message,omitempty"`
	Out          string `json:"out,omitempty"`
	Width        int    `json:"width,omitempty"`
	Height       int    `json:"height,omitempty"`
	Bytes        int    `json:"bytes,omitempty"`
	Quality      int    `json:"quality,omitempty"`
	SourceFormat string `json:"source_format,omitempty"`
	SourceWidth  int    `json:"source_width,omitempty"`
	SourceHeight int    `json:"source_height,omitempty"`
	MS           int64  `json:"ms"`
}

func runNormalise(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("normalise", flag.ContinueOnError)
	fs.SetOutput(stderr)
	options := photoFlags(fs)
	outDir := fs.String("out", "", "folder for the JPEGs (required)")
	maxSource := fs.Int64("max-source-bytes", 50<<20, "largest input file read, in bytes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts, err := options()
	if err != nil {
		fmt.Fprintf(stderr, "graphphoto normalise: %v\n", err)
		return 2
	}
	if *outDir == "" || fs.NArg() == 0 {
		fmt.Fprintf(stderr, "graphphoto normalise: --out DIR and at least one FILE are required\n%s", usage)
		return 2
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "graphphoto normalise: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	code := 0
	for _, file := range fs.Args() {
		line := normaliseFile(ctx, file, *outDir, *maxSource, opts)
		if line.Status == "error" {
			code = 1
		}
		if err := enc.Encode(line); err != nil {
			fmt.Fprintf(stderr, "graphphoto normalise: %v\n", err)
			return 1
		}
		if ctx.Err() != nil {
			return 1
		}
	}
	return code
}

func normaliseFile(ctx context.Context, file, outDir string, maxSource int64, opts imageproc.Options) normaliseLine {
	start := time.Now()
	line := normaliseLine{File: file}
	src, err := readLimited(file, maxSource)
	if err != nil {
		var tooBig *sourceTooLargeError
		if errors.As(err, &tooBig) {
			line.Status, line.Reason, line.Message = "rejected", photo.ReasonSourceTooLarge.String(), err.Error()
		} else {
			line.Status, line.Message = "error", err.Error()
		}
		return line
	}
	photo, err := imageproc.Normalise(ctx, src, opts)
	line.MS = time.Since(start).Milliseconds()
	var refused *imageproc.Error
	switch {
	case errors.As(err, &refused):
		line.Status, line.Reason, line.Message = "rejected", refused.Code.String(), refused.Error()
		return line
	case err != nil:
		line.Status, line.Message = "error", err.Error()
		return line
	}
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)) + ".jpg"
	out := filepath.Join(outDir, name)
	if err := os.WriteFile(out, photo.JPEG, 0o644); err != nil {
		line.Status, line.Message = "error", err.Error()
		return line
	}
	line.Status, line.Out = "ok", out
	line.Width, line.Height, line.Bytes, line.Quality = photo.Width, photo.Height, photo.Bytes, photo.Quality
	line.SourceFormat, line.SourceWidth, line.SourceHeight = photo.SourceFormat.String(), photo.SourceWidth, photo.SourceHeight
	return line
}

type sourceTooLargeError struct {
	size, limit int64
}

func (e *sourceTooLargeError) Error() string {
	return fmt.Sprintf("source is %d bytes, over the %d-byte limit", e.size, e.limit)
}

// readLimited refuses a file over limit from its size, before reading it.
func readLimited(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, &sourceTooLargeError{size: st.Size(), limit: limit}
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}
