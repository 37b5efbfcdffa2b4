package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/api"
	"github.com/graphphoto/graphphoto/internal/config"
	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/lambdaimage"
	"github.com/graphphoto/graphphoto/internal/onupload"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/photostate"
)

// Each check returns every problem it finds; TestDeployment runs them all on the repository's
// files and TestChecksCatchBreakage proves each one fails on a broken copy.
type check struct {
	name string
	fn   func(*project) []error
}

var checks = []check{
	{"image", checkImage},
	{"dockerfile", checkDockerfile},
	{"environment", checkEnvironment},
	{"parameters", checkParameters},
	{"functions", checkFunctions},
	{"iam", checkIAM},
	{"queue", checkQueue},
	{"buckets", checkBuckets},
	{"state", checkStateBucket},
	{"uploads", checkUploads},
	{"cycles", checkNoCycles},
	{"httpapi", checkHTTPAPI},
	{"batch", checkBatchOperations},
	{"outputs", checkOutputs},
	{"envjson", checkEnvJSON},
	{"alarms", checkAlarms},
	{"dashboard", checkDashboard},
}

func TestDeployment(t *testing.T) {
	root := repoRoot(t)
	p, err := loadProject(root, readProjectFiles(t, root))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, err := range c.fn(p) {
				t.Error(err)
			}
		})
	}
}

// ---- helpers over the template -------------------------------------------------------------

// errs collects problems with a common prefix.
type errs struct {
	prefix string
	list   []error
}

func (e *errs) add(format string, args ...any) {
	e.list = append(e.list, fmt.Errorf(e.prefix+format, args...))
}

func (e *errs) addErr(err error) {
	if err != nil {
		e.list = append(e.list, fmt.Errorf("%s%w", e.prefix, err))
	}
}

// refTo returns the name a raw {"Ref": name} names, "" otherwise.
func refTo(v any) string {
	if name, arg, ok := intrinsic(v); ok && name == "Ref" {
		return str(arg)
	}
	return ""
}

// getAtt returns the logical id and attribute of a raw Fn::GetAtt.
func getAtt(v any) (string, string) {
	if name, arg, ok := intrinsic(v); ok && name == "Fn::GetAtt" {
		if p := getAttParts(arg); len(p) == 2 {
			return p[0], p[1]
		}
	}
	return "", ""
}

// subText returns the text of a raw Fn::Sub (either form).
func subText(v any) (string, bool) {
	name, arg, ok := intrinsic(v)
	if !ok || name != "Fn::Sub" {
		return "", false
	}
	if s, ok := arg.(string); ok {
		return s, true
	}
	if l := listOf(arg); len(l) == 2 {
		return str(l[0]), true
	}
	return "", false
}

// command is a function's ImageConfig.Command, evaluated.
func (t *Template) command(fn string) ([]string, error) {
	v, err := t.eval(mapOf(t.Resources[fn].Properties["ImageConfig"])["Command"])
	if err != nil {
		return nil, err
	}
	var out []string
	for _, x := range listOf(v) {
		s, ok := scalar(x)
		if !ok {
			return nil, fmt.Errorf("command element %v is not a string", x)
		}
		out = append(out, s)
	}
	return out, nil
}

// functionFor returns the function whose command runs the bootstrap built from functions/<name>.
func (p *project) functionFor(name string) (string, error) {
	for _, fn := range p.template.functions() {
		cmd, err := p.template.command(fn)
		if err == nil && len(cmd) == 1 && path.Base(cmd[0]) == name {
			return fn, nil
		}
	}
	return "", fmt.Errorf("no function runs the %s bootstrap", name)
}

// bucketNames maps each AWS::S3::Bucket's evaluated name to its logical id.
func (t *Template) bucketNames() (map[string]string, []error) {
	out := map[string]string{}
	var problems []error
	for _, b := range t.ofType("AWS::S3::Bucket") {
		name, err := t.evalString(t.Resources[b].Properties["BucketName"])
		if err != nil {
			problems = append(problems, fmt.Errorf("bucket %s: name: %w", b, err))
			continue
		}
		out[name] = b
	}
	return out, problems
}

// uploadBucket is the bucket whose notifications feed a queue.
func (t *Template) uploadBucket() (string, string, error) {
	for _, b := range t.ofType("AWS::S3::Bucket") {
		if len(listOf(mapOf(t.Resources[b].Properties["NotificationConfiguration"])["QueueConfigurations"])) > 0 {
			name, err := t.evalString(t.Resources[b].Properties["BucketName"])
			return b, name, err
		}
	}
	return "", "", errors.New("no bucket sends notifications to a queue")
}

// statement is one IAM policy statement with where it came from.
type statement struct {
	where string
	raw   map[string]any
}

func (s statement) effect() string { return str(s.raw["Effect"]) }

func (s statement) actions() []string {
	var out []string
	for _, a := range listOf(s.raw["Action"]) {
		out = append(out, str(a))
	}
	return out
}

func (s statement) resources() []any { return listOf(s.raw["Resource"]) }

// policies returns every policy statement of the template, and problems with policy shapes
// that cannot be checked (managed policies, SAM policy templates).
func (t *Template) policies() ([]statement, []error) {
	var out []statement
	var problems []error
	add := func(where string, doc any) {
		for i, s := range listOf(mapOf(doc)["Statement"]) {
			out = append(out, statement{where: fmt.Sprintf("%s statement %d (%s)", where, i, str(mapOf(s)["Sid"])), raw: mapOf(s)})
		}
	}
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::IAM::Role":
			for _, p := range listOf(r.Properties["Policies"]) {
				add(id+" policy "+str(mapOf(p)["PolicyName"]), mapOf(p)["PolicyDocument"])
			}
			if m := r.Properties["ManagedPolicyArns"]; m != nil {
				problems = append(problems, fmt.Errorf("%s: ManagedPolicyArns %v: managed policies cannot be checked for least privilege", id, m))
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy":
			add(id, r.Properties["PolicyDocument"])
		case "AWS::Serverless::Function":
			if pol, ok := r.Properties["Policies"]; ok {
				problems = append(problems, fmt.Errorf("%s: SAM Policies %v: give the function an explicit Role (SAM's policy templates and managed policies grant wildcards)", id, pol))
			}
			if _, ok := r.Properties["Role"]; !ok {
				problems = append(problems, fmt.Errorf("%s: no Role: SAM would create one with AWSLambdaBasicExecutionRole (logs on *)", id))
			}
		}
	}
	if pol, ok := mapOf(t.Globals["Function"])["Policies"]; ok {
		problems = append(problems, fmt.Errorf("Globals: Policies %v", pol))
	}
	return out, problems
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// roleOf returns the logical id of the AWS::IAM::Role a function runs as.
func (t *Template) roleOf(fn string) (string, error) {
	role, attr := getAtt(t.Resources[fn].Properties["Role"])
	if role == "" || attr != "Arn" || t.Resources[role].Type != "AWS::IAM::Role" {
		return "", fmt.Errorf("%s: Role is not !GetAtt <an AWS::IAM::Role in this template>.Arn", fn)
	}
	return role, nil
}

// grants returns a role's Allow statements as action → evaluated resources.
func (t *Template) grants(role string) (map[string][]any, error) {
	out := map[string][]any{}
	for _, p := range listOf(t.Resources[role].Properties["Policies"]) {
		for _, s := range listOf(mapOf(mapOf(p)["PolicyDocument"])["Statement"]) {
			st := statement{raw: mapOf(s)}
			if st.effect() != "Allow" {
				continue
			}
			for _, r := range st.resources() {
				v, err := t.eval(r)
				if err != nil {
					return nil, fmt.Errorf("%s: resource %v: %w", role, r, err)
				}
				for _, a := range st.actions() {
					out[a] = append(out[a], v)
				}
			}
		}
	}
	return out, nil
}

// ---- the image ---------------------------------------------------------------------------

// checkImage: every function runs a bootstrap the Dockerfile builds from functions/<name> and
// copies to exactly the path its ImageConfig.Command names, and every bootstrap built is used.
func checkImage(p *project) []error {
	e := &errs{}
	t, d := p.template, p.dockerfile
	final := d.final()
	if final == nil {
		return []error{errors.New("Dockerfile has no stage")}
	}
	commands := map[string]string{} // path → function
	for _, fn := range t.functions() {
		r := t.Resources[fn]
		e.prefix = fn + ": "
		if pt, _ := t.evalString(r.Properties["PackageType"]); pt != "Image" {
			e.add("PackageType %q, want Image", pt)
		}
		for _, k := range []string{"Runtime", "Handler", "CodeUri", "Layers"} {
			if _, ok := r.Properties[k]; ok {
				e.add("%s is set; an image function has none", k)
			}
		}
		if str(r.Metadata["Dockerfile"]) != "Dockerfile" || str(r.Metadata["DockerContext"]) != "." || str(r.Metadata["DockerTag"]) == "" {
			e.add("Metadata %v: want Dockerfile: Dockerfile, DockerContext: ., a DockerTag (for sam build)", r.Metadata)
		}
		// A pushed image (make image) when ImageUri is given, sam build's otherwise.
		const pushed = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/graphphoto@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		for _, uri := range []string{pushed, ""} {
			t.Overrides["ImageUri"] = uri
			got, err := t.eval(r.Properties["ImageUri"])
			if _, none := got.(noValue); err != nil || (uri == "" && !none && got != nil) || (uri != "" && got != uri) {
				e.add("with parameter ImageUri=%q, ImageUri is %v (%v): want the parameter when given, no ImageUri (sam build's image) when empty", uri, got, err)
			}
		}
		delete(t.Overrides, "ImageUri")
		cmd, err := t.command(fn)
		e.addErr(err)
		if len(cmd) != 1 {
			e.add("ImageConfig.Command %v: want exactly the bootstrap's path", cmd)
			continue
		}
		commands[cmd[0]] = fn
	}
	e.prefix = "Dockerfile: "
	built := map[string]bool{}
	for _, s := range d.Stages {
		for _, b := range s.goBuilds() {
			dir := strings.TrimPrefix(path.Clean(b.Pkg), "./")
			if !strings.HasPrefix(dir, "functions/") {
				continue
			}
			name := path.Base(dir)
			installed := final.installed(s.Name, b.Out)
			switch {
			case b.Out == "":
				e.add("go build %s has no -o", b.Pkg)
			case installed == "":
				e.add("the bootstrap %s (go build %s in stage %s) is not copied into the final image", b.Out, b.Pkg, s.Name)
			case commands[installed] == "":
				e.add("the bootstrap %s at %s is not the command of any function in template.yaml", name, installed)
			case path.Base(installed) != name:
				e.add("%s is installed as %s: the command's name must say which function it is", b.Pkg, installed)
			}
			if !isMainPackage(p.root, dir) {
				e.add("go build %s: no main package in %s", b.Pkg, dir)
			}
			if !slices.Contains(b.Tags, "lambda.norpc") {
				e.add("go build %s without -tags lambda.norpc", b.Pkg)
			}
			if s.env()["CGO_ENABLED"] != "1" {
				e.add("go build %s in stage %s without CGO_ENABLED=1: bimg needs cgo", b.Pkg, s.Name)
			}
			built[installed] = true
		}
	}
	for c, fn := range commands {
		if !built[c] {
			e.add("%s runs %s, which no go build of functions/* produces and no COPY installs", fn, c)
		}
	}
	// Every Lambda main in functions/ is built (a new function must be deployed too).
	entries, _ := os.ReadDir(filepath.Join(p.root, "functions"))
	for _, ent := range entries {
		if ent.IsDir() && isMainPackage(p.root, "functions/"+ent.Name()) && !built[path.Join("/var/task", ent.Name())] {
			if _, err := p.functionFor(ent.Name()); err != nil {
				e.add("functions/%s is a Lambda main but neither built into the image nor a function: %v", ent.Name(), err)
			}
		}
	}
	if ep, ok := final.last("ENTRYPOINT"); !ok || ep != "[]" {
		e.add("final stage ENTRYPOINT %q: want [] so that the command is the bootstrap ImageConfig.Command names", ep)
	}
	cmdArgs, _ := final.last("CMD")
	if cmd, ok := execForm(cmdArgs); !ok || len(cmd) != 1 || commands[cmd[0]] == "" {
		e.add("final stage CMD %s: want one function's bootstrap, in exec form", cmdArgs)
	}
	return e.list
}

