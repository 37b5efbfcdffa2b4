package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/lambdaimage"
	"github.com/graphphoto/graphphoto/internal/tool"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// The template is read with goformation's intrinsics processor, which turns the YAML short forms
// (!Ref, !Sub, !GetAtt, !If, …) into CloudFormation's long forms ({"Ref": …}). Its typed view
// (goformation.ParseYAML) is not used: its SAM schema predates FunctionResponseTypes,
// ScalingConfig and LoggingConfig (json would drop them silently), it rejects a Number
// parameter referenced from an environment variable, and its resolver leaves AWS::Partition,
// Fn::GetAtt and the list form of Fn::Sub unresolved. So the long-form document is evaluated
// here by the few rules CloudFormation itself applies (eval below), with GetAtt and resource Refs
// kept symbolic, which is what the wiring checks need to see.

// pseudo are the pseudo parameters the evaluation assumes.
var pseudo = map[string]string{
	"AWS::AccountId": "123456789012",
	"AWS::Region":    "us-east-1",
	"AWS::Partition": "aws",
	"AWS::URLSuffix": "amazonaws.com",
	"AWS::StackName": "graphphoto",
}

// requiredSamples are values for the parameters that have no default, as an operator would pass
// them to `sam deploy`; each must satisfy the parameter's own constraints (checked).
var requiredSamples = map[string]string{
	"GraphSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:graphphoto/graph-app-AbCdEf",
	"ApiTenantId":    "72f988bf-86f1-41af-91ab-2d7cd011db47",
	"ApiAudience":    "6e74172b-be56-4843-9ff4-e66a39bb12e3",
}

// noValue is what AWS::NoValue evaluates to; eval drops it from lists and maps.
type noValue struct{}

// symbol is a value only CloudFormation knows at deploy time: a resource's Ref or GetAtt.
type symbol struct {
	Kind, Logical, Attr string // Kind is "Ref" or "GetAtt"
}

func (s symbol) String() string {
	if s.Kind == "Ref" {
		return "{Ref " + s.Logical + "}"
	}
	return "{GetAtt " + s.Logical + "." + s.Attr + "}"
}

type resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	DependsOn  []string
}

// Template is template.yaml in long form.
type Template struct {
	Raw        map[string]any
	Parameters map[string]map[string]any
	Mappings   map[string]any
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]resource
	Outputs    map[string]any
	// Overrides replace parameter defaults (and supply required parameters) in eval.
	Overrides map[string]string
}

func parseTemplate(data []byte) (*Template, error) {
	long, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(long, &raw); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	t := &Template{Raw: raw, Parameters: map[string]map[string]any{}, Resources: map[string]resource{}, Overrides: map[string]string{}}
	for k, v := range mapOf(raw["Parameters"]) {
		t.Parameters[k] = mapOf(v)
	}
	t.Mappings = mapOf(raw["Mappings"])
	t.Conditions = mapOf(raw["Conditions"])
	t.Globals = mapOf(raw["Globals"])
	t.Outputs = mapOf(raw["Outputs"])
	for k, v := range mapOf(raw["Resources"]) {
		m := mapOf(v)
		r := resource{Type: str(m["Type"]), Properties: mapOf(m["Properties"]), Metadata: mapOf(m["Metadata"])}
		switch d := m["DependsOn"].(type) {
		case string:
			r.DependsOn = []string{d}
		case []any:
			for _, x := range d {
				r.DependsOn = append(r.DependsOn, str(x))
			}
		}
		t.Resources[k] = r
	}
	for k, v := range requiredSamples {
		t.Overrides[k] = v
	}
	return t, nil
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

func listOf(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case nil:
		return nil
	}
	return []any{v}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// scalar renders a YAML scalar as CloudFormation passes it on: numbers and booleans as text.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// param is a parameter's value: the override, else its default.
func (t *Template) param(name string) (string, error) {
	if v, ok := t.Overrides[name]; ok {
		return v, nil
	}
	p, ok := t.Parameters[name]
	if !ok {
		return "", fmt.Errorf("no parameter %q", name)
	}
	d, ok := p["Default"]
	if !ok {
		return "", fmt.Errorf("parameter %q has no default and no sample value", name)
	}
	s, ok := scalar(d)
	if !ok {
		return "", fmt.Errorf("parameter %q: default %v is not a scalar", name, d)
	}
	return s, nil
}

func (t *Template) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := pseudo[name]; ok {
		return v, nil
	}
	if _, ok := t.Parameters[name]; ok {
		return t.param(name)
	}
	if _, ok := t.Resources[name]; ok {
		return symbol{Kind: "Ref", Logical: name}, nil
	}
	return nil, fmt.Errorf("Ref to unknown name %q", name)
}

