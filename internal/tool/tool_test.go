package tool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "prog"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "notexec"), []byte("x"), 0o644)
	t.Chdir(filepath.Join(root, "a", "b"))
	t.Setenv("PATH", t.TempDir())
	if p, err := Find("prog"); err != nil || p != filepath.Join(root, "bin", "prog") {
		t.Errorf("Find(prog) = %q, %v", p, err)
	}
	for _, name := range []string{"notexec", "missing"} {
		if _, err := Find(name); !errors.Is(err, ErrNotInstalled) {
			t.Errorf("Find(%s) err = %v", name, err)
		}
	}
	if r, ok := ModuleRoot(filepath.Join(root, "a", "b")); !ok || r != root {
		t.Errorf("ModuleRoot = %q %v", r, ok)
	}
}