// buildPackages are the only Debian packages the build stage may install: a C compiler and
// libc's headers for cgo, pkg-config and libvips' headers for bimg, the CA roots for go mod
// download. They never reach the runtime stage.
var buildPackages = []string{"ca-certificates", "gcc", "libc6-dev", "pkg-config", "libvips-dev"}

// fromSource are the signs of a library built from source rather than taken from Debian.
var fromSource = regexp.MustCompile(`\b(curl|wget|meson|cmake|ninja|configure|make install|git clone|dnf|yum|pip3? install)\b`)

// checkDockerfile: the image is the one internal/lambdaimage assembles and the tests run:
// Debian 12 with Debian's libvips, the runtime installed only by image/install.sh from
// image/packages.txt (no -dev package, no compiler), nothing built from source, the bootstraps
// built with cgo against the same Debian release with go.mod's Go version and the assembly's
// flags, at the assembly's paths, with its entry point, command, working folder and environment.
func checkDockerfile(p *project) []error {
	e := &errs{prefix: "Dockerfile: "}
	d := p.dockerfile
	final := d.final()
	if final == nil {
		return []error{errors.New("Dockerfile has no stage")}
	}
	suite := lambdaimage.Suite
	if final.From != "debian:"+suite+"-slim" {
		e.add("final stage FROM %s, want debian:%s-slim: the Debian release whose libvips the tests run", final.From, suite)
	}
	want, have := majorMinor(goModVersion(p.goMod)), majorMinor(d.GlobalArgs["GO_VERSION"])
	if want == "" || want != have {
		e.add("ARG GO_VERSION=%s, go.mod says go %s", d.GlobalArgs["GO_VERSION"], goModVersion(p.goMod))
	}
	var goStage *stage
	for i := range d.Stages {
		if d.Stages[i].From == "golang:${GO_VERSION}" {
			goStage = &d.Stages[i]
		}
	}
	if goStage == nil {
		e.add("no stage FROM golang:${GO_VERSION}")
	}

	// The runtime stage: the package list through the install script, and nothing else.
	copied := map[string]string{} // repository file → where the final stage puts it
	for _, in := range final.Instr {
		if in.Cmd != "COPY" || strings.Contains(in.Args, "--from=") {
			continue
		}
		f := strings.Fields(in.Args)
		for _, src := range f[:len(f)-1] {
			copied[src] = path.Join(f[len(f)-1], path.Base(src))
		}
	}
	// Every file a stage copies from the build context must be in it (.dockerignore).
	for _, st := range d.Stages {
		for _, in := range st.Instr {
			if in.Cmd != "COPY" || strings.Contains(in.Args, "--from=") {
				continue
			}
			f := strings.Fields(in.Args)
			for _, src := range f[:len(f)-1] {
				if src != "." && dockerIgnored(p.ignore, src) {
					e.add("COPY %s: .dockerignore keeps it out of the build context", src)
				}
			}
		}
	}
	list, script := copied[lambdaimage.PackagesFile], copied[lambdaimage.InstallScript]
	if list == "" || script == "" {
		e.add("the final stage does not COPY %s and %s", lambdaimage.PackagesFile, lambdaimage.InstallScript)
	}
	installs := 0
	for _, c := range final.run() {
		if f := strings.Fields(c); len(f) == 3 && f[0] == "sh" && f[1] == script && f[2] == list && list != "" {
			installs++
			continue
		}
		if strings.Contains(c, "apt-get") || strings.Contains(c, "dpkg") {
			e.add("final stage runs %q: the runtime's packages come from %s through %s only, as in the tested image", c, lambdaimage.PackagesFile, lambdaimage.InstallScript)
		}
	}
	if installs != 1 {
		e.add("the final stage runs `sh %s %s` %d times, want once", script, list, installs)
	}
	if _, err := lambdaimage.ParsePackages(p.packages); err != nil {
		e.addErr(fmt.Errorf("%s: %w", lambdaimage.PackagesFile, err))
	}

	// The build stage: Debian's libvips headers of the same release, Go from the golang stage.
	builders := 0
	for _, s := range d.Stages {
		if len(s.goBuilds()) == 0 {
			continue
		}
		builders++
		if s.From != "debian:"+suite {
			e.add("stage %s builds the bootstraps FROM %s: want debian:%s, whose libvips-dev matches the runtime's libvips42", s.Name, s.From, suite)
		}
		if goStage != nil && s.installedFrom(goStage.Name, "/usr/local/go") == "" {
			e.add("stage %s does not take its Go toolchain from the golang:${GO_VERSION} stage", s.Name)
		}
		if s.env()["GOTOOLCHAIN"] != "local" {
			e.add("stage %s: GOTOOLCHAIN=local missing: a newer go.mod would download a toolchain mid-build", s.Name)
		}
		for _, c := range s.run() {
			f := strings.Fields(c)
			if len(f) < 3 || f[0] != "apt-get" || f[1] != "install" {
				continue
			}
			for _, pkg := range f[2:] {
				if !strings.HasPrefix(pkg, "-") && !slices.Contains(buildPackages, pkg) {
					e.add("stage %s installs %s; the build needs only %v", s.Name, pkg, buildPackages)
				}
			}
		}
		for _, b := range s.goBuilds() {
			if wantArgs := lambdaimage.BuildArgs(b.Out, b.Pkg); !slices.Equal(b.Args, wantArgs) {
				e.add("go %s: want go %s, as internal/lambdaimage builds the bootstraps it tests", strings.Join(b.Args, " "), strings.Join(wantArgs, " "))
			}
		}
	}
	if builders != 1 {
		e.add("%d stages run go build, want 1", builders)
	}
	for _, s := range d.Stages {
		for _, c := range s.run() {
			if m := fromSource.FindString(c); m != "" {
				e.add("stage %s runs %q (%s): every library comes from Debian's packages, none is built or downloaded", s.Name, c, m)
			}
		}
	}

	// The layout the assembly gives: bootstraps, entry point, command, folder, environment.
	for _, b := range lambdaimage.Bootstraps() {
		found := false
		for _, s := range d.Stages {
			for _, gb := range s.goBuilds() {
				if path.Clean(gb.Pkg) == path.Clean(b.Package) && final.installed(s.Name, gb.Out) == b.Path {
					found = true
				}
			}
		}
		if !found {
			e.add("%s is not built into %s, where internal/lambdaimage puts and runs it", b.Package, b.Path)
		}
	}
	cfg := lambdaimage.ImageConfig()
	if ep, _ := final.last("ENTRYPOINT"); ep != "[]" || len(cfg.Entrypoint) != 0 {
		e.add("ENTRYPOINT %s and the assembly's entry point %q differ", ep, cfg.Entrypoint)
	}
	cmdArgs, _ := final.last("CMD")
	if cmd, ok := execForm(cmdArgs); !ok || !slices.Equal(cmd, cfg.Cmd) {
		e.add("CMD %s, the assembly's command is %q", cmdArgs, cfg.Cmd)
	}
	if wd, _ := final.last("WORKDIR"); wd != cfg.WorkingDir {
		e.add("WORKDIR %q, the assembly's working folder is %q", wd, cfg.WorkingDir)
	}
	env := final.env()
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PATH" {
			// Inherited from the debian image, which sets exactly this.
			if v != lambdaimage.DebianPath {
				e.add("the assembly's PATH %q is not the debian image's %q", v, lambdaimage.DebianPath)
			}
			if _, set := env["PATH"]; set {
				e.add("final stage sets PATH; the assembly keeps the debian image's")
			}
			continue
		}
		if env[k] != v {
			e.add("final stage ENV %s=%q, the assembly sets %q", k, env[k], v)
		}
	}
	for k := range env {
		if !slices.ContainsFunc(cfg.Env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") }) {
			e.add("final stage ENV %s, which the assembly does not set", k)
		}
	}
	return e.list
}

