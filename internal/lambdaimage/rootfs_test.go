package lambdaimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/graphphoto/graphphoto/internal/tool"
)

// TestEnsureRootUsesTheCache: a root whose list and script are unchanged comes from the cache;
// with CacheOnly, a missing one is ErrNotCached rather than a build.
func TestEnsureRootUsesTheCache(t *testing.T) {
	repo := tool.MustModuleRoot(t)
	cache := t.TempDir()
	opts := RootOptions{Repo: repo, CacheDir: cache, Arch: "amd64", CacheOnly: true}
	if _, err := EnsureRoot(context.Background(), opts); !errors.Is(err, ErrNotCached) {
		t.Fatalf("empty cache: err %v, want ErrNotCached", err)
	}
	list, _ := os.ReadFile(filepath.Join(repo, PackagesFile))
	script, _ := os.ReadFile(filepath.Join(repo, InstallScript))
	dir := filepath.Join(cache, "rootfs-amd64-"+RootKey("amd64", list, script))
	if err := os.MkdirAll(filepath.Join(dir, "var/lib/dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "var/lib/dpkg/status"), []byte("Package: libvips42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := EnsureRoot(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if root.Dir != dir || root.Built || len(root.Packages) == 0 {
		t.Errorf("root %+v, want the cached %s", root, dir)
	}
	// Another architecture is another root.
	opts.Arch = "arm64"
	if _, err := EnsureRoot(context.Background(), opts); !errors.Is(err, ErrNotCached) {
		t.Errorf("arm64: err %v, want ErrNotCached", err)
	}
}
