package reason

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/tool"
)

const importPath = "github.com/graphphoto/graphphoto/internal/reason"

// exempt are the packages whose Reason* names are not photo outcomes: internal/s3notify answers
// versitygw's notification webhook in the local stack (every refusal a 400), and its codes never
// reach a tag, a metric or the API.
var exempt = []string{"internal/s3notify"}

// TestEveryReasonIsDeclaredWithItsClassAndStatus reads every non-test Go file of the module
// rather than asking the packages for their reasons at run time: the source shows every package,
// including one no test imports, and it shows a reason declared the wrong way (a bare string
// constant, an alias of another package's reason, an error type answering Reason() with a
// string), which a registry filled by New would never see. Each reason must be an exported
// package-level variable made by New, with a code literal, one of the classes, an HTTP status and,
// for a refusal or failure, the API's error code and message; no two may share a code.
func TestEveryReasonIsDeclaredWithItsClassAndStatus(t *testing.T) {
	root := tool.MustModuleRoot(t)
	problems, codes := checkTree(t, root)
	for _, p := range problems {
		t.Error(p)
	}
	// A handful of reasons every package relies on must be among those found, or the walk
	// found nothing and proved nothing.
	for _, c := range []string{"too_many_pixels", "throttled", "bad_target", "secret_unavailable", "source_too_large", "superseded", "no_route", "source_not_found"} {
		if _, ok := codes[c]; !ok {
			t.Errorf("reason %q not found in the source: the walk missed a package", c)
		}
	}
	if len(codes) < 40 {
		t.Errorf("only %d reasons found", len(codes))
	}
}

// TestTheWalkCatchesBadDeclarations runs the same check over a small tree of bad declarations:
// each must be reported, so the test above cannot pass by not looking.
func TestTheWalkCatchesBadDeclarations(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/bad\n")
	write("a/a.go", `package a

import (
	"net/http"

	"`+importPath+`"
)

var (
	ReasonGood      = reason.New("good", reason.Rejected, http.StatusBadRequest, "BadRequest", "bad input")
	ReasonNoClass   = reason.New("no_class", 0, http.StatusBadRequest, "BadRequest", "x")
	ReasonNoStatus  = reason.New("no_status", reason.Failed, 0, "BadGateway", "x")
	ReasonBadStatus = reason.New("bad_status", reason.Failed, http.StatusTeapotty, "BadGateway", "x")
	ReasonNoCode    = reason.New("no_code", reason.Failed, http.StatusBadGateway, "", "")
	ReasonTwice     = reason.New("good", reason.Rejected, http.StatusBadRequest, "BadRequest", "again")
	ReasonAlias     = ReasonGood
	reasonHidden    = reason.New("hidden", reason.Rejected, 400, "BadRequest", "x")
	ReasonZero      reason.Reason
)

const ReasonString = "a_string"

const SkipString = "a_skip"

type e struct{}

func (e) Reason() string { return "bare" }

func none() reason.Reason { return reason.Reason{} }

func local() { _ = reason.New("inside", reason.Rejected, 400, "BadRequest", "x") }
`)
	problems, _ := checkTree(t, dir)
	text := strings.Join(problems, "\n")
	for _, want := range []string{
		"ReasonNoClass", "ReasonNoStatus", "ReasonBadStatus", "ReasonNoCode", `code "good" is declared twice`,
		"ReasonAlias", "reasonHidden", "ReasonZero", "ReasonString", "SkipString", "Reason() returns string",
		"inside",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no problem reported for %s in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "ReasonGood ") || strings.Contains(text, "none") {
		t.Errorf("a good declaration, or the zero reason (no reason at all), was reported:\n%s", text)
	}
}

// checkTree checks every non-test Go file under root; it returns the problems and the codes
// found, each with where it is declared.
func checkTree(t *testing.T, root string) ([]string, map[string]string) {
	t.Helper()
	statuses := httpStatuses(t)
	c := &checker{fset: token.NewFileSet(), statuses: statuses, codes: map[string]string{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "out", "testdata", "node_modules":
				return filepath.SkipDir
			}
			if slices.Contains(exempt, filepath.ToSlash(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(c.fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		c.file(f, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.problems, c.codes
}

type checker struct {
	fset     *token.FileSet
	statuses map[string]int
	codes    map[string]string // code → where
	problems []string
}

func (c *checker) fail(n ast.Node, format string, args ...any) {
	c.problems = append(c.problems, c.fset.Position(n.Pos()).String()+": "+fmt.Sprintf(format, args...))
}

func (c *checker) file(f *ast.File, rel string) {
	inReason := f.Name.Name == "reason" && filepath.ToSlash(filepath.Dir(rel)) == "internal/reason"
	name := "" // the file's name for this package
	httpName := ""
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		local := ""
		if imp.Name != nil {
			local = imp.Name.Name
		}
		switch path {
		case importPath:
			name = "reason"
			if local != "" {
				name = local
			}
		case "net/http":
			httpName = "http"
			if local != "" {
				httpName = local
			}
		}
	}
	if name == "" && !inReason {
		// No reason can be made here; a Reason* name or a Reason method is still one declared
		// the wrong way.
		c.namesAndMethods(f, "")
		return
	}
	if inReason {
		return // the package itself declares no reasons
	}
	declared := map[*ast.CallExpr]bool{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || (gd.Tok != token.VAR && gd.Tok != token.CONST) {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				var value ast.Expr
				if i < len(vs.Values) {
					value = vs.Values[i]
				}
				call, isNew := c.newCall(value, name)
				if isNew {
					declared[call] = true
					c.declaration(id, call, gd.Tok, httpName)
					continue
				}
				if isReasonName(id.Name) || isReasonType(vs.Type, name) {
					c.fail(id, "%s is a reason not made by %s.New: declare it as an exported variable = %s.New(code, class, status, graphCode, message)", id.Name, name, name)
				}
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if _, ok := c.newCall(n, name); ok && !declared[n] {
				c.fail(n, "%s.New(%s) outside a package-level variable: a reason is declared once, by name", name, exprString(n.Args))
			}
		}
		return true
	})
	c.namesAndMethods(f, name)
}

// namesAndMethods reports Reason* and Skip* constants of a file that cannot make reasons, and
// Reason methods that return anything but a reason.
func (c *checker) namesAndMethods(f *ast.File, name string) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.GenDecl:
			if name != "" || (d.Tok != token.VAR && d.Tok != token.CONST) {
				continue
			}
			for _, spec := range d.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if isReasonName(id.Name) {
						c.fail(id, "%s is a reason not made by reason.New", id.Name)
					}
				}
			}
		case *ast.FuncDecl:
			if d.Recv == nil || d.Name.Name != "Reason" || d.Type.Results == nil || len(d.Type.Results.List) != 1 {
				continue
			}
			if !isReasonType(d.Type.Results.List[0].Type, name) {
				c.fail(d, "Reason() returns %s: an error's reason is a reason.Reason, with its class and status", exprString([]ast.Expr{d.Type.Results.List[0].Type}))
			}
		}
	}
}

