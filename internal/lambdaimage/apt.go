package lambdaimage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Default archives, used when this machine's apt names none for the suite.
const (
	DefaultMirror         = "http://deb.debian.org/debian"
	DefaultSecurityMirror = "http://deb.debian.org/debian-security"
)

// Mirrors are the Debian archives the root filesystem is installed from.
type Mirrors struct {
	Main     string // serves Suite and Suite-updates
	Security string // serves Suite-security
}

// AptMirrors reads this machine's apt sources under etc (normally /etc/apt): the first archive
// that serves suite is Main, the first that serves suite-security is Security; either falls back
// to deb.debian.org. Whatever apt reaches here, debootstrap then reaches too.
func AptMirrors(etc, suite string) (Mirrors, error) {
	m := Mirrors{}
	files := []string{filepath.Join(etc, "sources.list")}
	for _, pattern := range []string{"*.list", "*.sources"} {
		more, err := filepath.Glob(filepath.Join(etc, "sources.list.d", pattern))
		if err != nil {
			return m, fmt.Errorf("apt sources: %w", err)
		}
		sort.Strings(more)
		files = append(files, more...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return m, fmt.Errorf("apt sources: %w", err)
		}
		var entries []aptSource
		if strings.HasSuffix(f, ".sources") {
			entries = parseDeb822Sources(b)
		} else {
			entries = parseOneLineSources(b)
		}
		for _, e := range entries {
			if m.Main == "" && e.serves(suite) {
				m.Main = e.URI
			}
			if m.Security == "" && e.serves(suite+"-security") {
				m.Security = e.URI
			}
		}
	}
	if m.Main == "" {
		m.Main = DefaultMirror
	}
	if m.Security == "" {
		m.Security = DefaultSecurityMirror
	}
	return m, nil
}

// aptSource is one binary-package archive of apt's configuration.
type aptSource struct {
	URI    string
	Suites []string
}

func (s aptSource) serves(suite string) bool {
	for _, x := range s.Suites {
		if x == suite {
			return true
		}
	}
	return false
}

// parseOneLineSources reads sources.list lines: deb [options] URI suite component….
func parseOneLineSources(b []byte) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{URI: strings.TrimSuffix(f[0], "/"), Suites: []string{f[1]}})
	}
	return out
}

// parseDeb822Sources reads .sources stanzas (Types, URIs, Suites, Enabled).
func parseDeb822Sources(b []byte) []aptSource {
	var out []aptSource
	for _, stanza := range deb822(b) {
		if !containsWord(stanza["types"], "deb") || strings.EqualFold(strings.TrimSpace(stanza["enabled"]), "no") {
			continue
		}
		suites := strings.Fields(stanza["suites"])
		for _, uri := range strings.Fields(stanza["uris"]) {
			out = append(out, aptSource{URI: strings.TrimSuffix(uri, "/"), Suites: suites})
		}
	}
	return out
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// deb822 splits a deb822 file (apt's .sources, dpkg's status) into stanzas of lower-cased
// fields; continuation lines are joined with a newline, comments dropped.
func deb822(b []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = map[string]string{}, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += "\n" + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			cur[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// SourcesFile is the apt source file the root filesystem is given (deb822, as
// debian:bookworm-slim's /etc/apt/sources.list.d/debian.sources): the suite, its updates and its
// security updates.
func SourcesFile(m Mirrors, suite string) string {
	return fmt.Sprintf(`Types: deb
URIs: %s
Suites: %s %s-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: %s
Suites: %s-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`, m.Main, suite, suite, m.Security, suite)
}

// InstalledPackages reads a dpkg status file (var/lib/dpkg/status) and returns the version of
// every package dpkg has installed, by name.
func InstalledPackages(status []byte) map[string]string {
	out := map[string]string{}
	for _, s := range deb822(status) {
		if s["package"] == "" || !strings.HasSuffix(s["status"], " installed") {
			continue
		}
		out[s["package"]] = s["version"]
	}
	return out
}
