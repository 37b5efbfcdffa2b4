package tool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// VipsHome makes dir a libvips home (VIPSHOME) whose module folder holds only the named modules
// of the system's libvips (e.g. "heif"), and returns dir.
//
// Why: Debian's libvips loads every module it ships at start-up (ImageMagick, poppler,
// OpenSlide, JPEG XL, HEIF), which costs start-up time and puts parsers we never allow in the
// process. The Lambda image ships the same Debian libvips with the HEIF module only
// (image/install.sh deletes the others); pointing VIPSHOME here gives a local process that set. libvips looks for modules in
// $VIPSHOME/<basename of its libdir>/vips-modules-MAJOR.MINOR.
func VipsHome(dir string, modules ...string) (string, error) {
	libdir, err := pkgConfig("--variable=libdir")
	if err != nil {
		return "", err
	}
	version, err := pkgConfig("--modversion")
	if err != nil {
		return "", err
	}
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return "", fmt.Errorf("vips home: unexpected libvips version %q", version)
	}
	name := "vips-modules-" + parts[0] + "." + parts[1]
	src := filepath.Join(libdir, name)
	dst := filepath.Join(dir, filepath.Base(libdir), name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", fmt.Errorf("vips home: %w", err)
	}
	for _, m := range modules {
		file := "vips-" + m + ".so"
		if _, err := os.Stat(filepath.Join(src, file)); err != nil {
			return "", fmt.Errorf("vips home: module %s not in %s: %w", m, src, err)
		}
		link := filepath.Join(dst, file)
		os.Remove(link)
		if err := os.Symlink(filepath.Join(src, file), link); err != nil {
			return "", fmt.Errorf("vips home: %w", err)
		}
	}
	return dir, nil
}

func pkgConfig(arg string) (string, error) {
	out, err := exec.Command("pkg-config", arg, "vips").Output()
	if err != nil {
		return "", fmt.Errorf("vips home: pkg-config %s vips: %w", arg, err)
	}
	return strings.TrimSpace(string(out)), nil
}