// declaration checks one reason variable and records its code.
func (c *checker) declaration(id *ast.Ident, call *ast.CallExpr, tok token.Token, httpName string) {
	if tok != token.VAR || !id.IsExported() {
		c.fail(id, "%s: a reason is an exported package-level variable", id.Name)
	}
	if len(call.Args) != 5 {
		c.fail(call, "%s: New takes code, class, status, Graph code and message", id.Name)
		return
	}
	code, ok := stringLit(call.Args[0])
	if !ok || code == "" {
		c.fail(call.Args[0], "%s: the code is not a string literal", id.Name)
		return
	}
	if where, dup := c.codes[code]; dup {
		c.fail(id, "%s: code %q is declared twice (first at %s)", id.Name, code, where)
	} else {
		c.codes[code] = c.fset.Position(id.Pos()).String()
	}
	class := ""
	if sel, ok := call.Args[1].(*ast.SelectorExpr); ok {
		class = sel.Sel.Name
	}
	if !slices.Contains([]string{"Synced", "Skipped", "Rejected", "Failed", "Transient"}, class) {
		c.fail(call.Args[1], "%s (%s): no class: want reason.Synced, Skipped, Rejected, Failed or Transient", id.Name, code)
	}
	status := 0
	switch s := call.Args[2].(type) {
	case *ast.SelectorExpr:
		if x, ok := s.X.(*ast.Ident); ok && x.Name == httpName {
			status = c.statuses[s.Sel.Name]
		}
	case *ast.BasicLit:
		status, _ = strconv.Atoi(s.Value)
	}
	if status < 100 || status > 599 {
		c.fail(call.Args[2], "%s (%s): no HTTP status: want an http.Status constant", id.Name, code)
	}
	failure := class == "Rejected" || class == "Failed" || class == "Transient"
	graphCode, ok1 := stringLit(call.Args[3])
	message, ok2 := stringLit(call.Args[4])
	if failure && ((ok1 && graphCode == "") || (ok2 && message == "")) {
		c.fail(call, "%s (%s): a refusal or failure needs the API's error code and message", id.Name, code)
	}
}

// newCall reports whether e is a call of the reason package's New.
func (c *checker) newCall(e ast.Expr, name string) (*ast.CallExpr, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok || name == "" {
		return nil, false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "New" {
		return nil, false
	}
	x, ok := sel.X.(*ast.Ident)
	return call, ok && x.Name == name
}

func isReasonName(n string) bool {
	for _, p := range []string{"Reason", "reason", "Skip"} {
		if rest, ok := strings.CutPrefix(n, p); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return true
		}
	}
	return false
}

func isReasonType(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Reason" {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && (x.Name == name || (name == "" && x.Name == "reason"))
}

// stringLit reads a string literal or a sum of literals; ok is false for anything else (a
// constant shared by several reasons), which is then taken on trust.
func stringLit(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := stringLit(e.X)
		b, ok2 := stringLit(e.Y)
		return a + b, ok1 && ok2
	}
	return "", false
}

func exprString(es []ast.Expr) string {
	var parts []string
	for _, e := range es {
		switch e := e.(type) {
		case *ast.BasicLit:
			parts = append(parts, e.Value)
		case *ast.Ident:
			parts = append(parts, e.Name)
		case *ast.SelectorExpr:
			parts = append(parts, exprString([]ast.Expr{e.X})+"."+e.Sel.Name)
		default:
			parts = append(parts, "…")
		}
	}
	return strings.Join(parts, ", ")
}

// httpStatuses reads net/http's Status constants from the standard library's source, so the
// check knows http.StatusTeapot from a misspelling without a list of its own.
func httpStatuses(t *testing.T) map[string]int {
	t.Helper()
	p := filepath.Join(build.Default.GOROOT, "src", "net", "http", "status.go")
	f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("read net/http's status constants: %v", err)
	}
	out := map[string]int{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						if n, err := strconv.Atoi(lit.Value); err == nil {
							out[id.Name] = n
						}
					}
				}
			}
		}
	}
	if out["StatusTeapot"] != 418 || out["StatusBadGateway"] != 502 {
		t.Fatalf("net/http's status constants not read from %s", p)
	}
	return out
}
