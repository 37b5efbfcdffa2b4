package s3test

import (
	"fmt"

	"github.com/graphphoto/graphphoto/internal/tool"
)

// BinaryName is the versitygw executable scripts/setup.sh installs into the repository's bin/.
const BinaryName = "versitygw"

// Binary returns the path of the versitygw executable: the repository's bin/ first, so the pinned
// build wins over anything on PATH (tool.Find). A missing one is an error wrapping
// tool.ErrNotInstalled.
func Binary() (string, error) { return tool.Find(BinaryName) }

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
