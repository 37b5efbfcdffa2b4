package lambdaimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// partialInfix marks a root filesystem being built (rootfs-KEY.partial-PID); it becomes
// rootfs-KEY by a rename once complete, so a cached root is always a finished one.
const partialInfix = ".partial-"

// RootOptions say where a root filesystem is built from and kept.
type RootOptions struct {
	Repo     string  // repository root: the package list and the install script are read from it
	CacheDir string  // where roots are kept, e.g. ~/.cache/graphphoto
	Mirrors  Mirrors // Debian archives (AptMirrors reads this machine's)
	Arch     string  // Debian architecture; empty: this machine's (DebianArch)
	Log      io.Writer
	// CacheOnly returns ErrNotCached rather than building a root that is not in the cache.
	CacheOnly bool
}

// ErrNotCached is EnsureRoot's error under CacheOnly when the list's root was never built.
var ErrNotCached = errors.New("the image's root filesystem for this package list is not in the cache: make image-test builds it")

// Root is a finished root filesystem.
type Root struct {
	Dir      string
	Key      string
	Packages []string      // the list it was installed from
	Built    bool          // made by this call; false when taken from the cache
	Took     time.Duration // how long it took to make or find
}

// DefaultCacheDir is $XDG_CACHE_HOME/graphphoto, or ~/.cache/graphphoto: outside the work tree.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache folder: %w", err)
	}
	return filepath.Join(dir, "graphphoto"), nil
}

// DebianArch is Debian's name for this machine's architecture.
func DebianArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	}
	return runtime.GOARCH // amd64, arm64, ppc64le, s390x, riscv64 are spelt alike
}

// RootKey names a root filesystem by everything that decides its contents: the suite, the
// architecture, the package list and the install script. A change to any of them builds anew.
func RootKey(arch string, packages, script []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "graphphoto root filesystem 1\nsuite %s\narch %s\n", Suite, arch)
	fmt.Fprintf(h, "packages %d\n", len(packages))
	h.Write(packages)
	fmt.Fprintf(h, "script %d\n", len(script))
	h.Write(script)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// EnsureRoot returns the cached root filesystem for the repository's package list, building it
// first when there is none: debootstrap's minbase of Suite, the Suite, -updates and -security
// archives as apt sources, then image/install.sh on image/packages.txt inside it, as the
// Dockerfile runs them. Concurrent callers build it once (a lock file).
func EnsureRoot(ctx context.Context, opts RootOptions) (*Root, error) {
	start := time.Now()
	if opts.Arch == "" {
		opts.Arch = DebianArch()
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	listBytes, err := os.ReadFile(filepath.Join(opts.Repo, PackagesFile))
	if err != nil {
		return nil, fmt.Errorf("root filesystem: %w", err)
	}
	packages, err := ParsePackages(listBytes)
	if err != nil {
		return nil, fmt.Errorf("root filesystem: %s: %w", PackagesFile, err)
	}
	script, err := os.ReadFile(filepath.Join(opts.Repo, InstallScript))
	if err != nil {
		return nil, fmt.Errorf("root filesystem: %w", err)
	}
	key := RootKey(opts.Arch, listBytes, script)
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("root filesystem: %w", err)
	}
	dir := filepath.Join(opts.CacheDir, "rootfs-"+opts.Arch+"-"+key)
	unlock, err := lockFile(dir + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := CleanStaleMounts(opts.CacheDir); err != nil {
		return nil, err
	}
	root := &Root{Dir: dir, Key: key, Packages: packages}
	if _, err := os.Stat(filepath.Join(dir, "var/lib/dpkg/status")); err == nil {
		root.Took = time.Since(start)
		return root, nil
	}
	if opts.CacheOnly {
		return nil, ErrNotCached
	}
	partial := dir + partialInfix + strconv.Itoa(os.Getpid())
	if err := os.RemoveAll(partial); err != nil {
		return nil, fmt.Errorf("root filesystem: %w", err)
	}
	if err := build(ctx, opts, partial, listBytes, script); err != nil {
		return nil, errors.Join(err, os.RemoveAll(partial))
	}
	if err := os.Rename(partial, dir); err != nil {
		return nil, fmt.Errorf("root filesystem: %w", err)
	}
	root.Built, root.Took = true, time.Since(start)
	return root, nil
}

func build(ctx context.Context, opts RootOptions, dir string, list, script []byte) error {
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("root filesystem: debootstrap is not installed (apt-get install debootstrap): %w", err)
	}
	fmt.Fprintf(opts.Log, "lambdaimage: debootstrap --variant=minbase %s from %s into %s\n", Suite, opts.Mirrors.Main, dir)
	cmd := exec.CommandContext(ctx, debootstrap, "--variant=minbase", "--arch="+opts.Arch, "--components=main", Suite, dir, opts.Mirrors.Main)
	cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("root filesystem: debootstrap: %w", err)
	}
	// The same apt sources a debian:bookworm-slim image has, on this machine's archives.
	sources := filepath.Join(dir, "etc/apt/sources.list.d/debian.sources")
	if err := os.WriteFile(sources, []byte(SourcesFile(opts.Mirrors, Suite)), 0o644); err != nil {
		return fmt.Errorf("root filesystem: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, "etc/apt/sources.list")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("root filesystem: %w", err)
	}
	work := filepath.Join(dir, "tmp/graphphoto-image")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fmt.Errorf("root filesystem: %w", err)
	}
	for name, b := range map[string][]byte{"packages.txt": list, "install.sh": script} {
		if err := os.WriteFile(filepath.Join(work, name), b, 0o644); err != nil {
			return fmt.Errorf("root filesystem: %w", err)
		}
	}
	// apt inside the root resolves the archive's name with this machine's resolver.
	if resolv, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		os.Remove(filepath.Join(dir, "etc/resolv.conf"))
		if err := os.WriteFile(filepath.Join(dir, "etc/resolv.conf"), resolv, 0o644); err != nil {
			return fmt.Errorf("root filesystem: %w", err)
		}
	}
	fmt.Fprintf(opts.Log, "lambdaimage: sh %s %s (in the root)\n", InstallScript, PackagesFile)
	m, err := mountForInstall(dir)
	if err != nil {
		return err
	}
	install := chrootCommand(ctx, dir, []string{"LC_ALL=C", "HOME=/root"}, "/bin/sh", "/tmp/graphphoto-image/install.sh", "/tmp/graphphoto-image/packages.txt")
	install.Stdout, install.Stderr = opts.Log, opts.Log
	runErr := install.Run()
	if err := m.Close(); err != nil {
		return errors.Join(runErr, err)
	}
	if runErr != nil {
		return fmt.Errorf("root filesystem: %s: %w", InstallScript, runErr)
	}
	return tidy(dir)
}