// dockerIgnored reports whether .dockerignore's patterns leave name out of the build context:
// the last pattern matching the name or one of its parent folders decides, "!" re-includes, and
// a leading "**/" matches any depth.
func dockerIgnored(ignore []byte, name string) bool {
	elems := strings.Split(path.Clean(name), "/")
	ignored := false
	for _, line := range strings.Split(string(ignore), "\n") {
		pat := strings.TrimSpace(line)
		if pat == "" || strings.HasPrefix(pat, "#") {
			continue
		}
		negate := strings.HasPrefix(pat, "!")
		pat = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/"), "/")
		anyDepth := strings.HasPrefix(pat, "**/")
		pat = strings.TrimPrefix(pat, "**/")
		depth := strings.Count(pat, "/") + 1
		matched := false
		for start := 0; start+depth <= len(elems) && !matched && (start == 0 || anyDepth); start++ {
			matched, _ = path.Match(pat, strings.Join(elems[start:start+depth], "/"))
		}
		if matched {
			ignored = !negate
		}
	}
	return ignored
}

func safeIndex(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// installedFrom is where a COPY --from=from puts src (exact source match), "" if nowhere.
func (s *stage) installedFrom(from, src string) string {
	return s.installed(from, src)
}

// ---- environment and parameters ------------------------------------------------------------

// loadConfig evaluates a function's environment and runs config.Load over it.
func (t *Template) loadConfig(fn string, extra map[string]string) (config.Config, map[string]string, error) {
	env := map[string]string{}
	for k, v := range t.environment(fn) {
		s, err := t.evalString(v)
		if err != nil {
			return config.Config{}, nil, fmt.Errorf("%s: %w", k, err)
		}
		env[k] = s
	}
	for k, v := range extra {
		env[k] = v
	}
	c, err := config.Load(func(k string) string { return env[k] })
	return c, env, err
}

// checkEnvironment: each function declares exactly the variables internal/config reads, and
// config.Load accepts the values the template gives them.
func checkEnvironment(p *project) []error {
	e := &errs{}
	t := p.template
	for _, fn := range t.functions() {
		e.prefix = fn + ": "
		declared := t.environment(fn)
		for _, v := range config.Variables {
			if _, ok := declared[v]; !ok {
				e.add("%s is not declared: config.Load reads it (and sam local --env-vars can set only declared variables)", v)
			}
		}
		for v := range declared {
			if !slices.Contains(config.Variables, v) {
				e.add("%s is declared but internal/config reads no such variable", v)
			}
		}
		_, _, err := t.loadConfig(fn, nil)
		e.addErr(err)
	}
	return e.list
}

// checkParameters: every parameter's default meets its own constraints, the samples of the
// required parameters too, and config.Load accepts every value an operator may choose for a
// parameter that feeds an environment variable (its default, bounds and allowed values).
func checkParameters(p *project) []error {
	e := &errs{}
	t := p.template
	for _, name := range sortedKeys(t.Parameters) {
		e.prefix = "parameter " + name + ": "
		v, err := t.param(name)
		if err != nil {
			e.addErr(err)
			continue
		}
		e.addErr(meetsConstraints(t.Parameters[name], v))
		for _, sample := range optionalSamples[name] {
			e.addErr(meetsConstraints(t.Parameters[name], sample))
		}
	}
	for _, fn := range t.functions() {
		for envName, raw := range t.environment(fn) {
			param := refTo(raw)
			def, ok := t.Parameters[param]
			if !ok {
				continue
			}
			e.prefix = fmt.Sprintf("%s: %s from parameter %s: ", fn, envName, param)
			for _, candidate := range append(candidates(def), optionalSamples[param]...) {
				saved, had := t.Overrides[param]
				t.Overrides[param] = candidate
				_, _, err := t.loadConfig(fn, nil)
				if had {
					t.Overrides[param] = saved
				} else {
					delete(t.Overrides, param)
				}
				if err != nil {
					e.add("the template allows %q but config.Load refuses it: %v", candidate, err)
				}
			}
		}
	}
	return e.list
}

// optionalSamples are values an operator may give parameters that have a default, beyond what
// candidates finds (default, bounds, allowed values); each must meet the parameter's
// constraints and pass config.Load.
var optionalSamples = map[string][]string{
	"ApiGatewayId":           {"a1b2c3d4e5"},
	"ApiUserScope":           {"Photos.Upload", "user_impersonation"},
	"TargetMetadataPrefixes": {"uploads/", "hr-export/,uploads/", "uploads/,hr-export/2026/"},
}

// candidates are the values of a parameter worth trying: default, bounds, allowed values.
func candidates(def map[string]any) []string {
	var out []string
	for _, k := range []string{"Default", "MinValue", "MaxValue"} {
		if s, ok := scalar(def[k]); ok {
			out = append(out, s)
		}
	}
	for _, a := range listOf(def["AllowedValues"]) {
		if s, ok := scalar(a); ok {
			out = append(out, s)
		}
	}
	return out
}

func meetsConstraints(def map[string]any, v string) error {
	if allowed := listOf(def["AllowedValues"]); len(allowed) > 0 {
		found := false
		for _, a := range allowed {
			if s, _ := scalar(a); s == v {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%q is not in AllowedValues %v", v, allowed)
		}
	}
	if pat := str(def["AllowedPattern"]); pat != "" {
		re, err := regexp.Compile(pat)
		if err != nil {
			return fmt.Errorf("AllowedPattern %q: %w", pat, err)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("%q does not match AllowedPattern %q", v, pat)
		}
	}
	if n, ok := def["MinLength"].(float64); ok && float64(len(v)) < n {
		return fmt.Errorf("%q is shorter than MinLength %v", v, n)
	}
	if str(def["Type"]) == "Number" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		if lo, ok := def["MinValue"].(float64); ok && f < lo {
			return fmt.Errorf("%v is under MinValue %v", f, lo)
		}
		if hi, ok := def["MaxValue"].(float64); ok && f > hi {
			return fmt.Errorf("%v is over MaxValue %v", f, hi)
		}
	}
	return nil
}

// numberParam returns a Number parameter's default and bounds.
func (t *Template) numberParam(name string) (def, lo, hi float64, err error) {
	p, ok := t.Parameters[name]
	if !ok || str(p["Type"]) != "Number" {
		return 0, 0, 0, fmt.Errorf("%s is not a Number parameter", name)
	}
	def, _ = p["Default"].(float64)
	lo, okLo := p["MinValue"].(float64)
	hi, okHi := p["MaxValue"].(float64)
	if !okLo || !okHi {
		return 0, 0, 0, fmt.Errorf("%s has no MinValue/MaxValue", name)
	}
	return def, lo, hi, nil
}

// ---- functions ---------------------------------------------------------------------------

// checkFunctions: memory for libvips, timeouts, JSON logs at LOG_LEVEL, tracing, and the
// architecture as a parameter, x86_64 by default: the one make image-test verifies.
func checkFunctions(p *project) []error {
	e := &errs{}
	t := p.template
	if len(t.functions()) != 2 {
		e.add("%d functions, want onupload and api", len(t.functions()))
	}
	arch := t.Parameters["Architecture"]
	if str(arch["Default"]) != "x86_64" || !slices.Equal(listOf(arch["AllowedValues"]), []any{"x86_64", "arm64"}) {
		e.add("parameter Architecture: want default x86_64 (the verified one), allowed x86_64 and arm64; got %v", arch)
	}
	for _, fn := range t.functions() {
		e.prefix = fn + ": "
		if archs := listOf(t.functionProperty(fn, "Architectures")); len(archs) != 1 || refTo(archs[0]) != "Architecture" {
			e.add("Architectures %v, want [!Ref Architecture]", archs)
		}
		mem := t.functionProperty(fn, "MemorySize")
		if param := refTo(mem); param != "" {
			if _, lo, _, err := t.numberParam(param); err != nil || lo < 2048 {
				e.add("MemorySize from %s: MinValue must be at least 2048 (%v)", param, err)
			}
		}
		if m, err := t.evalString(mem); err != nil {
			e.add("MemorySize: %v", err)
		} else if n, _ := strconv.Atoi(m); n < 2048 {
			e.add("MemorySize %s, want at least 2048 for the image work", m)
		}
		timeout, err := t.evalString(t.functionProperty(fn, "Timeout"))
		n, _ := strconv.Atoi(timeout)
		if err != nil || n < 1 || n > 900 {
			e.add("Timeout %q: want 1..900 seconds", timeout)
		}
		if hasHTTPAPIEvents(t, fn) && n > 29 {
			e.add("Timeout %d: API Gateway ends an HTTP API integration at 30 s", n)
		}
		if tr, _ := t.evalString(t.functionProperty(fn, "Tracing")); tr != "Active" {
			e.add("Tracing %q, want Active", tr)
		}
		lc := mapOf(t.functionProperty(fn, "LoggingConfig"))
		if f, _ := t.evalString(lc["LogFormat"]); f != "JSON" {
			e.add("LoggingConfig.LogFormat %q, want JSON", f)
		}
		// Lambda's application log level must follow LOG_LEVEL for every level allowed.
		logParam := refTo(t.environment(fn)["LOG_LEVEL"])
		for _, lvl := range candidates(t.Parameters[logParam]) {
			t.Overrides[logParam] = lvl
			app, err := t.evalString(lc["ApplicationLogLevel"])
			if err != nil || app != strings.ToUpper(lvl) {
				e.add("LOG_LEVEL=%s gives ApplicationLogLevel %q (%v), want %s", lvl, app, err, strings.ToUpper(lvl))
			}
		}
		delete(t.Overrides, logParam)
		if logParam == "" {
			e.add("LOG_LEVEL is not a parameter, so Lambda's log level cannot follow it")
		}
		group := refTo(lc["LogGroup"])
		if t.Resources[group].Type != "AWS::Logs::LogGroup" {
			e.add("LoggingConfig.LogGroup %v: want !Ref of a log group in this template (its role may write only there)", lc["LogGroup"])
		}
	}
	return e.list
}

func hasHTTPAPIEvents(t *Template, fn string) bool {
	for _, ev := range mapOf(t.Resources[fn].Properties["Events"]) {
		if str(mapOf(ev)["Type"]) == "HttpApi" {
			return true
		}
	}
	return false
}

// ---- IAM ---------------------------------------------------------------------------------

// Actions that support no resource but "*" (X-Ray), needed by Tracing: Active.
var starOnlyActions = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

// s3Actions maps the S3 SDK calls the code makes to the IAM actions they need (with the
// …Version forms for a versioned bucket). A call missing here fails the check: add it here and
// grant it in template.yaml.
var s3Actions = map[string][]string{
	"GetObject":        {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}, // ListBucket: 404, not 403, for a missing key
	"GetObjectTagging": {"s3:GetObjectTagging", "s3:GetObjectVersionTagging"},
	"PutObjectTagging": {"s3:PutObjectTagging", "s3:PutObjectVersionTagging"},
	"PresignPutObject": {"s3:PutObject"},
}

// stateActions maps the calls of the photo record store (photostate.S3) to IAM actions: its
// bucket is not versioned and it names no version, so no …Version forms; s3:ListBucket makes a
// record never written a 404 rather than a 403.
var stateActions = map[string][]string{
	"GetObject": {"s3:GetObject", "s3:ListBucket"},
	"PutObject": {"s3:PutObject"},
}

// s3ActionsOf returns the IAM actions the methods of an interface type need, by s3Actions or
// the given table.
func s3ActionsOf(typ reflect.Type, table ...map[string][]string) ([]string, error) {
	actions := s3Actions
	if len(table) > 0 {
		actions = table[0]
	}
	var out []string
	for i := 0; i < typ.NumMethod(); i++ {
		m := typ.Method(i).Name
		a, ok := actions[m]
		if !ok {
			return nil, fmt.Errorf("%s calls S3 %s, which this test maps to no IAM action", typ, m)
		}
		for _, x := range a {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out, nil
}

// checkIAM: no Allow has a wildcard action, "*" is a resource only for X-Ray, wildcards in
// resources only end S3 object ARNs of this template's buckets, Deny is only TLS-only, and each
// function's role grants exactly what its code calls, on exactly its resources.
func checkIAM(p *project) []error {
	e := &errs{}
	t := p.template
	sts, problems := t.policies()
	e.list = append(e.list, problems...)
	buckets, bp := t.bucketNames()
	e.list = append(e.list, bp...)
	for _, s := range sts {
		e.prefix = s.where + ": "
		for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, ok := s.raw[k]; ok {
				e.add("%s is not allowed (it grants by exclusion)", k)
			}
		}
		switch s.effect() {
		case "Deny":
			cond := mapOf(mapOf(s.raw["Condition"])["Bool"])
			if str(cond["aws:SecureTransport"]) != "false" {
				e.add("a Deny other than TLS-only (aws:SecureTransport false): %v", s.raw)
			}
			continue
		case "Allow":
		default:
			e.add("Effect %q", s.effect())
			continue
		}
		if pr := s.raw["Principal"]; pr == "*" || mapOf(pr)["AWS"] == "*" {
			e.add("Allow to Principal *")
		}
		actions := s.actions()
		if len(actions) == 0 {
			e.add("no Action")
		}
		for _, a := range actions {
			if strings.Contains(a, "*") {
				e.add("wildcard action %q", a)
			}
		}
		for _, r := range s.resources() {
			v, err := t.eval(r)
			if err != nil {
				e.add("resource %v: %v", r, err)
				continue
			}
			rs, ok := v.(string)
			if !ok {
				continue // a Ref or GetAtt of one resource of this template
			}
			if rs == "*" {
				for _, a := range actions {
					if !slices.Contains(starOnlyActions, a) {
						e.add("Resource * for %s (only %v may have it: X-Ray has no resource-level permissions)", a, starOnlyActions)
					}
				}
				continue
			}
			if strings.HasPrefix(rs, "arn:aws:s3:::") {
				bucket, rest, _ := strings.Cut(strings.TrimPrefix(rs, "arn:aws:s3:::"), "/")
				if _, ok := buckets[bucket]; !ok {
					e.add("S3 resource %s names bucket %q, which is not a bucket of this template", rs, bucket)
				}
				if strings.Contains(bucket, "*") || (strings.Contains(rest, "*") && (!strings.HasSuffix(rest, "*") || strings.Count(rest, "*") > 1)) {
					e.add("S3 resource %s: a wildcard may only end an object key prefix", rs)
				}
				continue
			}
			if strings.Contains(rs, "*") {
				e.add("wildcard resource %s", rs)
			}
		}
	}
	e.list = append(e.list, checkFunctionGrants(p)...)
	return e.list
}

// checkFunctionGrants compares each function role's grants with what its code does.
func checkFunctionGrants(p *project) []error {
	e := &errs{}
	t := p.template
	_, uploadName, err := t.uploadBucket()
	if err != nil {
		return []error{err}
	}
	objectARN := "arn:aws:s3:::" + uploadName + "/"
	onuploadS3, err := s3ActionsOf(reflect.TypeFor[onupload.S3]())
	e.addErr(err)
	apiS3, err := s3ActionsOf(reflect.TypeFor[api.Presigner]())
	e.addErr(err)
	stateS3, err := s3ActionsOf(reflect.TypeFor[photostate.S3](), stateActions)
	e.addErr(err)

	for _, name := range []string{"onupload", "api"} {
		fn, err := p.functionFor(name)
		if err != nil {
			e.addErr(err)
			continue
		}
		e.prefix = fn + ": "
		role, err := t.roleOf(fn)
		if err != nil {
			e.addErr(err)
			continue
		}
		grants, err := t.grants(role)
		if err != nil {
			e.addErr(err)
			continue
		}
		env := t.environment(fn)
		logGroup := refTo(mapOf(t.functionProperty(fn, "LoggingConfig"))["LogGroup"])
		want := map[string][]string{ // action → exactly the resources it may have
			"secretsmanager:GetSecretValue": {requiredSamples["GraphSecretArn"]},
			"logs:CreateLogStream":          {symbol{Kind: "GetAtt", Logical: logGroup, Attr: "Arn"}.String()},
			"logs:PutLogEvents":             {symbol{Kind: "GetAtt", Logical: logGroup, Attr: "Arn"}.String()},
			"xray:PutTraceSegments":         {"*"},
			"xray:PutTelemetryRecords":      {"*"},
		}
		if refTo(env["GRAPH_SECRET_ID"]) != "GraphSecretArn" {
			e.add("GRAPH_SECRET_ID is not !Ref GraphSecretArn, the one secret the role may read")
		}
		_, cfgEnv, err := t.loadConfig(fn, nil)
		e.addErr(err)
		// Both functions keep photo records (internal/photostate): reads and writes under its
		// prefix of the state bucket, the listing on the bucket.
		if state := cfgEnv["STATE_BUCKET"]; state != "" {
			for _, a := range stateS3 {
				res := "arn:aws:s3:::" + state + "/" + photostate.DefaultPrefix + "*"
				if a == "s3:ListBucket" {
					res = "arn:aws:s3:::" + state
				}
				want[a] = append(want[a], res)
			}
		}
		switch name {
		case "onupload":
			for _, a := range onuploadS3 {
				res := objectARN + "*"
				if a == "s3:ListBucket" {
					res = strings.TrimSuffix(objectARN, "/")
				}
				want[a] = append(want[a], res)
			}
			queue := ""
			for _, ev := range mapOf(t.Resources[fn].Properties["Events"]) {
				if str(mapOf(ev)["Type"]) == "SQS" {
					queue, _ = getAtt(mapOf(mapOf(ev)["Properties"])["Queue"])
				}
			}
			for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"} {
				want[a] = []string{symbol{Kind: "GetAtt", Logical: queue, Attr: "Arn"}.String()}
			}
		case "api":
			if cfgEnv["UPLOAD_BUCKET"] != uploadName {
				e.add("UPLOAD_BUCKET %q, want the upload bucket %q", cfgEnv["UPLOAD_BUCKET"], uploadName)
			}
			for _, a := range apiS3 {
				want[a] = append(want[a], objectARN+cfgEnv["UPLOAD_PREFIX"]+"*")
			}
		}
		for a, res := range want {
			var got []string
			for _, g := range grants[a] {
				got = append(got, fmt.Sprint(g))
			}
			sort.Strings(got)
			sort.Strings(res)
			if !slices.Equal(got, res) {
				e.add("%s on %v, want on exactly %v", a, got, res)
			}
		}
		for a, res := range grants {
			if _, ok := want[a]; !ok {
				e.add("%s on %v is granted but the code needs no such action", a, res)
			}
		}
	}
	return e.list
}

// ---- S3 → SQS → onupload -----------------------------------------------------------------

// The arithmetic behind MaximumConcurrency and ApiThrottleRate (README "Deploy"; Graph's limits
// from docs/graph-photo-api.md#write-quotas).
const (
	graphWritesPerWindow = 3000 // strictest documented write quota that may apply: per app and tenant…
	graphWindowSeconds   = 150  // …per 2 min 30 s
	fastestPhotoSeconds  = 0.5  // one photo end to end at best: S3 ~50 ms, normalise ~65 ms, Graph PUT ~350 ms
	s3PathShare          = 0.5  // the S3 path's share of the quota; the API and retries get the rest
)

func derivedLimits() (maxConcurrency, apiRate int) {
	quota := float64(graphWritesPerWindow) / graphWindowSeconds // 20 writes/s
	perInstance := 1 / fastestPhotoSeconds                      // 2 writes/s: one photo at a time
	return int(math.Floor(quota * s3PathShare / perInstance)), int(math.Floor(quota * (1 - s3PathShare)))
}

// checkQueue: the bucket notifies a queue whose policy admits only that bucket of this account;
// onupload consumes it with partial batch failures and a Graph-derived maximum concurrency; a
// redrive DLQ; visibility timeout at least six times the function timeout; both queues encrypted.
func checkQueue(p *project) []error {
	e := &errs{}
	t := p.template
	fn, err := p.functionFor("onupload")
	if err != nil {
		return []error{err}
	}
	e.prefix = fn + ": "
	events := mapOf(t.Resources[fn].Properties["Events"])
	if len(events) != 1 {
		e.add("%d events, want the one SQS queue (S3 Batch Operations invokes the function directly)", len(events))
	}
	var queue string
	var props map[string]any
	for _, ev := range events {
		if str(mapOf(ev)["Type"]) == "SQS" {
			props = mapOf(mapOf(ev)["Properties"])
			queue, _ = getAtt(props["Queue"])
		}
	}
	if queue == "" || t.Resources[queue].Type != "AWS::SQS::Queue" {
		return append(e.list, fmt.Errorf("%sno SQS event whose Queue is !GetAtt <a queue of this template>.Arn", e.prefix))
	}
	if !slices.Contains(listOf(props["FunctionResponseTypes"]), any("ReportBatchItemFailures")) {
		e.add("SQS event without FunctionResponseTypes [ReportBatchItemFailures]: one failed photo would retry the batch")
	}
	if bs, ok := props["BatchSize"].(float64); !ok || bs < 1 || bs > 10 {
		e.add("SQS BatchSize %v: want 1..10", props["BatchSize"])
	}
	mc := mapOf(props["ScalingConfig"])["MaximumConcurrency"]
	param := refTo(mc)
	def, lo, hi, err := t.numberParam(param)
	switch {
	case err != nil:
		e.add("ScalingConfig.MaximumConcurrency %v: want !Ref of a Number parameter: %v", mc, err)
	case lo < 2 || hi > 1000 || def < lo || def > hi:
		e.add("parameter %s: default %v within %v..%v, and SQS allows 2..1000", param, def, lo, hi)
	}
	wantMC, wantAPI := derivedLimits()
	if param != "" && int(def) != wantMC {
		e.add("parameter %s default %v; Graph's limits give %d (derivedLimits)", param, def, wantMC)
	}
	if d := str(t.Parameters[param]["Description"]); !strings.Contains(d, "3,000 writes per 150 s") || !strings.Contains(d, "= 5") {
		e.add("parameter %s: the description must show the arithmetic (3,000 writes per 150 s … = 5)", param)
	}
	if rate, _, _, err := t.numberParam("ApiThrottleRate"); err != nil || int(rate) != wantAPI {
		e.add("parameter ApiThrottleRate default %v (%v); the API's share of Graph's quota is %d", rate, err, wantAPI)
	}

	q := t.Resources[queue].Properties
	e.prefix = queue + ": "
	timeout, _ := strconv.Atoi(mustString(t, t.functionProperty(fn, "Timeout")))
	if vt, _ := q["VisibilityTimeout"].(float64); int(vt) < 6*timeout {
		e.add("VisibilityTimeout %v, want at least 6 × the function's timeout (%d s)", q["VisibilityTimeout"], timeout)
	}
	redrive := mapOf(q["RedrivePolicy"])
	dlq, _ := getAtt(redrive["deadLetterTargetArn"])
	if dlq == "" || dlq == queue || t.Resources[dlq].Type != "AWS::SQS::Queue" {
		e.add("RedrivePolicy.deadLetterTargetArn %v: want !GetAtt <another queue>.Arn", redrive["deadLetterTargetArn"])
	}
	if n, _ := redrive["maxReceiveCount"].(float64); n < 1 {
		e.add("RedrivePolicy.maxReceiveCount %v, want at least 1", redrive["maxReceiveCount"])
	}
	for _, id := range []string{queue, dlq} {
		r := t.Resources[id].Properties
		if r["SqsManagedSseEnabled"] != true && r["KmsMasterKeyId"] == nil {
			e.add("%s is not encrypted at rest", id)
		}
	}
	if rq, rd := t.Resources[queue].Properties["MessageRetentionPeriod"], t.Resources[dlq].Properties["MessageRetentionPeriod"]; num(rd) < num(rq) {
		e.add("the DLQ keeps messages %v s, less than the queue (%v s)", rd, rq)
	}

	bucket, bucketName, err := t.uploadBucket()
	if err != nil {
		return append(e.list, err)
	}
	e.prefix = bucket + ": "
	found := false
	for _, qc := range listOf(mapOf(t.Resources[bucket].Properties["NotificationConfiguration"])["QueueConfigurations"]) {
		qid, _ := getAtt(mapOf(qc)["Queue"])
		if qid == queue && str(mapOf(qc)["Event"]) == "s3:ObjectCreated:*" {
			found = true
		}
	}
	if !found {
		e.add("no QueueConfiguration sending s3:ObjectCreated:* to %s", queue)
	}
	// The queue policy: S3 may send, for this bucket and account only; the bucket waits for it.
	var policy string
	for _, id := range t.ofType("AWS::SQS::QueuePolicy") {
		for _, qr := range listOf(t.Resources[id].Properties["Queues"]) {
			if refTo(qr) == queue {
				policy = id
			}
		}
	}
	if policy == "" {
		return append(e.list, fmt.Errorf("no AWS::SQS::QueuePolicy for %s", queue))
	}
	if !slices.Contains(t.Resources[bucket].DependsOn, policy) {
		e.add("DependsOn %v lacks %s: S3 checks the queue policy when the notification is created", t.Resources[bucket].DependsOn, policy)
	}
	e.prefix = policy + ": "
	ok := false
	for _, s := range listOf(mapOf(t.Resources[policy].Properties["PolicyDocument"])["Statement"]) {
		st := statement{raw: mapOf(s)}
		if st.effect() != "Allow" {
			continue
		}
		if str(mapOf(st.raw["Principal"])["Service"]) != "s3.amazonaws.com" || !slices.Equal(st.actions(), []string{"sqs:SendMessage"}) {
			e.add("an Allow other than s3.amazonaws.com sqs:SendMessage: %v", st.raw)
			continue
		}
		cond := mapOf(st.raw["Condition"])
		src, err := t.evalString(mapOf(cond["ArnLike"])["aws:SourceArn"])
		if err != nil {
			src, err = t.evalString(mapOf(cond["ArnEquals"])["aws:SourceArn"])
		}
		account := refTo(mapOf(cond["StringEquals"])["aws:SourceAccount"])
		if err != nil || src != "arn:aws:s3:::"+bucketName || account != "AWS::AccountId" {
			e.add("S3 may send without aws:SourceArn = arn:aws:s3:::%s (got %q, %v) and aws:SourceAccount = !Ref AWS::AccountId (got %q)", bucketName, src, err, account)
			continue
		}
		ok = true
	}
	if !ok {
		e.add("no statement lets the upload bucket's notifications in")
	}
	return e.list
}

func mustString(t *Template, v any) string {
	s, _ := t.evalString(v)
	return s
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// ---- buckets -----------------------------------------------------------------------------

// longestRegion is the length of the longest AWS region names (ap-southeast-5, us-isob-east-1).
const longestRegion = 14

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// checkBuckets: each bucket is named by a !Sub string that stays a valid S3 name for every
// prefix the parameter allows, blocks public access, is encrypted, and has a TLS-only policy
// naming it by that same string; wherever the template names a bucket it uses that string.
func checkBuckets(p *project) []error {
	e := &errs{}
	t := p.template
	buckets := t.ofType("AWS::S3::Bucket")
	if len(buckets) == 0 {
		return []error{errors.New("no AWS::S3::Bucket")}
	}
	for _, b := range buckets {
		e.prefix = b + ": "
		props := t.Resources[b].Properties
		text, ok := subText(props["BucketName"])
		if !ok {
			e.add("BucketName %v is not a !Sub string", props["BucketName"])
			continue
		}
		name, err := t.evalString(props["BucketName"])
		e.addErr(err)
		e.list = append(e.list, longestBucketNames(t, b, text)...)
		pab := mapOf(props["PublicAccessBlockConfiguration"])
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if pab[k] != true {
				e.add("PublicAccessBlockConfiguration.%s is not true", k)
			}
		}
		if len(listOf(mapOf(props["BucketEncryption"])["ServerSideEncryptionConfiguration"])) == 0 {
			e.add("no BucketEncryption")
		}
		// The bucket policy names the bucket by the same string and denies plain HTTP.
		tls := false
		for _, pol := range t.ofType("AWS::S3::BucketPolicy") {
			pp := t.Resources[pol].Properties
			if pt, _ := subText(pp["Bucket"]); pt != text {
				continue
			}
			if !slices.Contains(t.Resources[pol].DependsOn, b) {
				e.add("%s names the bucket by string but has no DependsOn %s", pol, b)
			}
			for _, s := range listOf(mapOf(pp["PolicyDocument"])["Statement"]) {
				st := statement{raw: mapOf(s)}
				var res []string
				for _, r := range st.resources() {
					rs, _ := t.evalString(r)
					res = append(res, rs)
				}
				sort.Strings(res)
				if st.effect() == "Deny" && st.raw["Principal"] == "*" && slices.Contains(st.actions(), "s3:*") &&
					str(mapOf(mapOf(st.raw["Condition"])["Bool"])["aws:SecureTransport"]) == "false" &&
					slices.Equal(res, []string{"arn:aws:s3:::" + name, "arn:aws:s3:::" + name + "/*"}) {
					tls = true
				}
			}
		}
		if !tls {
			e.add("no bucket policy named by its !Sub string denies s3:* without TLS on the bucket and its objects")
		}
		// Every !Sub that produces this bucket's name must contain the very same text.
		walk(t.Raw, func(v any) {
			st, ok := subText(v)
			if !ok {
				return
			}
			if s, err := t.evalString(v); err == nil && strings.Contains(s, name) && !strings.Contains(st, text) {
				e.add("%q names the bucket but not by its BucketName string %q", st, text)
			}
		})
	}
	// Every S3 ARN and bucket name value in the template belongs to one of its buckets.
	names, problems := t.bucketNames()
	e.list = append(e.list, problems...)
	e.prefix = ""
	walk(t.Raw, func(v any) {
		if _, ok := subText(v); !ok {
			return
		}
		s, err := t.evalString(v)
		if err != nil || !strings.HasPrefix(s, "arn:aws:s3:::") {
			return
		}
		b, _, _ := strings.Cut(strings.TrimPrefix(s, "arn:aws:s3:::"), "/")
		if _, ok := names[b]; !ok {
			e.add("%s names bucket %q, which this template does not create", s, b)
		}
	})
	return e.list
}

// checkStateBucket: both functions keep their photo records in one bucket of this template
// (STATE_BUCKET) that notifies nothing, so writing a record never triggers onupload, and the
// skip of unchanged photos is on by default (SKIP_UNCHANGED from a parameter whose default
// config.Load reads as on). Its encryption, public access block and TLS-only policy are
// checkBuckets', its grants checkIAM's.
func checkStateBucket(p *project) []error {
	e := &errs{}
	t := p.template
	names, problems := t.bucketNames()
	e.list = append(e.list, problems...)
	state := ""
	for _, fn := range t.functions() {
		e.prefix = fn + ": "
		cfg, _, err := t.loadConfig(fn, nil)
		if err != nil {
			e.addErr(err)
			continue
		}
		if !cfg.SkipUnchanged {
			e.add("SKIP_UNCHANGED is off with the template's defaults; the skip is on by default")
		}
		if p := refTo(t.environment(fn)["SKIP_UNCHANGED"]); p == "" {
			e.add("SKIP_UNCHANGED is not a parameter, so it cannot be turned off at deploy time")
		}
		switch {
		case cfg.StateBucket == "":
			e.add("no STATE_BUCKET")
		case names[cfg.StateBucket] == "":
			e.add("STATE_BUCKET %q is not a bucket of this template", cfg.StateBucket)
		case state != "" && cfg.StateBucket != state:
			e.add("STATE_BUCKET %q, another function's is %q: one record per target, one bucket", cfg.StateBucket, state)
		}
		state = cfg.StateBucket
	}
	e.prefix = ""
	if b := names[state]; b != "" {
		if n, ok := t.Resources[b].Properties["NotificationConfiguration"]; ok {
			e.add("state bucket %s has a NotificationConfiguration %v: a record written there must trigger nothing", b, n)
		}
	}
	return e.list
}

// longestBucketNames evaluates the name for the longest prefix BucketNamePrefix allows and the
// longest region name, and checks it is a valid S3 bucket name.
func longestBucketNames(t *Template, b, text string) []error {
	var out []error
	for _, m := range subVar.FindAllStringSubmatch(text, -1) {
		def, ok := t.Parameters[m[1]]
		if !ok {
			continue
		}
		pat, err := regexp.Compile(str(def["AllowedPattern"]))
		if err != nil || str(def["AllowedPattern"]) == "" {
			out = append(out, fmt.Errorf("%s: parameter %s in the bucket name needs an AllowedPattern", b, m[1]))
			continue
		}
		longest := ""
		for n := 1; n <= 80; n++ {
			if c := strings.Repeat("a", n); pat.MatchString(c) {
				longest = c
			}
		}
		saved := t.Overrides[m[1]]
		t.Overrides[m[1]] = longest
		pseudo["AWS::Region"] = strings.Repeat("r", longestRegion)
		name, err := t.evalString(map[string]any{"Fn::Sub": text})
		pseudo["AWS::Region"] = "us-east-1"
		if saved == "" {
			delete(t.Overrides, m[1])
		} else {
			t.Overrides[m[1]] = saved
		}
		if err != nil || !bucketName.MatchString(name) {
			out = append(out, fmt.Errorf("%s: with the longest %s the pattern allows (%d characters) and a %d-character region the name is %q (%d characters): not a valid S3 bucket name (%v)",
				b, m[1], len(longest), longestRegion, name, len(name), err))
		}
	}
	return out
}

func walk(v any, f func(any)) {
	f(v)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walk(x[k], f)
		}
	case []any:
		for _, e := range x {
			walk(e, f)
		}
	}
}