// intrinsic returns the function name and argument of a one-key Fn::/Ref map.
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// eval resolves intrinsics the way CloudFormation does for the functions the template uses.
// Resource Refs and GetAtts stay symbols; a string built from one (a Sub) is an error, since no
// check needs such a value and guessing it would hide mistakes.
func (t *Template) eval(v any) (any, error) {
	if name, arg, ok := intrinsic(v); ok {
		return t.evalFn(name, arg)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := t.eval(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := r.(noValue); !drop {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			r, err := t.eval(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if _, drop := r.(noValue); !drop {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (t *Template) evalFn(name string, arg any) (any, error) {
	switch name {
	case "Ref":
		return t.ref(str(arg))
	case "Fn::GetAtt":
		parts := getAttParts(arg)
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v: want [Logical, Attribute]", arg)
		}
		if _, ok := t.Resources[parts[0]]; !ok {
			return nil, fmt.Errorf("Fn::GetAtt to unknown resource %q", parts[0])
		}
		return symbol{Kind: "GetAtt", Logical: parts[0], Attr: parts[1]}, nil
	case "Fn::Sub":
		return t.sub(arg)
	case "Fn::FindInMap":
		args := listOf(arg)
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::FindInMap wants 3 arguments, got %d", len(args))
		}
		keys := make([]string, 3)
		for i, a := range args {
			r, err := t.eval(a)
			if err != nil {
				return nil, err
			}
			s, ok := scalar(r)
			if !ok {
				return nil, fmt.Errorf("Fn::FindInMap argument %d is %v", i, r)
			}
			keys[i] = s
		}
		v, ok := mapOf(mapOf(t.Mappings[keys[0]])[keys[1]])[keys[2]]
		if !ok {
			return nil, fmt.Errorf("Fn::FindInMap %v: no such entry", keys)
		}
		return v, nil
	case "Fn::If":
		args := listOf(arg)
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If wants 3 arguments")
		}
		c, err := t.condition(str(args[0]))
		if err != nil {
			return nil, err
		}
		if c {
			return t.eval(args[1])
		}
		return t.eval(args[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition":
		return t.conditionExpr(map[string]any{name: arg})
	}
	return nil, fmt.Errorf("intrinsic %s is not evaluated by this test", name)
}

func getAttParts(arg any) []string {
	switch a := arg.(type) {
	case string: // short form !GetAtt A.Arn stays one string in goformation's long form
		return strings.SplitN(a, ".", 2)
	case []any:
		var out []string
		for _, x := range a {
			out = append(out, str(x))
		}
		return out
	}
	return nil
}

func (t *Template) sub(arg any) (any, error) {
	var text string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub list form wants [text, variables]")
		}
		text = str(a[0])
		vars = mapOf(a[1])
	default:
		return nil, fmt.Errorf("Fn::Sub of %T", arg)
	}
	var failed error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var err error
		if e, ok := vars[name]; ok {
			v, err = t.eval(e)
		} else if strings.Contains(name, ".") {
			v, err = t.evalFn("Fn::GetAtt", name)
		} else {
			v, err = t.ref(name)
		}
		if err == nil {
			if s, ok := scalar(v); ok {
				return s
			}
			err = fmt.Errorf("${%s} is %v, known only at deploy time", name, v)
		}
		if failed == nil {
			failed = err
		}
		return m
	})
	if failed != nil {
		return nil, fmt.Errorf("Fn::Sub %q: %w", text, failed)
	}
	return out, nil
}

func (t *Template) condition(name string) (bool, error) {
	c, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %q", name)
	}
	return t.conditionExpr(c)
}

func (t *Template) conditionExpr(v any) (bool, error) {
	name, arg, ok := intrinsic(v)
	if !ok {
		return false, fmt.Errorf("condition %v is not a condition function", v)
	}
	args := listOf(arg)
	switch name {
	case "Condition":
		return t.condition(str(arg))
	case "Fn::Not":
		if len(args) != 1 {
			return false, errors.New("Fn::Not wants one argument")
		}
		b, err := t.conditionExpr(args[0])
		return !b, err
	case "Fn::Equals":
		if len(args) != 2 {
			return false, errors.New("Fn::Equals wants two arguments")
		}
		var s [2]string
		for i, a := range args {
			r, err := t.eval(a)
			if err != nil {
				return false, err
			}
			if s[i], ok = scalar(r); !ok {
				return false, fmt.Errorf("Fn::Equals of %v", r)
			}
		}
		return s[0] == s[1], nil
	case "Fn::And", "Fn::Or":
		all := name == "Fn::And"
		for _, a := range args {
			b, err := t.conditionExpr(a)
			if err != nil {
				return false, err
			}
			if b != all {
				return b, nil
			}
		}
		return all, nil
	}
	return false, fmt.Errorf("condition function %s", name)
}

