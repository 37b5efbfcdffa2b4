package s3test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BinaryName is the versitygw executable scripts/setup.sh installs into the repository's bin/.
const BinaryName = "versitygw"

// ErrNotInstalled says the versitygw binary is neither in the repository's bin/ nor on PATH.
var ErrNotInstalled = errors.New("versitygw is not installed: run `make setup` (scripts/setup.sh) to build it into bin/")

// Binary returns the path of the versitygw executable: the repository's bin/ (found by walking up
// from the working directory to go.mod) first, so the pinned build wins over anything on PATH.
func Binary() (string, error) {
	if dir, err := os.Getwd(); err == nil {
		if root, ok := moduleRoot(dir); ok {
			p := filepath.Join(root, "bin", BinaryName)
			if isExecutable(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(BinaryName); err == nil {
		return p, nil
	}
	return "", ErrNotInstalled
}

// Available reports whether a versitygw binary can be found, for packages that decide up front
// whether their S3 tests can run. A test that needs the server should call Start and fail, not skip.
func Available() bool {
	_, err := Binary()
	return err == nil
}

func moduleRoot(dir string) (string, bool) {
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

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// errorf keeps the package's error prefix in one place.
func errorf(format string, args ...any) error {
	return fmt.Errorf("s3test: "+format, args...)
}