// ---- dependency cycles -------------------------------------------------------------------

// references returns the logical ids a raw value refers to (Ref, GetAtt, ${X} in Sub).
func (t *Template) references(v any) []string {
	var out []string
	walk(v, func(n any) {
		name, arg, ok := intrinsic(n)
		if !ok {
			return
		}
		switch name {
		case "Ref":
			if _, ok := t.Resources[str(arg)]; ok {
				out = append(out, str(arg))
			}
		case "Fn::GetAtt":
			if p := getAttParts(arg); len(p) == 2 {
				out = append(out, p[0])
			}
		case "Fn::Sub":
			text, _ := subText(n)
			for _, m := range subVar.FindAllStringSubmatch(text, -1) {
				id, _, _ := strings.Cut(m[1], ".")
				if _, ok := t.Resources[id]; ok {
					out = append(out, id)
				}
			}
		}
	})
	return out
}

// checkNoCycles: the resources' references (Ref, GetAtt, Sub, DependsOn) form no cycle, and
// nothing but a bucket's own policy refers to a bucket resource, which is what keeps the
// bucket/function circular dependency away.
func checkNoCycles(p *project) []error {
	e := &errs{}
	t := p.template
	edges := map[string][]string{}
	for id, r := range t.Resources {
		deps := append(t.references(map[string]any{"p": r.Properties, "e": nil}), r.DependsOn...)
		edges[id] = deps
		for _, d := range deps {
			if t.Resources[d].Type == "AWS::S3::Bucket" && r.Type != "AWS::S3::BucketPolicy" {
				e.add("%s refers to the bucket resource %s: name it by its !Sub string (a Ref or GetAtt from a role or function makes the SAM circular dependency)", id, d)
			}
		}
	}
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string)
	visit = func(id string) {
		switch state[id] {
		case active:
			i := slices.Index(stack, id)
			e.add("dependency cycle: %s", strings.Join(append(slices.Clone(stack[i:]), id), " → "))
			return
		case done:
			return
		}
		state[id] = active
		stack = append(stack, id)
		for _, d := range edges[id] {
			visit(d)
		}
		stack = stack[:len(stack)-1]
		state[id] = done
	}
	for _, id := range sortedKeys(t.Resources) {
		visit(id)
	}
	return e.list
}

