// Package tool finds the programs scripts/setup.sh installs into the repository's bin/ (the S3
// server, the Lambda Runtime Interface Emulator) for the tests and the local stack.
package tool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNotInstalled is wrapped by Find when a program is in neither bin/ nor PATH.
var ErrNotInstalled = errors.New("not installed: run `make setup` (scripts/setup.sh) to build it into bin/")

// Find returns the path of the named program: the repository's bin/ (found by walking up from
// the working directory to go.mod) first, so the pinned build wins over anything on PATH.
func Find(name string) (string, error) {
	if dir, err := os.Getwd(); err == nil {
		if root, ok := ModuleRoot(dir); ok {
			p := filepath.Join(root, "bin", name)
			if Executable(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s is %w", name, ErrNotInstalled)
}

// ModuleRoot is the nearest folder at or above dir that holds go.mod.
func ModuleRoot(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Executable reports whether p is a regular file with an execute bit.
func Executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Fataler is the part of testing.TB that MustModuleRoot uses (this package does not import
// testing, since the local stack links it).
type Fataler interface {
	Helper()
	Fatal(args ...any)
}

// TB is the part of testing.TB that the test-support packages' Must helpers use (s3test,
// rietest): they are linked into the local stack, so they import no testing package; a test
// passes its *testing.T.
type TB interface {
	Fataler
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
	TempDir() string
}

// MustModuleRoot is the module root above the working directory, for tests: it fails t when
// there is none.
func MustModuleRoot(t Fataler) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, ok := ModuleRoot(dir)
	if !ok {
		t.Fatal("go.mod not found above the working directory")
	}
	return root
}
