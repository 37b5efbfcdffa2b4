package lambdaimage

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/tool"
)

func TestParsePackages(t *testing.T) {
	tests := []struct {
		name, list string
		want       []string
		err        string
	}{
		{"comments and blanks", "# runtime\nlibvips42   # the library\n\n\tca-certificates\n", []string{"libvips42", "ca-certificates"}, ""},
		{"two on a line", "libvips42 ca-certificates\n", nil, "one package per line"},
		{"bad name", "LibVips\n", nil, "not a Debian package name"},
		{"dev package", "libvips-dev\n", nil, "-dev package"},
		{"compiler", "gcc-12\n", nil, "compiler"},
		{"build tool", "pkg-config\n", nil, "compiler or build tool"},
		{"duplicate", "libvips42\nlibvips42\n", nil, "listed twice"},
		{"empty", "# nothing\n", nil, "names no package"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePackages([]byte(tc.list))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
}

func TestForbidden(t *testing.T) {
	for name, bad := range map[string]bool{
		"libvips-dev": true, "libc6-dev": true, "gcc": true, "gcc-12": true, "g++-12": true, "cpp-12": true,
		"binutils-x86-64-linux-gnu": true, "golang-1.19-go": true, "make": true, "pkgconf": true,
		"libvips42": false, "gcc-12-base": false, "libgcc-s1": false, "ca-certificates": false,
		"libdevmapper1.02.1": false, "cpp": true, "libmake1": false,
	} {
		if got := Forbidden(name) != ""; got != bad {
			t.Errorf("Forbidden(%s) = %q, want forbidden %v", name, Forbidden(name), bad)
		}
	}
}

// TestRepositoryFiles: the package list parses and holds what the functions need at run time;
// the install script reads it as one word per package and keeps the HEIF module only.
func TestRepositoryFiles(t *testing.T) {
	repo := tool.MustModuleRoot(t)
	pkgs, err := ReadPackages(filepath.Join(repo, PackagesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range []string{"libvips42", "ca-certificates"} {
		if !slices.Contains(pkgs, need) {
			t.Errorf("%s lacks %s", PackagesFile, need)
		}
	}
	script, err := os.ReadFile(filepath.Join(repo, InstallScript))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--no-install-recommends", "vips-heif.so", "apt-get clean", "rm -rf /var/lib/apt/lists/*", "mkdir -p " + TaskRoot} {
		if !strings.Contains(string(script), want) {
			t.Errorf("%s does not contain %q", InstallScript, want)
		}
	}
}

func TestImageConfig(t *testing.T) {
	c := ImageConfig()
	if len(c.Entrypoint) != 0 || len(c.Cmd) != 1 || c.WorkingDir != TaskRoot {
		t.Errorf("config %+v", c)
	}
	paths := map[string]bool{}
	for _, b := range Bootstraps() {
		if b.Path != TaskRoot+"/"+b.Name || b.Package != "./functions/"+b.Name {
			t.Errorf("bootstrap %+v", b)
		}
		paths[b.Path] = true
	}
	if !paths[c.Cmd[0]] {
		t.Errorf("command %v is no bootstrap", c.Cmd)
	}
	for _, want := range []string{"VIPS_BLOCK_UNTRUSTED=1", "MALLOC_ARENA_MAX=2", "PATH=" + DebianPath} {
		if !slices.Contains(c.Env, want) {
			t.Errorf("environment %v lacks %s", c.Env, want)
		}
	}
	args := strings.Join(BuildArgs("/o/api", "./functions/api"), " ")
	if args != "build -trimpath -tags lambda.norpc -ldflags=-s -w -o /o/api ./functions/api" {
		t.Errorf("build args %q", args)
	}
}

func TestRootKey(t *testing.T) {
	base := RootKey("amd64", []byte("libvips42\n"), []byte("script"))
	if len(base) != 16 || base != RootKey("amd64", []byte("libvips42\n"), []byte("script")) {
		t.Fatalf("key %q is not stable", base)
	}
	for name, k := range map[string]string{
		"list":   RootKey("amd64", []byte("libvips42\nca-certificates\n"), []byte("script")),
		"script": RootKey("amd64", []byte("libvips42\n"), []byte("script2")),
		"arch":   RootKey("arm64", []byte("libvips42\n"), []byte("script")),
		// Moving bytes between the list and the script is a different input too.
		"boundary": RootKey("amd64", []byte("libvips42\ns"), []byte("cript")),
	} {
		if k == base {
			t.Errorf("a different %s gives the same key", name)
		}
	}
}
