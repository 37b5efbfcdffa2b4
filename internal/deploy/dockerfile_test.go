package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The Dockerfile cannot be built here (no Docker engine), so it is read statically: instructions
// with their continuation lines joined and comments dropped, grouped by stage.

type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ENV, ARG, ENTRYPOINT, CMD, …
	Args string
}

type stage struct {
	From, Name string
	Instr      []instruction
}

type dockerfile struct {
	GlobalArgs map[string]string // ARGs before the first FROM, with their defaults
	Stages     []stage
}

func parseDockerfile(text string) *dockerfile {
	d := &dockerfile{GlobalArgs: map[string]string{}}
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue // Docker drops comment lines, also inside a continued instruction
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		logical = append(logical, cur.String())
	}
	for _, l := range logical {
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.Join(strings.Fields(args), " ")}
		switch {
		case in.Cmd == "FROM":
			f := strings.Fields(in.Args)
			s := stage{}
			if len(f) > 0 {
				s.From = f[0]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			}
			d.Stages = append(d.Stages, s)
		case len(d.Stages) == 0:
			if in.Cmd == "ARG" {
				for _, a := range strings.Fields(in.Args) {
					k, v, _ := strings.Cut(a, "=")
					d.GlobalArgs[k] = v
				}
			}
		default:
			s := &d.Stages[len(d.Stages)-1]
			s.Instr = append(s.Instr, in)
		}
	}
	return d
}

func (d *dockerfile) stage(name string) *stage {
	for i := range d.Stages {
		if d.Stages[i].Name == name {
			return &d.Stages[i]
		}
	}
	return nil
}

func (d *dockerfile) final() *stage {
	if len(d.Stages) == 0 {
		return nil
	}
	return &d.Stages[len(d.Stages)-1]
}

// env is the stage's ENV settings (KEY=value forms).
func (s *stage) env() map[string]string {
	out := map[string]string{}
	for _, in := range s.Instr {
		if in.Cmd != "ENV" {
			continue
		}
		for _, kv := range strings.Fields(in.Args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				out[k] = strings.Trim(v, `"`)
			}
		}
	}
	return out
}

// last returns the Args of the stage's last instruction cmd, "" if none.
func (s *stage) last(cmd string) (string, bool) {
	for i := len(s.Instr) - 1; i >= 0; i-- {
		if s.Instr[i].Cmd == cmd {
			return s.Instr[i].Args, true
		}
	}
	return "", false
}

// run is the text of every RUN of the stage, one command per element (split at &&).
func (s *stage) run() []string {
	var out []string
	for _, in := range s.Instr {
		if in.Cmd == "RUN" {
			for _, c := range strings.Split(in.Args, "&&") {
				out = append(out, strings.TrimSpace(c))
			}
		}
	}
	return out
}

// goBuild is one `go build` command of a stage.
type goBuild struct {
	Out, Pkg string
	Tags     []string
	Args     []string // the go command's arguments as the shell passes them ("build", …)
}

var goBuildCmd = regexp.MustCompile(`(?:^|\s)go build\s`)

func (s *stage) goBuilds() []goBuild {
	var out []goBuild
	for _, c := range s.run() {
		loc := goBuildCmd.FindStringIndex(c)
		if loc == nil {
			continue
		}
		f := shellWords(c[loc[1]:])
		b := goBuild{Args: append([]string{"build"}, f...)}
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "-o" && i+1 < len(f):
				b.Out = f[i+1]
				i++
			case f[i] == "-tags" && i+1 < len(f):
				b.Tags = strings.Split(f[i+1], ",")
				i++
			case strings.HasPrefix(f[i], "-tags="):
				b.Tags = strings.Split(strings.TrimPrefix(f[i], "-tags="), ",")
			case strings.HasPrefix(f[i], "-"):
				if !strings.Contains(f[i], "=") && (f[i] == "-ldflags" || f[i] == "-gcflags") && i+1 < len(f) {
					i++
				}
			default:
				b.Pkg = f[i]
			}
		}
		out = append(out, b)
	}
	return out
}

// shellWords splits a command line as sh would for plain words and quoted ones
// (-ldflags="-s -w" is one word, -ldflags=-s -w); no expansion.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// copyFrom is one COPY --from of a stage: its sources and destination.
type copyFrom struct {
	From string
	Srcs []string
	Dest string
}

