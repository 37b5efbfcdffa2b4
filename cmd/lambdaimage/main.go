// Command lambdaimage writes the functions' Lambda container image as an OCI image archive,
// without a container engine (make image): the root filesystem of image/packages.txt (built
// with debootstrap and image/install.sh, or taken from the cache) plus the two bootstraps built
// here, with the Dockerfile's entry point and environment. Needs root and debootstrap.
//
//	lambdaimage [-out out/graphphoto-amd64.oci.tar] [-cache ~/.cache/graphphoto]
//	            [-mirror URL] [-security-mirror URL]
//
// The mirrors default to this machine's apt sources.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/graphphoto/graphphoto/internal/lambdaimage"
	"github.com/graphphoto/graphphoto/internal/tool"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lambdaimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	arch := lambdaimage.DebianArch()
	out := fs.String("out", filepath.Join("out", "graphphoto-"+arch+".oci.tar"), "archive to write")
	cache := fs.String("cache", "", "folder of cached root filesystems (default ~/.cache/graphphoto)")
	mirror := fs.String("mirror", "", "Debian archive (default: this machine's apt sources)")
	security := fs.String("security-mirror", "", "Debian security archive (default: this machine's apt sources)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "lambdaimage: %v\n", err)
		return 1
	}
	if os.Geteuid() != 0 {
		return fail(fmt.Errorf("needs root: debootstrap and chroot"))
	}
	wd, err := os.Getwd()
	if err != nil {
		return fail(err)
	}
	repo, ok := tool.ModuleRoot(wd)
	if !ok {
		return fail(fmt.Errorf("run it inside the repository (no go.mod above %s)", wd))
	}
	if *cache == "" {
		if *cache, err = lambdaimage.DefaultCacheDir(); err != nil {
			return fail(err)
		}
	}
	mirrors, err := lambdaimage.AptMirrors("/etc/apt", lambdaimage.Suite)
	if err != nil {
		return fail(err)
	}
	if *mirror != "" {
		mirrors.Main = *mirror
	}
	if *security != "" {
		mirrors.Security = *security
	}
	root, err := lambdaimage.EnsureRoot(ctx, lambdaimage.RootOptions{Repo: repo, CacheDir: *cache, Mirrors: mirrors, Arch: arch, Log: stderr})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "lambdaimage: root filesystem %s (built: %v, %v)\n", root.Dir, root.Built, root.Took.Round(1e9))
	work, err := os.MkdirTemp("", "lambdaimage-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(work)
	boots, err := lambdaimage.BuildBootstraps(ctx, repo, work)
	if err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fail(err)
	}
	a, err := lambdaimage.WriteArchive(ctx, lambdaimage.ArchiveSpec{
		Root: root.Dir, Bootstraps: boots, Arch: arch, Config: lambdaimage.ImageConfig(), RefName: "latest",
	}, *out)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "%s: OCI image linux/%s, manifest %s, %d layers, %.1f MB compressed, %.1f MB uncompressed\n",
		a.Path, arch, a.Digest, a.Layers, float64(a.Compressed)/1e6, float64(a.Uncompressed)/1e6)
	return 0
}
