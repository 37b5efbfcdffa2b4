package rietest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/graphphoto/graphphoto/internal/tool"
)

// BinaryName is the emulator executable scripts/setup.sh installs into the repository's bin/.
const BinaryName = "aws-lambda-rie"

// Binary returns the emulator's path: the repository's bin/ first, then PATH (tool.Find). A
// missing one is an error wrapping tool.ErrNotInstalled.
func Binary() (string, error) { return tool.Find(BinaryName) }

// Available reports whether the emulator can be found. A test that needs it should still call
// Start and fail, never skip.
func Available() bool {
	_, err := Binary()
	return err == nil
}

// Build compiles a Go main package (an import path, or a path relative to the working
// directory such as "./testdata/echo") into dir/bootstrap, the file name Lambda's provided
// runtimes run, and returns its path.
func Build(ctx context.Context, pkg, dir string) (string, error) {
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", errorf("go build %s: %w\n%s", pkg, err, output)
	}
	return out, nil
}

// BuildBootstrap is Build for a test, into a temporary folder removed when the test ends.
func BuildBootstrap(tb tool.TB, pkg string) string {
	tb.Helper()
	p, err := Build(context.Background(), pkg, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("rietest: "+format, args...)
}