func (s *stage) copies() []copyFrom {
	var out []copyFrom
	for _, in := range s.Instr {
		if in.Cmd != "COPY" {
			continue
		}
		c := copyFrom{}
		var paths []string
		for _, f := range strings.Fields(in.Args) {
			switch {
			case strings.HasPrefix(f, "--from="):
				c.From = strings.TrimPrefix(f, "--from=")
			case strings.HasPrefix(f, "--"):
			default:
				paths = append(paths, f)
			}
		}
		if len(paths) < 2 {
			continue
		}
		c.Srcs, c.Dest = paths[:len(paths)-1], paths[len(paths)-1]
		out = append(out, c)
	}
	return out
}

// installed is where the final stage puts a file built at src in stage from, "" if nowhere.
func (s *stage) installed(from, src string) string {
	for _, c := range s.copies() {
		if c.From != from {
			continue
		}
		for _, x := range c.Srcs {
			if x != src {
				continue
			}
			if strings.HasSuffix(c.Dest, "/") || len(c.Srcs) > 1 {
				return path.Join(c.Dest, path.Base(src))
			}
			return c.Dest
		}
	}
	return ""
}

// execForm reads a JSON-array instruction argument such as ["/var/task/api"].
func execForm(args string) ([]string, bool) {
	args = strings.TrimSpace(args)
	if !strings.HasPrefix(args, "[") || !strings.HasSuffix(args, "]") {
		return nil, false
	}
	inner := strings.TrimSpace(args[1 : len(args)-1])
	if inner == "" {
		return []string{}, true
	}
	var out []string
	for _, p := range strings.Split(inner, ",") {
		s, err := strconv.Unquote(strings.TrimSpace(p))
		if err != nil {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// goModVersion is go.mod's go directive ("1.26" or "1.26.1").
func goModVersion(gomod string) string {
	for _, l := range strings.Split(gomod, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "go" {
			return f[1]
		}
	}
	return ""
}

func majorMinor(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// isMainPackage reports whether dir (relative to root) holds a Go main package.
func isMainPackage(root, dir string) bool {
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, dir, e.Name()))
		if err == nil && regexp.MustCompile(`(?m)^package main\b`).Match(b) {
			return true
		}
	}
	return false
}

func TestParseDockerfile(t *testing.T) {
	d := parseDockerfile(`ARG GO_VERSION=1.26
# comment
FROM golang:${GO_VERSION} AS go
FROM amazonlinux:2023 AS build
ENV A=1 \
    B="two"
RUN dnf install -y x \
    # a comment inside a continued RUN
    && go build -tags lambda.norpc -ldflags="-s -w" -o /out/a ./functions/a \
    && go build -o /out/b -tags=x,y ./functions/b
FROM runtime
COPY --from=build /out/a /out/b /var/task/
COPY --from=build /out/c /usr/bin/c2
ENTRYPOINT []
CMD ["/var/task/a"]
`)
	if d.GlobalArgs["GO_VERSION"] != "1.26" || len(d.Stages) != 3 || d.stage("build") == nil {
		t.Fatalf("parsed %+v", d)
	}
	b := d.stage("build")
	if e := b.env(); e["A"] != "1" || e["B"] != "two" {
		t.Errorf("env = %v", e)
	}
	builds := b.goBuilds()
	if got := fmt.Sprint(builds); got != "[{/out/a ./functions/a [lambda.norpc] [build -tags lambda.norpc -ldflags=-s -w -o /out/a ./functions/a]} {/out/b ./functions/b [x y] [build -o /out/b -tags=x,y ./functions/b]}]" {
		t.Errorf("go builds = %s", got)
	}
	f := d.final()
	if got := f.installed("build", "/out/b"); got != "/var/task/b" {
		t.Errorf("installed /out/b at %q", got)
	}
	if got := f.installed("build", "/out/c"); got != "/usr/bin/c2" {
		t.Errorf("installed /out/c at %q", got)
	}
	if ep, _ := f.last("ENTRYPOINT"); ep != "[]" {
		t.Errorf("entrypoint %q", ep)
	}
	if cmd, ok := execForm(`["/var/task/a"]`); !ok || fmt.Sprint(cmd) != "[/var/task/a]" {
		t.Errorf("exec form %v %v", cmd, ok)
	}
}

func TestDockerIgnored(t *testing.T) {
	ignore := []byte("# comment\n*\n!go.mod\n!internal/\n!image/\n**/testdata/\n**/*_test.go\n/bin/\n")
	for name, want := range map[string]bool{
		"go.mod": false, "go.sum": true, "image/packages.txt": false, "image": false,
		"internal/api/x.go": false, "internal/api/x_test.go": true, "internal/rietest/testdata/echo/main.go": true,
		"bin/versitygw": true, "README.md": true,
	} {
		if got := dockerIgnored(ignore, name); got != want {
			t.Errorf("dockerIgnored(%s) = %v, want %v", name, got, want)
		}
	}
}
