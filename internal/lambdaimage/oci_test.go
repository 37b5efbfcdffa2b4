package lambdaimage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRoot is a small tree with what CheckArchive looks for in a real root filesystem.
func fakeRoot(t *testing.T) string {
	root := t.TempDir()
	files := map[string]string{
		"var/lib/dpkg/status": "Package: libvips42\nStatus: install ok installed\nVersion: 8.14.1-3+deb12u3\n\n" +
			"Package: ca-certificates\nStatus: install ok installed\nVersion: 20230311\n\n" +
			"Package: gcc-12-base\nStatus: install ok installed\nVersion: 12.2.0-14\n",
		"usr/lib/x86_64-linux-gnu/vips-modules-8.14/vips-heif.so": "\x7fELF heif module",
		"usr/lib/x86_64-linux-gnu/libvips.so.42.17.1":             "\x7fELF libvips",
		"etc/ssl/certs/ca-certificates.crt":                       "-----BEGIN CERTIFICATE-----\n",
		"usr/bin/sh":                                              "\x7fELF shell",
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"var/task", "tmp", "proc", "dev"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	// What the empty folders' contents and the links must not or must carry into the layer.
	os.WriteFile(filepath.Join(root, "tmp", "leftover"), []byte("x"), 0o644)
	os.Symlink("libvips.so.42.17.1", filepath.Join(root, "usr/lib/x86_64-linux-gnu/libvips.so.42"))
	os.Link(filepath.Join(root, "usr/bin/sh"), filepath.Join(root, "usr/bin/dash"))
	return root
}

func fakeBootstraps(t *testing.T) map[string]string {
	dir := t.TempDir()
	out := map[string]string{}
	for _, b := range Bootstraps() {
		p := filepath.Join(dir, b.Name)
		if err := os.WriteFile(p, []byte("\x7fELF "+b.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		out[b.Path] = p
	}
	return out
}

var want = Expect{Arch: "amd64", Config: ImageConfig(), Packages: []string{"libvips42", "ca-certificates"}}

func TestWriteAndCheckArchive(t *testing.T) {
	out := filepath.Join(t.TempDir(), "image.oci.tar")
	a, err := WriteArchive(context.Background(), ArchiveSpec{Root: fakeRoot(t), Bootstraps: fakeBootstraps(t), Arch: "amd64", Config: ImageConfig(), RefName: "graphphoto:test"}, out)
	if err != nil {
		t.Fatal(err)
	}
	if a.Layers != 2 || !strings.HasPrefix(a.Digest, "sha256:") || a.Compressed <= 0 || a.Uncompressed <= a.Compressed/2 {
		t.Errorf("archive %+v", a)
	}
	r, err := CheckArchive(out, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Layers) != 2 || r.Arch != "amd64" || r.Packages["libvips42"] != "8.14.1-3+deb12u3" || r.Compressed != a.Compressed || r.Uncompressed != a.Uncompressed {
		t.Errorf("report %+v, archive %+v", r, a)
	}
	if len(r.Config.Entrypoint) != 0 || strings.Join(r.Config.Cmd, " ") != "/var/task/onupload" || r.Config.WorkingDir != "/var/task" {
		t.Errorf("config %+v", r.Config)
	}
}

// TestCheckArchiveCatchesBreakage: each thing the archive check promises to refuse, it refuses.
func TestCheckArchiveCatchesBreakage(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(root string, boots map[string]string, spec *ArchiveSpec)
		say     string
	}{
		{"compiler", func(root string, _ map[string]string, _ *ArchiveSpec) {
			os.WriteFile(filepath.Join(root, "usr/bin/gcc-12"), []byte("\x7fELF"), 0o755)
		}, "usr/bin/gcc-12 is in the image"},
		{"cc1", func(root string, _ map[string]string, _ *ArchiveSpec) {
			os.MkdirAll(filepath.Join(root, "usr/lib/gcc/x86_64-linux-gnu/12"), 0o755)
			os.WriteFile(filepath.Join(root, "usr/lib/gcc/x86_64-linux-gnu/12/cc1"), []byte("\x7fELF"), 0o755)
		}, "cc1 is in the image"},
		{"dev package", func(root string, _ map[string]string, _ *ArchiveSpec) {
			appendFile(root, "var/lib/dpkg/status", "\nPackage: libvips-dev\nStatus: install ok installed\nVersion: 8.14.1-3\n")
		}, "package libvips-dev is installed"},
		{"headers", func(root string, _ map[string]string, _ *ArchiveSpec) {
			os.MkdirAll(filepath.Join(root, "usr/include/vips"), 0o755)
			os.WriteFile(filepath.Join(root, "usr/include/vips/vips.h"), []byte("#pragma once"), 0o644)
		}, "header files"},
		{"listed package missing", func(root string, _ map[string]string, _ *ArchiveSpec) {
			os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte("Package: libvips42\nStatus: install ok installed\nVersion: 1\n"), 0o644)
		}, "package ca-certificates (in the list) is not installed"},
		{"other vips module", func(root string, _ map[string]string, _ *ArchiveSpec) {
			os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/vips-modules-8.14/vips-magick.so"), []byte("\x7fELF"), 0o644)
		}, "HEIF module (vips-heif.so) only"},
		{"no CA roots", func(root string, _ map[string]string, _ *ArchiveSpec) {
			os.Remove(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
		}, "no CA roots"},
		{"bootstrap missing", func(_ string, boots map[string]string, _ *ArchiveSpec) {
			delete(boots, TaskRoot+"/api")
		}, "bootstrap /var/task/api missing"},
		{"bootstrap not a binary", func(_ string, boots map[string]string, _ *ArchiveSpec) {
			os.WriteFile(boots[TaskRoot+"/onupload"], []byte("#!/bin/sh\n"), 0o755)
		}, "not an ELF binary"},
		{"entry point", func(_ string, _ map[string]string, spec *ArchiveSpec) {
			spec.Config.Entrypoint = []string{"/lambda-entrypoint.sh"}
		}, "entry point"},
		{"command", func(_ string, _ map[string]string, spec *ArchiveSpec) {
			spec.Config.Cmd = []string{"/var/task/bootstrap"}
		}, "command"},
		{"environment", func(_ string, _ map[string]string, spec *ArchiveSpec) {
			spec.Config.Env = spec.Config.Env[:len(spec.Config.Env)-1]
		}, "environment"},
		{"architecture", func(_ string, _ map[string]string, spec *ArchiveSpec) {
			spec.Arch = "arm64"
		}, "platform linux/arm64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, boots := fakeRoot(t), fakeBootstraps(t)
			cfg := ImageConfig()
			spec := ArchiveSpec{Root: root, Bootstraps: boots, Arch: "amd64", Config: cfg}
			tc.breakIt(root, boots, &spec)
			out := filepath.Join(t.TempDir(), "image.oci.tar")
			if _, err := WriteArchive(context.Background(), spec, out); err != nil {
				t.Fatal(err)
			}
			_, err := CheckArchive(out, want)
			if err == nil || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("check says %v, want %q", err, tc.say)
			}
		})
	}
}

func TestCheckArchiveRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "x.tar")
	os.WriteFile(notTar, []byte("not a tar at all, just some bytes that are long enough to be read"), 0o644)
	if _, err := CheckArchive(notTar, want); err == nil {
		t.Error("a file that is no tar passed")
	}
	if _, err := CheckArchive(filepath.Join(dir, "missing.tar"), want); err == nil {
		t.Error("a missing file passed")
	}
}

func TestTreeSizeCountsHardLinksOnce(t *testing.T) {
	root := fakeRoot(t)
	n, err := TreeSize(root)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if fi.Mode().IsRegular() && filepath.Base(p) != "dash" || fi.Mode()&os.ModeSymlink != 0 {
			want += fi.Size()
		}
		return nil
	})
	if n != want {
		t.Errorf("TreeSize %d, want %d", n, want)
	}
}

func appendFile(root, name, text string) {
	f, _ := os.OpenFile(filepath.Join(root, name), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(text)
	f.Close()
}