// ---- HTTP API ----------------------------------------------------------------------------

type route struct {
	Method, Path string
	Scopes       []string // AuthorizationScopes, evaluated; none: any valid token
}

// matches reports whether an HTTP API route matches a request: literal segments exactly (case
// sensitive), {name} one segment, {name+} (last only) one or more.
func (r route) matches(method, reqPath string) bool {
	if r.Method != method && r.Method != "ANY" {
		return false
	}
	rs := strings.Split(strings.Trim(r.Path, "/"), "/")
	ps := strings.Split(strings.Trim(reqPath, "/"), "/")
	for i, seg := range rs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "+}") {
			return i == len(rs)-1 && len(ps) > i && ps[i] != ""
		}
		if i >= len(ps) || ps[i] == "" {
			return false
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			continue
		}
		if seg != ps[i] {
			return false
		}
	}
	return len(ps) == len(rs)
}

// specificity ranks routes as HTTP APIs choose among those that match: more literal segments
// first, then a plain variable over a greedy one.
func (r route) specificity() int {
	n := 0
	for _, seg := range strings.Split(strings.Trim(r.Path, "/"), "/") {
		switch {
		case strings.HasSuffix(seg, "+}"):
		case strings.HasPrefix(seg, "{"):
			n++
		default:
			n += 100
		}
	}
	return n
}