// tidy leaves what a container build would: no build-time files in /tmp, no device nodes in
// /dev (the runtime provides its own), no name server or host name of this machine (Lambda
// provides its own), no debootstrap log.
func tidy(dir string) error {
	for _, sub := range []string{"tmp", "dev"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return fmt.Errorf("root filesystem: %w", err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, sub, e.Name())); err != nil {
				return fmt.Errorf("root filesystem: %w", err)
			}
		}
	}
	for _, f := range []string{"etc/resolv.conf", "etc/hostname", "var/log/bootstrap.log"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("root filesystem: %w", err)
		}
	}
	return nil
}

// lockFile takes an exclusive lock on path, waiting for another holder to finish.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("root filesystem: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("root filesystem: lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// BuildBootstraps builds the two bootstraps exactly as the Dockerfile does (cgo, -trimpath,
// BuildTags, LDFlags), against this machine's libvips, into dir; it returns their paths by
// image path.
func BuildBootstraps(ctx context.Context, repo, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, b := range Bootstraps() {
		bin := filepath.Join(dir, b.Name)
		cmd := exec.CommandContext(ctx, "go", BuildArgs(bin, b.Package)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if output, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", b.Package, err, output)
		}
		out[b.Path] = bin
	}
	return out, nil
}

// BuildArgs are the go command's arguments that build one bootstrap.
func BuildArgs(out, pkg string) []string {
	return []string{"build", "-trimpath", "-tags", BuildTags, "-ldflags=" + LDFlags, "-o", out, pkg}
}

// TreeSize is the bytes of the regular files and symbolic links under dir, each hard-linked
// file counted once: the uncompressed size of an image layer of dir, less tar's headers.
func TreeSize(dir string) (int64, error) {
	var total int64
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&(fs.ModeDir|fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := [2]uint64{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return total, nil
}

// HostPackageVersion is the version of a Debian package installed on this machine.
func HostPackageVersion(name string) (string, error) {
	b, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		return "", fmt.Errorf("dpkg status: %w", err)
	}
	v, ok := InstalledPackages(b)[name]
	if !ok {
		return "", fmt.Errorf("%s is not installed on this machine", name)
	}
	return v, nil
}

// RootPackages are the packages installed in a root filesystem, with their versions.
func RootPackages(root string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return nil, fmt.Errorf("dpkg status of %s: %w", root, err)
	}
	return InstalledPackages(bytes.TrimSpace(b)), nil
}

// modulesDirs are libvips' module folders under a root (usr/lib/<triplet>/vips-modules-X.Y).
func modulesDirs(root string) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "usr/lib/*/vips-modules-*"))
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no libvips modules folder under %s", root)
	}
	return dirs, nil
}

// VipsModules lists the libvips modules a root ships, as "vips-modules-8.14/vips-heif.so".
func VipsModules(root string) ([]string, error) {
	dirs, err := modulesDirs(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".so") {
				out = append(out, filepath.Base(d)+"/"+e.Name())
			}
		}
	}
	return out, nil
}
