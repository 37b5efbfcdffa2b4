package lambdaimage

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAptMirrors(t *testing.T) {
	write := func(t *testing.T, etc string, files map[string]string) {
		for name, text := range files {
			p := filepath.Join(etc, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		files map[string]string
		want  Mirrors
	}{
		{"deb822, as Debian 12 ships it", map[string]string{
			"sources.list.d/debian.sources": "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n",
			// A disabled file and a disabled stanza are not read.
			"sources.list.d/other.list.disabled": "deb http://wrong.example/debian bookworm main\n",
			"sources.list.d/off.sources":         "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n",
		}, Mirrors{Main: "http://mirror.example/debian", Security: "http://security.example/debian-security"}},
		{"one-line sources.list with options", map[string]string{
			"sources.list": "# comment\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n",
		}, Mirrors{Main: "http://one.example/debian", Security: DefaultSecurityMirror}},
		{"another release only", map[string]string{
			"sources.list": "deb http://old.example/debian bullseye main\n",
		}, Mirrors{Main: DefaultMirror, Security: DefaultSecurityMirror}},
		{"nothing configured", nil, Mirrors{Main: DefaultMirror, Security: DefaultSecurityMirror}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			etc := t.TempDir()
			write(t, etc, tc.files)
			got, err := AptMirrors(etc, "bookworm")
			if err != nil || got != tc.want {
				t.Errorf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestSourcesFileReadsBack(t *testing.T) {
	etc := t.TempDir()
	m := Mirrors{Main: "http://a.example/debian", Security: "http://b.example/debian-security"}
	os.MkdirAll(filepath.Join(etc, "sources.list.d"), 0o755)
	if err := os.WriteFile(filepath.Join(etc, "sources.list.d", "debian.sources"), []byte(SourcesFile(m, "bookworm")), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := AptMirrors(etc, "bookworm"); err != nil || got != m {
		t.Errorf("read back %+v %v, want %+v", got, err, m)
	}
}

func TestInstalledPackages(t *testing.T) {
	status := []byte(`Package: libvips42
Status: install ok installed
Priority: optional
Version: 8.14.1-3+deb12u3
Description: image processing system good for very large ones
 VIPS is an image processing system designed with efficiency in mind.
 .
 It is good with large images.

Package: libvips-dev
Status: deinstall ok config-files
Version: 8.14.1-3+deb12u3

Package: ca-certificates
Status: install ok installed
Version: 20230311
`)
	got := InstalledPackages(status)
	if len(got) != 2 || got["libvips42"] != "8.14.1-3+deb12u3" || got["ca-certificates"] != "20230311" {
		t.Errorf("got %v; want the two installed packages (not the removed -dev one)", got)
	}
}