// routeFor is the route API Gateway sends a request to, or nil.
func routeFor(routes []route, method, reqPath string) *route {
	var best *route
	for i := range routes {
		if routes[i].matches(method, reqPath) && (best == nil || routes[i].specificity() > best.specificity()) {
			best = &routes[i]
		}
	}
	return best
}

// Requests the probe sends to the API handler; together they cover every route it documents,
// every target form, and paths and methods it must refuse.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost, http.MethodOptions}
var probePaths = []string{
	"/v1.0/users/alice@contoso.com/photo/$value",
	"/users/alice@contoso.com/photo/$value",
	"/v1.0/users/alice@contoso.com/photo/%24value",
	"/v1.0/Users/alice@contoso.com/photo/$value",
	"/v1.0/me/photo/$value",
	"/me/photo/$value",
	"/me/photo",
	"/v1.0/me/photo",
	"/v1.0/me/contacts/AAMkAGI2/photo/$value",
	"/v1.0/users/alice@contoso.com/photo",
	"/v1.0/groups/02bd9fd6-8f93-4758-87c3-1fb73740a315/photo/$value",
	"/v1.0/users/alice@contoso.com/contacts/AAMkAGI2/photo/$value",
	"/v1.0/me/contactfolders/AAMkAGF1/contacts/AAMkAGI2/photo/$value",
	"/v1.0/uploads",
	"/uploads",
	"/v1.0/users/alice@contoso.com",
	"/v1.0/sites/root/drive",
	"/v1.0/me/photos/648x648/$value",
	"/",
}

type photoFake struct{}

func (photoFake) Run(context.Context, photo.Job) photo.Outcome {
	panic("not reached without claims")
}
func (photoFake) MaxSourceBytes() int { return config.DefaultSourceMaxBytes }
func (photoFake) GetPhoto(context.Context, graph.Target) ([]byte, graph.Result, error) {
	panic("not reached without claims")
}
func (photoFake) GetPhotoMeta(context.Context, graph.Target) (graph.PhotoMeta, error) {
	panic("not reached without claims")
}
func (photoFake) DeletePhoto(context.Context, graph.Target) (graph.Result, error) {
	panic("not reached without claims")
}

// grantedFake answers every photo call with success, so a request that passes authorisation is
// told from one refused by its status. A job's answer is written by its recorder, as the real
// pipeline has it written.
type grantedFake struct{}

func (grantedFake) Run(ctx context.Context, j photo.Job) photo.Outcome {
	in, err := j.Source.Open(ctx)
	o := photo.Outcome{Status: photo.StatusSynced, Target: in.Target.String(), SourceBytes: int(max(in.Size, 0))}
	if err != nil {
		o = photo.Reject(in.Target.String(), 0, err)
	}
	j.Recorder.Record(ctx, &o)
	return o
}
func (grantedFake) MaxSourceBytes() int { return config.DefaultSourceMaxBytes }
func (grantedFake) GetPhoto(context.Context, graph.Target) ([]byte, graph.Result, error) {
	return []byte{0xFF, 0xD8, 0xFF}, graph.Result{}, nil
}
func (grantedFake) GetPhotoMeta(context.Context, graph.Target) (graph.PhotoMeta, error) {
	return graph.PhotoMeta{}, nil
}
func (grantedFake) DeletePhoto(context.Context, graph.Target) (graph.Result, error) {
	return graph.Result{}, nil
}

