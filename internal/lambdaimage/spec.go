// Package lambdaimage assembles the functions' Lambda container image on this machine without a
// container engine, from the same package list and install script the Dockerfile uses: a
// Debian 12 root filesystem made with debootstrap (cached by the list's hash), the two
// bootstraps built with cgo against this machine's libvips (the same Debian package), a
// read-only chroot of it in which the bootstraps run under the Lambda Runtime Interface Emulator
// (make image-test), and an OCI image archive of it that can be pushed to ECR (make image).
//
// The layout both builds share (paths, entry point, environment, build flags) is declared here
// once; internal/deploy checks the Dockerfile against it.
package lambdaimage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Files of the repository both builds read, relative to its root.
const (
	PackagesFile  = "image/packages.txt"
	InstallScript = "image/install.sh"
)

const (
	// Suite is the Debian release of the image: the one this machine and its libvips run.
	Suite = "bookworm"
	// TaskRoot is Lambda's task root, where the bootstraps live.
	TaskRoot = "/var/task"
	// DebianPath is the PATH debian images set, which the Dockerfile inherits.
	DebianPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// BuildTags and LDFlags are the go build flags of the bootstraps (with -trimpath and
	// CGO_ENABLED=1): lambda.norpc drops the RPC runtime Lambda's custom runtimes do not use.
	BuildTags = "lambda.norpc"
	LDFlags   = "-s -w"
)

// Bootstrap is one function's binary: the main package it is built from and its path in the image.
type Bootstrap struct {
	Name    string // onupload, api
	Package string // ./functions/onupload
	Path    string // /var/task/onupload
}

// Bootstraps are the image's two binaries; template.yaml's ImageConfig.Command picks one.
func Bootstraps() []Bootstrap {
	return []Bootstrap{
		{Name: "onupload", Package: "./functions/onupload", Path: TaskRoot + "/onupload"},
		{Name: "api", Package: "./functions/api", Path: TaskRoot + "/api"},
	}
}

// Config is the image's run configuration, as the Dockerfile's final stage sets it.
type Config struct {
	Entrypoint []string // empty: the command is the bootstrap itself
	Cmd        []string
	WorkingDir string
	Env        []string // KEY=value
}

// ImageConfig is the configuration of the image: no entry point (Lambda runs
// ImageConfig.Command, a bootstrap that speaks the Runtime API itself), onupload as the default
// command, and the environment libvips runs with in every test.
func ImageConfig() Config {
	return Config{
		Entrypoint: []string{},
		Cmd:        []string{TaskRoot + "/onupload"},
		WorkingDir: TaskRoot,
		Env: []string{
			"PATH=" + DebianPath,
			// Refuse any loader libvips marks untrusted, should one ever be installed.
			"VIPS_BLOCK_UNTRUSTED=1",
			// glibc's per-thread arenas otherwise keep libvips' freed pages (RSS grows).
			"MALLOC_ARENA_MAX=2",
		},
	}
}

var packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// ReadPackages reads a package list: one Debian package name per line, '#' comments and blank
// lines ignored. It refuses a malformed name, a duplicate, an empty list, and any package that
// must not be in a runtime image (see Forbidden).
func ReadPackages(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("package list: %w", err)
	}
	return ParsePackages(b)
}

// ParsePackages is ReadPackages on the file's bytes.
func ParsePackages(b []byte) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) > 1 {
			return nil, fmt.Errorf("package list line %d: %q: one package per line", n, strings.TrimSpace(line))
		}
		name := fields[0]
		if !packageName.MatchString(name) {
			return nil, fmt.Errorf("package list line %d: %q is not a Debian package name", n, name)
		}
		if why := Forbidden(name); why != "" {
			return nil, fmt.Errorf("package list line %d: %s: %s", n, name, why)
		}
		if seen[name] {
			return nil, fmt.Errorf("package list line %d: %s is listed twice", n, name)
		}
		seen[name] = true
		out = append(out, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("package list: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("package list names no package")
	}
	return out, nil
}

// compilers are the Debian packages of C/C++ compilers, assemblers, linkers and Go.
// (gcc-12-base, which libgcc-s1 needs, is documentation only and not matched.)
var compilers = regexp.MustCompile(`^(gcc|g\+\+|cpp|clang|tcc)(-[0-9.]+)?$|^(binutils|golang|llvm|nasm|yasm|make|cmake|meson|ninja-build|pkg-config|pkgconf)($|-)`)

// Forbidden says why a Debian package must not be in the runtime image, "" when it may: build
// material (headers, static libraries, compilers, build tools) is neither needed nor wanted
// where untrusted images are decoded.
func Forbidden(name string) string {
	switch {
	case strings.HasSuffix(name, "-dev") || strings.Contains(name, "-dev:"):
		return "a -dev package (headers and build files) has no place in the runtime image"
	case compilers.MatchString(name):
		return "a compiler or build tool has no place in the runtime image"
	}
	return ""
}
