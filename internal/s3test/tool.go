package s3test

import (
	"errors"
	"fmt"

	"github.com/graphphoto/graphphoto/internal/tool"
)

// BinaryName is the versitygw executable scripts/setup.sh installs into the repository's bin/.
const BinaryName = "versitygw"

// ErrNotInstalled says the versitygw binary is neither in the repository's bin/ nor on PATH.
var ErrNotInstalled = errors.New("versitygw is not installed: run `make setup` (scripts/setup.sh) to build it into bin/")

// Binary returns the path of the versitygw executable: the repository's bin/ (found by walking up
// from the working directory to go.mod) first, so the pinned build wins over anything on PATH.
func Binary() (string, error) {
	p, err := tool.Find(BinaryName)
	if err != nil {
		return "", ErrNotInstalled
	}
	return p, nil
}

// Available reports whether a versitygw binary can be found, for packages that decide up front
// whether their S3 tests can run. A test that needs the server should call Start and fail, not skip.
func Available() bool {
	_, err := Binary()
	return err == nil
}

// errorf keeps the package's error prefix in one place.
func errorf(format string, args ...any) error {
	return fmt.Errorf("s3test: "+format, args...)
}