// servedAs is the status internal/api answers method on reqPath with for claims (a body that
// is a small JPEG for writes).
func servedAs(h http.Handler, claims api.Claims, method, reqPath string) int {
	rec := httptest.NewRecorder()
	var body io.Reader
	if method == http.MethodPut || method == http.MethodPatch {
		body = strings.NewReader("\xff\xd8\xff\xe0 a photo")
	}
	req := httptest.NewRequest(method, reqPath, body)
	req.Header.Set("Content-Type", "image/jpeg")
	h.ServeHTTP(rec, req.WithContext(api.WithClaims(req.Context(), claims)))
	return rec.Code
}

// served reports whether internal/api serves method on reqPath: without claims a served route
// answers 401, anything else is 404 (no route) or 405 (route, not this method).
func served(h http.Handler, method, reqPath string) (bool, int) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, reqPath, nil))
	return rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed, rec.Code
}

// checkHTTPAPI: one HTTP API whose default authoriser is Entra's JWT issuer for the Graph cloud
// and tenant with the API's audience; its routes reach the api function only, none skips the
// authoriser, and they route exactly the methods internal/api serves, on every path it serves.
func checkHTTPAPI(p *project) []error {
	e := &errs{}
	t := p.template
	apis := t.ofType("AWS::Serverless::HttpApi")
	if len(apis) != 1 {
		return []error{fmt.Errorf("%d AWS::Serverless::HttpApi, want 1", len(apis))}
	}
	apiID := apis[0]
	e.prefix = apiID + ": "
	props := t.Resources[apiID].Properties
	auth := mapOf(props["Auth"])
	authorizer := mapOf(mapOf(auth["Authorizers"])[str(auth["DefaultAuthorizer"])])
	jwt := mapOf(authorizer["JwtConfiguration"])
	if len(jwt) == 0 {
		e.add("DefaultAuthorizer %v is not a JWT authoriser", auth["DefaultAuthorizer"])
	}
	if str(authorizer["IdentitySource"]) != "$request.header.Authorization" {
		e.add("IdentitySource %v, want $request.header.Authorization", authorizer["IdentitySource"])
	}
	if aud := listOf(jwt["audience"]); len(aud) != 1 || refTo(aud[0]) != "ApiAudience" {
		e.add("audience %v, want [!Ref ApiAudience]", jwt["audience"])
	}
	fn, err := p.functionFor("api")
	if err != nil {
		return append(e.list, err)
	}
	cloudParam := refTo(t.environment(fn)["GRAPH_CLOUD"])
	if cloudParam == "" {
		e.add("GRAPH_CLOUD is not a parameter, so the issuer cannot follow the cloud")
	}
	for _, cloud := range candidates(t.Parameters[cloudParam]) {
		t.Overrides[cloudParam] = cloud
		issuer, err := t.evalString(jwt["issuer"])
		c, ok := graph.LookupCloud(cloud)
		if want := c.Authority + "/" + requiredSamples["ApiTenantId"] + "/v2.0"; err != nil || !ok || issuer != want {
			e.add("GRAPH_CLOUD=%s: issuer %q (%v), want %q (internal/graph's authority for that cloud)", cloud, issuer, err, want)
		}
	}
	delete(t.Overrides, cloudParam)
	if throttle := mapOf(props["DefaultRouteSettings"]); refTo(throttle["ThrottlingRateLimit"]) != "ApiThrottleRate" {
		e.add("DefaultRouteSettings.ThrottlingRateLimit %v, want !Ref ApiThrottleRate (the API's share of Graph's quota)", throttle["ThrottlingRateLimit"])
	}

	userScopeParam := refTo(t.environment(fn)["API_USER_SCOPE"])
	if userScopeParam == "" {
		e.add("API_USER_SCOPE is not a parameter, so the routes' scopes cannot follow it")
	}
	cfg, _, err := t.loadConfig(fn, nil)
	if err != nil {
		return append(e.list, err)
	}
	var routes []route
	for _, f := range t.functions() {
		for name, ev := range mapOf(t.Resources[f].Properties["Events"]) {
			if str(mapOf(ev)["Type"]) != "HttpApi" {
				continue
			}
			e.prefix = f + " event " + name + ": "
			ep := mapOf(mapOf(ev)["Properties"])
			if f != fn {
				e.add("an HTTP API route to %s; only %s serves the API", f, fn)
			}
			if refTo(ep["ApiId"]) != apiID {
				e.add("ApiId %v, want !Ref %s (else SAM makes an API without the authoriser)", ep["ApiId"], apiID)
			}
			r := route{Method: strings.ToUpper(str(ep["Method"])), Path: str(ep["Path"])}
			for k, v := range mapOf(ep["Auth"]) {
				if k != "AuthorizationScopes" {
					e.add("Auth.%s %v: every route uses the default JWT authoriser, at most with scopes", k, v)
					continue
				}
				// The only scope a route may ask for is the one the function checks.
				if l := listOf(v); len(l) != 1 || refTo(l[0]) != userScopeParam || userScopeParam == "" {
					e.add("AuthorizationScopes %v, want [!Ref %s], the parameter API_USER_SCOPE comes from", v, userScopeParam)
					continue
				}
				scope, err := t.evalString(listOf(v)[0])
				e.addErr(err)
				r.Scopes = []string{scope}
			}
			if r.Method == "ANY" || r.Path == "" || r.Path == "$default" || r.Path == "/$default" {
				e.add("route %s %s: name the methods and paths of internal/api", r.Method, r.Path)
			}
			for i, seg := range strings.Split(strings.Trim(r.Path, "/"), "/") {
				if strings.HasSuffix(seg, "+}") && i != strings.Count(strings.Trim(r.Path, "/"), "/") {
					e.add("route %s: a greedy variable must end the path", r.Path)
				}
			}
			routes = append(routes, r)
		}
	}
	e.prefix = "routes vs internal/api: "
	h, err := api.New(api.Options{Photos: photoFake{}, Graph: photoFake{}, UploadBucket: "b", UploadPrefix: "uploads/"})
	if err != nil {
		return append(e.list, err)
	}
	usedMethods := map[string]bool{}
	for _, m := range probeMethods {
		for _, pth := range probePaths {
			ok, code := served(h, m, pth)
			routed := routeFor(routes, m, pth)
			if ok && routed == nil {
				e.add("internal/api serves %s %s (%d without a token) but no route sends it there", m, pth, code)
			}
			if ok && routed != nil {
				usedMethods[routed.Method+" "+routed.Path] = true
			}
		}
	}
	for _, r := range routes {
		if !usedMethods[r.Method+" "+r.Path] {
			e.add("route %s %s matches nothing internal/api serves", r.Method, r.Path)
		}
	}
	e.list = append(e.list, checkRouteScopes(routes, cfg)...)
	// The HTTP API samples in events/ are requests some route sends to the function.
	e.prefix = "events/: "
	samples, _ := filepath.Glob(filepath.Join(p.root, "events", "apigw-*.json"))
	for _, f := range samples {
		var ev struct {
			RawPath        string `json:"rawPath"`
			RequestContext struct {
				HTTP struct {
					Method string `json:"method"`
				} `json:"http"`
			} `json:"requestContext"`
		}
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &ev)
		}
		if err != nil {
			e.add("%s: %v", filepath.Base(f), err)
			continue
		}
		routed := false
		for _, r := range routes {
			routed = routed || r.matches(ev.RequestContext.HTTP.Method, ev.RawPath)
		}
		if !routed {
			e.add("%s: no route sends %s %s to the function", filepath.Base(f), ev.RequestContext.HTTP.Method, ev.RawPath)
		}
	}
	return e.list
}

// checkRouteScopes: API Gateway's scopes and the function's authorisation say the same. A
// route that asks for a scope must only refuse what the function refuses too, for every token
// without it (a user, an admin user, an app's own token with the admin role), and let a user
// who has it through; and every write to me/... (always the caller's own) is checked for the
// scope at the gateway as well.
func checkRouteScopes(routes []route, cfg config.Config) []error {
	e := &errs{prefix: "route scopes vs internal/api: "}
	h, err := api.New(api.Options{Photos: grantedFake{}, Graph: grantedFake{}, AdminRole: cfg.AdminRole, UserScope: cfg.UserScope})
	if err != nil {
		return []error{err}
	}
	const user, app = "a11ce000-0000-4000-8000-000000000001", "e7e70000-0000-4000-8000-0000000000a9"
	without := map[string]api.Claims{
		"a user without the scope":        {"oid": user, "upn": "alice@contoso.com", "scp": "User.Read"},
		"an admin user without it":        {"oid": user, "upn": "alice@contoso.com", "scp": "User.Read", "roles": "[" + cfg.AdminRole + "]"},
		"an app's own token (admin role)": {"oid": app, "idtyp": "app", "roles": "[" + cfg.AdminRole + "]"},
	}
	with := api.Claims{"oid": user, "upn": "alice@contoso.com", "scp": cfg.UserScope}
	for _, m := range probeMethods {
		for _, pth := range probePaths {
			if ok, _ := served(h, m, pth); !ok {
				continue
			}
			r := routeFor(routes, m, pth)
			if r == nil {
				continue // reported above
			}
			isMe := strings.HasPrefix(pth, "/v1.0/me/") || strings.HasPrefix(pth, "/me/")
			if isMe && m != http.MethodGet && len(r.Scopes) == 0 {
				e.add("%s %s (the caller's own, which needs %s) reaches the function through %s %s, which asks for no scope", m, pth, cfg.UserScope, r.Method, r.Path)
			}
			if len(r.Scopes) == 0 {
				continue
			}
			if !slices.Equal(r.Scopes, []string{cfg.UserScope}) {
				e.add("%s %s asks for %v; the function checks %s", r.Method, r.Path, r.Scopes, cfg.UserScope)
			}
			for who, claims := range without {
				if code := servedAs(h, claims, m, pth); code != http.StatusForbidden {
					e.add("%s %s asks for %v, but the function answers %s with %d: the gateway would refuse what the function allows", r.Method, r.Path, r.Scopes, who, code)
				}
			}
			if code := servedAs(h, with, m, pth); code == http.StatusForbidden || code == http.StatusUnauthorized {
				e.add("%s %s: a user with %s is refused by the function (%d)", m, pth, cfg.UserScope, code)
			}
		}
	}
	if cfg.UserScope != api.DefaultUserScope || config.DefaultUserScope != api.DefaultUserScope {
		e.add("API_USER_SCOPE defaults: template %q, internal/config %q, internal/api %q; want one scope", cfg.UserScope, config.DefaultUserScope, api.DefaultUserScope)
	}
	return e.list
}