// evalString evaluates v to a string (a scalar); symbols and lists are errors.
func (t *Template) evalString(v any) (string, error) {
	r, err := t.eval(v)
	if err != nil {
		return "", err
	}
	s, ok := scalar(r)
	if !ok {
		return "", fmt.Errorf("%v is not a plain value", r)
	}
	return s, nil
}

// functions returns the logical ids of the template's AWS::Serverless::Function resources.
func (t *Template) functions() []string {
	return t.ofType("AWS::Serverless::Function")
}

func (t *Template) ofType(typ string) []string {
	var out []string
	for k, r := range t.Resources {
		if r.Type == typ {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// functionProperty is a function's property with SAM's Globals applied: the function's own
// value replaces a global scalar or list entry, and maps merge with the function's keys winning
// (SAM's rules for Globals; lists are appended, which no checked property uses).
func (t *Template) functionProperty(logical, name string) any {
	global := mapOf(t.Globals["Function"])[name]
	own, ok := t.Resources[logical].Properties[name]
	if !ok {
		return global
	}
	gm, gok := global.(map[string]any)
	om, ook := own.(map[string]any)
	if gok && ook {
		return mergeMaps(gm, om)
	}
	return own
}

func mergeMaps(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = mergeMaps(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

// environment is a function's environment variables, raw (long-form) values by name.
func (t *Template) environment(logical string) map[string]any {
	return mapOf(mapOf(t.functionProperty(logical, "Environment"))["Variables"])
}

// project is everything the checks read: the template, the Dockerfile, go.mod and env.json.
type project struct {
	root       string
	template   *Template
	dockerfile *dockerfile
	goMod      string
	envJSON    []byte
	packages   []byte // image/packages.txt
	ignore     []byte // .dockerignore
}

// repoRoot walks up from the test's directory to go.mod.
func repoRoot(t testing.TB) string { return tool.MustModuleRoot(t) }

// projectFiles are the files a project is read from, by name relative to the root.
var projectFiles = []string{"template.yaml", "Dockerfile", ".dockerignore", "go.mod", "events/env.json", lambdaimage.PackagesFile}

func readProjectFiles(t testing.TB, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range projectFiles {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	return files
}

func loadProject(root string, files map[string][]byte) (*project, error) {
	tpl, err := parseTemplate(files["template.yaml"])
	if err != nil {
		return nil, err
	}
	return &project{
		root:       root,
		template:   tpl,
		dockerfile: parseDockerfile(string(files["Dockerfile"])),
		goMod:      string(files["go.mod"]),
		envJSON:    files["events/env.json"],
		packages:   files[lambdaimage.PackagesFile],
		ignore:     files[".dockerignore"],
	}, nil
}

func TestEvalResolvesTheIntrinsicsTheTemplateUses(t *testing.T) {
	tpl, err := parseTemplate([]byte(`
Parameters:
  Prefix: { Type: String, Default: pre }
  Days: { Type: Number, Default: 0 }
Mappings:
  M: { global: { Host: "https://h" } }
Conditions:
  Keep: !Not [!Equals [!Ref Days, 0]]
Resources:
  Q: { Type: AWS::SQS::Queue }
  X:
    Type: Custom
    Properties:
      A: !Sub "${Prefix}-${AWS::AccountId}-${AWS::Region}"
      B: !Sub ["${H}/${Prefix}", { H: !FindInMap [M, global, Host] }]
      C: !GetAtt Q.Arn
      D: [1, !If [Keep, 2, !Ref AWS::NoValue]]
      E: !Ref Days
      F: !Sub "arn:${AWS::Partition}:sqs:::${Q.Arn}"
`))
	if err != nil {
		t.Fatal(err)
	}
	p := tpl.Resources["X"].Properties
	for _, tc := range []struct {
		key  string
		want any
	}{
		{"A", "pre-123456789012-us-east-1"},
		{"B", "https://h/pre"},
		{"C", symbol{Kind: "GetAtt", Logical: "Q", Attr: "Arn"}},
		{"D", []any{float64(1)}},
		{"E", "0"},
	} {
		got, err := tpl.eval(p[tc.key])
		if err != nil {
			t.Errorf("%s: %v", tc.key, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s = %v, want %v", tc.key, got, tc.want)
		}
	}
	if _, err := tpl.eval(p["F"]); err == nil {
		t.Error("a Sub over a GetAtt evaluated to a string; want an error (known only at deploy time)")
	}
	tpl.Overrides["Days"] = "7"
	if got, _ := tpl.eval(p["D"]); fmt.Sprint(got) != fmt.Sprint([]any{float64(1), float64(2)}) {
		t.Errorf("D with Days=7 = %v, want [1 2]", got)
	}
}
