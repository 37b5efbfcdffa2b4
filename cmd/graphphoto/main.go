// Command graphphoto is the admin's tool: `normalise` previews exactly what would be uploaded;
// `put`, `get` and `delete` talk to Microsoft Graph.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/graphphoto/graphphoto/internal/imageproc"
)

const usage = `usage:
  graphphoto normalise [--size N] [--crop attention|centre|none] [--quality Q] [--max-bytes B] --out DIR FILE...
  graphphoto put [photo options] [--dry-run] TARGET FILE
  graphphoto get TARGET [FILE]
  graphphoto delete TARGET
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes: 0 done (rejected images included), 1 a failure, 2 usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "normalise", "normalize":
		return runNormalise(ctx, args[1:], stdout, stderr)
	case "put", "get", "delete":
		return runGraph(ctx, args[0], args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "graphphoto: unknown command %q\n%s", args[0], usage)
	return 2
}

// photoFlags registers the normaliser's options on fs, with the defaults of
// docs/architecture.md §7; call the returned function after fs.Parse.
func photoFlags(fs *flag.FlagSet) func() (imageproc.Options, error) {
	size := fs.Int("size", imageproc.DefaultSize, "square side in pixels (longest side with --crop none); never upscaled")
	crop := fs.String("crop", "attention", "attention, centre or none (fit inside)")
	quality := fs.Int("quality", imageproc.DefaultQuality, "starting JPEG quality (1-100), lowered only to meet --max-bytes")
	maxBytes := fs.Int("max-bytes", imageproc.DefaultMaxBytes, "byte budget of the JPEG (at least 10000)")
	maxPixels := fs.Int("max-pixels", imageproc.DefaultMaxPixels, "largest source in pixels, read from the header")
	return func() (imageproc.Options, error) {
		c, err := imageproc.ParseCrop(*crop)
		if err != nil {
			return imageproc.Options{}, err
		}
		// Zero means "default" inside imageproc; on the command line it is a mistake.
		if *size < 1 || *quality < 1 || *maxBytes < 1 || *maxPixels < 1 {
			return imageproc.Options{}, fmt.Errorf("--size, --quality, --max-bytes and --max-pixels must be positive")
		}
		o := imageproc.Options{Size: *size, Crop: c, Quality: *quality, MaxBytes: *maxBytes, MaxPixels: *maxPixels}
		return o, o.Validate()
	}
}