// checkUploads: presigned uploads expire from the upload bucket by a lifecycle rule on exactly
// the prefix the API writes them under, by default, and never before a grant could be spent.
func checkUploads(p *project) []error {
	e := &errs{prefix: "uploads: "}
	t := p.template
	b, _, err := t.uploadBucket()
	if err != nil {
		return []error{err}
	}
	fn, err := p.functionFor("api")
	if err != nil {
		return []error{err}
	}
	cfg, _, err := t.loadConfig(fn, nil)
	if err != nil {
		return []error{err}
	}
	prefixParam := refTo(t.environment(fn)["UPLOAD_PREFIX"])
	if prefixParam == "" {
		e.add("UPLOAD_PREFIX is not a parameter, so the lifecycle rule cannot follow it")
	}
	found := false
	for _, raw := range listOf(mapOf(t.Resources[b].Properties["LifecycleConfiguration"])["Rules"]) {
		if _, _, ok := intrinsic(raw); ok {
			continue // a conditional rule (originals), off by default
		}
		rule := mapOf(raw)
		if _, ok := rule["ExpirationInDays"]; !ok || refTo(rule["Prefix"]) != prefixParam {
			continue
		}
		found = true
		if str(rule["Status"]) != "Enabled" {
			e.add("rule %v is not Enabled", rule["Id"])
		}
		days := refTo(rule["ExpirationInDays"])
		def, lo, _, err := t.numberParam(days)
		if err != nil {
			e.add("rule %v: ExpirationInDays from a Number parameter with bounds: %v", rule["Id"], err)
			continue
		}
		// S3 expires objects at the first midnight UTC after the given days: at least lo days.
		if def < lo || lo < 1 || time.Duration(lo)*24*time.Hour <= cfg.UploadURLTTL {
			e.add("rule %v: %s default %v, MinValue %v: want at least a day, and longer than a grant lives (UPLOAD_URL_TTL %v), so a key is never free again while its grant works", rule["Id"], days, def, lo, cfg.UploadURLTTL)
		}
		if len(mapOf(rule["NoncurrentVersionExpiration"])) == 0 {
			e.add("rule %v: no NoncurrentVersionExpiration: on a versioned bucket the expired original stays as an old version", rule["Id"])
		}
	}
	if !found {
		e.add("no lifecycle rule of %s expires objects under !Ref %s (UPLOAD_PREFIX)", b, prefixParam)
	}
	return e.list
}

// ---- backfills, outputs, env.json --------------------------------------------------------

// checkBatchOperations: a role S3 Batch Operations can assume, allowed to invoke onupload and to
// read manifests and write reports in a bucket of this template, and nothing else.
func checkBatchOperations(p *project) []error {
	e := &errs{}
	t := p.template
	fn, err := p.functionFor("onupload")
	if err != nil {
		return []error{err}
	}
	var role string
	for _, id := range t.ofType("AWS::IAM::Role") {
		for _, s := range listOf(mapOf(t.Resources[id].Properties["AssumeRolePolicyDocument"])["Statement"]) {
			if str(mapOf(mapOf(s)["Principal"])["Service"]) == "batchoperations.s3.amazonaws.com" {
				role = id
			}
		}
	}
	if role == "" {
		return []error{errors.New("no IAM role S3 Batch Operations (batchoperations.s3.amazonaws.com) can assume")}
	}
	e.prefix = role + ": "
	grants, err := t.grants(role)
	if err != nil {
		return []error{err}
	}
	if inv := grants["lambda:InvokeFunction"]; len(inv) != 1 || fmt.Sprint(inv[0]) != (symbol{Kind: "GetAtt", Logical: fn, Attr: "Arn"}).String() {
		e.add("lambda:InvokeFunction on %v, want on exactly !GetAtt %s.Arn", inv, fn)
	}
	allowed := []string{"lambda:InvokeFunction", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketLocation"}
	for a := range grants {
		if !slices.Contains(allowed, a) {
			e.add("grants %s; a Batch Operations job needs only %v", a, allowed)
		}
	}
	if len(grants["s3:GetObject"]) == 0 || len(grants["s3:PutObject"]) == 0 {
		e.add("cannot read the manifest (s3:GetObject) or write the report (s3:PutObject)")
	}
	return e.list
}

// checkOutputs: the API URL, the bucket, the queue, the DLQ, and what a backfill needs.
func checkOutputs(p *project) []error {
	e := &errs{}
	t := p.template
	_, uploadName, err := t.uploadBucket()
	e.addErr(err)
	values := map[string]string{}
	for name, o := range t.Outputs {
		v := mapOf(o)["Value"]
		if text, ok := subText(v); ok {
			values[name] = text
			if s, err := t.evalString(v); err == nil {
				values[name] = s
			}
		} else if r := refTo(v); r != "" {
			values[name] = "Ref " + r
		} else if id, attr := getAtt(v); id != "" {
			values[name] = "GetAtt " + id + "." + attr
		}
	}
	has := func(what string, ok func(string) bool) {
		for _, v := range values {
			if ok(v) {
				return
			}
		}
		e.add("no output gives %s (outputs: %v)", what, values)
	}
	apiID := safeIndex(t.ofType("AWS::Serverless::HttpApi"), 0)
	has("the API URL", func(v string) bool { return strings.HasPrefix(v, "https://${"+apiID+"}.execute-api.") })
	has("the upload bucket", func(v string) bool { return v == uploadName })
	for _, q := range t.ofType("AWS::SQS::Queue") {
		has("queue "+q, func(v string) bool { return v == "Ref "+q })
	}
	// aws sqs start-message-move-task takes the DLQ's ARN (README, "Dead letters").
	if _, dlq := t.queues(); dlq != "" {
		has("the DLQ's ARN", func(v string) bool { return v == "GetAtt "+dlq+".Arn" })
	}
	return e.list
}

// checkEnvJSON: events/env.json (sam local invoke --env-vars) has one entry per function,
// sets only variables the function declares (SAM ignores the others silently), and the
// resulting environment passes config.Load.
func checkEnvJSON(p *project) []error {
	e := &errs{prefix: "events/env.json: "}
	t := p.template
	var entries map[string]map[string]string
	if err := json.Unmarshal(p.envJSON, &entries); err != nil {
		return []error{fmt.Errorf("events/env.json: want {\"LogicalId\": {\"VAR\": \"value\"}}: %w", err)}
	}
	fns := t.functions()
	for k := range entries {
		if k != "Parameters" && !slices.Contains(fns, k) {
			e.add("entry %q is no function of template.yaml", k)
		}
	}
	for _, fn := range fns {
		vars, ok := entries[fn]
		if !ok {
			e.add("no entry for %s", fn)
			continue
		}
		declared := t.environment(fn)
		merged := map[string]string{}
		for k, v := range entries["Parameters"] {
			if _, ok := declared[k]; ok {
				merged[k] = v
			}
		}
		for k, v := range vars {
			if _, ok := declared[k]; !ok {
				e.add("%s sets %s, which it does not declare: sam local would ignore it", fn, k)
			}
			merged[k] = v
		}
		if _, _, err := t.loadConfig(fn, merged); err != nil {
			e.add("%s: %v", fn, err)
		}
	}
	return e.list
}

func TestRouteMatches(t *testing.T) {
	for _, tc := range []struct {
		route        route
		method, path string
		want         bool
	}{
		{route{Method: "PUT", Path: "/{proxy+}"}, "PUT", "/v1.0/me/photo/$value", true},
		{route{Method: "PUT", Path: "/{proxy+}"}, "PUT", "/me", true},
		{route{Method: "PUT", Path: "/{proxy+}"}, "PUT", "/", false},
		{route{Method: "PUT", Path: "/{proxy+}"}, "GET", "/me", false},
		{route{Method: "ANY", Path: "/{proxy+}"}, "GET", "/me", true},
		{route{Method: "POST", Path: "/v1.0/uploads"}, "POST", "/v1.0/uploads", true},
		{route{Method: "POST", Path: "/v1.0/uploads"}, "POST", "/v1.0/uploads/x", false},
		{route{Method: "POST", Path: "/v1.0/uploads"}, "POST", "/V1.0/uploads", false},
		{route{Method: "GET", Path: "/v1.0/{proxy+}"}, "GET", "/v1.0", false},
		{route{Method: "GET", Path: "/users/{id}/photo"}, "GET", "/users/a/photo", true},
		{route{Method: "GET", Path: "/users/{id}/photo"}, "GET", "/users//photo", false},
	} {
		if got := tc.route.matches(tc.method, tc.path); got != tc.want {
			t.Errorf("%v matches %s %s = %v, want %v", tc.route, tc.method, tc.path, got, tc.want)
		}
	}
	// The most specific matching route wins, as in an HTTP API.
	routes := []route{{Method: "PUT", Path: "/v1.0/me/{proxy+}"}, {Method: "PUT", Path: "/{proxy+}"}, {Method: "PUT", Path: "/v1.0/{id}/{proxy+}"}}
	for path, want := range map[string]string{
		"/v1.0/me/photo/$value": "/v1.0/me/{proxy+}", "/v1.0/users/x/photo/$value": "/v1.0/{id}/{proxy+}", "/me/photo/$value": "/{proxy+}",
		"/V1.0/me/photo/$value": "/{proxy+}",
	} {
		if r := routeFor(routes, "PUT", path); r == nil || r.Path != want {
			t.Errorf("PUT %s goes to %v, want %s", path, r, want)
		}
	}
}
