package tool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestVipsHome: a libvips process started with the curated home sees HEIF but not the modules
// left out (vips -l lists loaded operations).
func TestVipsHome(t *testing.T) {
	home, err := VipsHome(t.TempDir(), "heif")
	if err != nil {
		t.Fatal(err)
	}
	vips, err := exec.LookPath("vips")
	if err != nil {
		t.Fatal("vips CLI missing: run `make setup` (Debian package libvips-tools)")
	}
	cmd := exec.Command(vips, "-l")
	cmd.Env = append(os.Environ(), "VIPSHOME="+home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "heifload") {
		t.Error("heifload missing with the curated home")
	}
	for _, gone := range []string{"magickload", "pdfload"} {
		if strings.Contains(string(out), gone) {
			t.Errorf("%s still loaded", gone)
		}
	}
}

type fakeT struct{ failed bool }

func (f *fakeT) Helper()      {}
func (f *fakeT) Fatal(...any) { f.failed = true }

func TestMustModuleRoot(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "sub"), 0o755)
	t.Chdir(filepath.Join(root, "sub"))
	if got := MustModuleRoot(t); got != root {
		t.Errorf("MustModuleRoot = %q", got)
	}
	t.Chdir(t.TempDir())
	f := &fakeT{}
	MustModuleRoot(f)
	if !f.failed {
		t.Error("no go.mod above: want a failure")
	}
}
