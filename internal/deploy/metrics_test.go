package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"

	"github.com/graphphoto/graphphoto/internal/obs"
)

// ---- the metrics the code writes -----------------------------------------------------------
//
// The set is read from the Go source, not copied: for each function (a main package under
// functions/), every package of the module it imports, directly or not, is parsed; its
// obs.Metric literals give the metric names and its one obs.NewMetrics call the namespace and
// the dimension names. Names must be constants (literals or named constants, such as
// obs.PhotosFailed), so that a reader and this check can both see them.

// metricID is one CloudWatch metric as the code writes it: namespace, name and the names of
// its dimensions (sorted, joined by commas).
type metricID struct {
	Namespace, Name, Dimensions string
}

func (m metricID) String() string {
	return fmt.Sprintf("%s/%s [%s]", m.Namespace, m.Name, m.Dimensions)
}

// goPackage is one parsed package of the module.
type goPackage struct {
	path   string
	files  []*ast.File
	consts map[string]string // string constants declared at package level
}

type moduleIndex struct {
	root, module string
	fset         *token.FileSet
	pkgs         map[string]*goPackage
}

func newModuleIndex(root string) (*moduleIndex, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		return nil, errors.New("go.mod names no module")
	}
	return &moduleIndex{root: root, module: string(m[1]), fset: token.NewFileSet(), pkgs: map[string]*goPackage{}}, nil
}

// load parses the non-test files of a package of the module.
func (x *moduleIndex) load(importPath string) (*goPackage, error) {
	if p, ok := x.pkgs[importPath]; ok {
		return p, nil
	}
	dir := filepath.Join(x.root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(importPath, x.module), "/")))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", importPath, err)
	}
	p := &goPackage{path: importPath, consts: map[string]string{}}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(x.fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, f)
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						p.consts[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	x.pkgs[importPath] = p
	return p, nil
}

// reachable returns the module's packages that start imports, directly or not, start included.
func (x *moduleIndex) reachable(start string) ([]*goPackage, error) {
	var out []*goPackage
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 {
		p, err := x.load(queue[0])
		if err != nil {
			return nil, err
		}
		queue = queue[1:]
		out = append(out, p)
		for _, f := range p.files {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if (path == x.module || strings.HasPrefix(path, x.module+"/")) && !seen[path] {
					seen[path] = true
					queue = append(queue, path)
				}
			}
		}
	}
	return out, nil
}

// importOf is the import path a file refers to by name.
func importOf(f *ast.File, name string) string {
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		local := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			local = imp.Name.Name
		}
		if local == name {
			return path
		}
	}
	return ""
}

// isObs reports whether e names obs.<name> in file f.
func (x *moduleIndex) isObs(f *ast.File, e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && importOf(f, id.Name) == x.module+"/internal/obs"
}

// constString evaluates a string constant expression: a literal, a constant of the package, or
// a constant of another package of the module.
func (x *moduleIndex) constString(p *goPackage, f *ast.File, e ast.Expr) (string, error) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			return strconv.Unquote(v.Value)
		}
	case *ast.Ident:
		if s, ok := p.consts[v.Name]; ok {
			return s, nil
		}
	case *ast.SelectorExpr:
		if id, ok := v.X.(*ast.Ident); ok {
			if path := importOf(f, id.Name); strings.HasPrefix(path, x.module) {
				q, err := x.load(path)
				if err != nil {
					return "", err
				}
				if s, ok := q.consts[v.Sel.Name]; ok {
					return s, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s: a metric's name, namespace or dimension is not a string constant, so no check can follow it", x.fset.Position(e.Pos()))
}

// field returns a composite literal's field by key, or by position when it has no keys.
func field(cl *ast.CompositeLit, key string, pos int) ast.Expr {
	for i, e := range cl.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == key {
				return kv.Value
			}
		} else if i == pos {
			return e
		}
	}
	return nil
}

// codeMetrics returns the metrics each function's code writes, by the name of its main package
// under functions/ (the bootstrap's name).
func codeMetrics(root string) (map[string]map[metricID]bool, error) {
	x, err := newModuleIndex(root)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	out := map[string]map[metricID]bool{}
	for _, e := range entries {
		if !e.IsDir() || !isMainPackage(root, filepath.Join("functions", e.Name())) {
			continue
		}
		pkgs, err := x.reachable(x.module + "/functions/" + e.Name())
		if err != nil {
			return nil, err
		}
		var names []string
		type writer struct{ namespace, dims string }
		var writers []writer
		var problems []error
		for _, p := range pkgs {
			for _, f := range p.files {
				ast.Inspect(f, func(n ast.Node) bool {
					var lits []*ast.CompositeLit
					switch v := n.(type) {
					case *ast.CompositeLit:
						if x.isObs(f, v.Type, "Metric") {
							lits = append(lits, v)
						}
						if arr, ok := v.Type.(*ast.ArrayType); ok && x.isObs(f, arr.Elt, "Metric") {
							for _, el := range v.Elts {
								if cl, ok := el.(*ast.CompositeLit); ok && cl.Type == nil {
									lits = append(lits, cl)
								}
							}
						}
					case *ast.CallExpr:
						if !x.isObs(f, v.Fun, "NewMetrics") {
							return true
						}
						if len(v.Args) < 3 || v.Ellipsis.IsValid() {
							problems = append(problems, fmt.Errorf("%s: obs.NewMetrics with dimensions this check cannot read", x.fset.Position(v.Pos())))
							return true
						}
						ns, err := x.constString(p, f, v.Args[1])
						if err != nil {
							problems = append(problems, err)
						}
						var dims []string
						for _, a := range v.Args[3:] {
							cl, ok := a.(*ast.CompositeLit)
							if !ok || !x.isObs(f, cl.Type, "Dimension") {
								problems = append(problems, fmt.Errorf("%s: a dimension that is not an obs.Dimension literal", x.fset.Position(a.Pos())))
								continue
							}
							d, err := x.constString(p, f, field(cl, "Name", 0))
							if err != nil {
								problems = append(problems, err)
							}
							dims = append(dims, d)
						}
						sort.Strings(dims)
						writers = append(writers, writer{ns, strings.Join(dims, ",")})
					}
					for _, cl := range lits {
						name := field(cl, "Name", 0)
						if name == nil {
							problems = append(problems, fmt.Errorf("%s: an obs.Metric without a name", x.fset.Position(cl.Pos())))
							continue
						}
						s, err := x.constString(p, f, name)
						if err != nil {
							problems = append(problems, err)
							continue
						}
						names = append(names, s)
					}
					return true
				})
			}
		}
		if len(writers) != 1 {
			problems = append(problems, fmt.Errorf("functions/%s reaches %d obs.NewMetrics calls; this check needs exactly one to know the namespace and dimensions", e.Name(), len(writers)))
		}
		if len(problems) > 0 {
			return nil, errors.Join(problems...)
		}
		set := map[metricID]bool{}
		for _, n := range names {
			set[metricID{writers[0].namespace, n, writers[0].dims}] = true
		}
		out[e.Name()] = set
	}
	return out, nil
}

// ---- the metrics AWS publishes -------------------------------------------------------------

// awsNamespace is what one AWS service publishes that the template reads, from its
// documentation: the metric names, and per dimension the resource type its value names and
// how (a Ref, or a GetAtt's attribute).
type awsNamespace struct {
	metrics    []string
	dimensions map[string]awsDimension
}

type awsDimension struct {
	resourceType, attr string // attr "" means a Ref
}

var awsMetrics = map[string]awsNamespace{
	// docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
	"AWS/SQS": {
		metrics: []string{"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible",
			"ApproximateNumberOfMessagesVisible", "NumberOfEmptyReceives", "NumberOfMessagesDeleted", "NumberOfMessagesReceived",
			"NumberOfMessagesSent", "SentMessageSize"},
		dimensions: map[string]awsDimension{"QueueName": {"AWS::SQS::Queue", "QueueName"}},
	},
	// docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
	"AWS/Lambda": {
		metrics:    []string{"ConcurrentExecutions", "Duration", "Errors", "Invocations", "Throttles"},
		dimensions: map[string]awsDimension{"FunctionName": {"AWS::Serverless::Function", ""}},
	},
	// docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html (HTTP APIs)
	"AWS/ApiGateway": {
		metrics:    []string{"4xx", "5xx", "Count", "DataProcessed", "IntegrationLatency", "Latency"},
		dimensions: map[string]awsDimension{"ApiId": {"AWS::Serverless::HttpApi", ""}},
	},
}

// ---- a metric the template reads -----------------------------------------------------------

// metricRef is one metric an alarm or a widget reads; dimension values are evaluated (a
// resource's Ref or GetAtt stays a symbol).
type metricRef struct {
	where           string
	namespace, name string
	dims            map[string]any
	stat            string // the widget's statistic; "" for alarms
}

// matches reports whether the reference reads namespace/name with a dimension naming logical.
func (m metricRef) matches(namespace, name, logical string) bool {
	if m.namespace != namespace || m.name != name {
		return false
	}
	for _, v := range m.dims {
		if s, ok := v.(symbol); ok && s.Logical == logical {
			return true
		}
	}
	return false
}

// metricChecker knows what the code and AWS write.
type metricChecker struct {
	t       *Template
	code    map[string]map[metricID]bool // by bootstrap name
	logical map[string]string            // function logical id -> bootstrap name
}

func newMetricChecker(p *project) (*metricChecker, error) {
	code, err := codeMetrics(p.root)
	if err != nil {
		return nil, err
	}
	c := &metricChecker{t: p.template, code: code, logical: map[string]string{}}
	for bootstrap := range code {
		fn, err := p.functionFor(bootstrap)
		if err != nil {
			return nil, err
		}
		c.logical[fn] = bootstrap
	}
	return c, nil
}

// check returns why a metric reference reads nothing, or nil.
func (c *metricChecker) check(m metricRef) error {
	dimNames := sortedKeys(m.dims)
	if aws, ok := awsMetrics[m.namespace]; ok {
		if !slices.Contains(aws.metrics, m.name) {
			return fmt.Errorf("%s: %s publishes no metric %q", m.where, m.namespace, m.name)
		}
		if len(m.dims) == 0 {
			return fmt.Errorf("%s: %s %s without dimensions reads every resource in the account", m.where, m.namespace, m.name)
		}
		for _, d := range dimNames {
			want, ok := aws.dimensions[d]
			if !ok {
				return fmt.Errorf("%s: %s %s has no dimension %q this template uses", m.where, m.namespace, m.name, d)
			}
			s, ok := m.dims[d].(symbol)
			wantKind := "Ref"
			if want.attr != "" {
				wantKind = "GetAtt"
			}
			if !ok || s.Kind != wantKind || s.Attr != want.attr || c.t.Resources[s.Logical].Type != want.resourceType {
				return fmt.Errorf("%s: %s %s dimension %s is %v; want the %s of a %s of this template", m.where, m.namespace, m.name, d, m.dims[d], wantKind+" "+want.attr, want.resourceType)
			}
		}
		return nil
	}
	if strings.HasPrefix(m.namespace, "AWS/") {
		return fmt.Errorf("%s: namespace %s is not one this template is checked against", m.where, m.namespace)
	}
	// A custom metric: one of the code's, read for a function whose code writes it.
	id := metricID{m.namespace, m.name, strings.Join(dimNames, ",")}
	var writers []string
	for fn, bootstrap := range c.logical {
		if c.code[bootstrap][id] {
			writers = append(writers, fn)
		}
	}
	if len(writers) == 0 {
		var known []string
		for _, set := range c.code {
			for k := range set {
				known = append(known, k.String())
			}
		}
		sort.Strings(known)
		return fmt.Errorf("%s: %s is no metric the code writes (it writes %s)", m.where, id, strings.Join(slices.Compact(known), ", "))
	}
	for _, v := range m.dims {
		if s, ok := v.(symbol); ok && s.Kind == "Ref" && slices.Contains(writers, s.Logical) {
			return nil
		}
	}
	sort.Strings(writers)
	return fmt.Errorf("%s: %s is written only by %v, and the reference names none of them (%v)", m.where, id, writers, m.dims)
}

// ---- schema of the CloudWatch resources ----------------------------------------------------

// checkSchema checks a resource's long-form properties against goformation's type for it: no
// property CloudFormation does not know (a misspelt one would be rejected, or silently do
// nothing), every required one present, lists where lists belong. Intrinsic functions are
// taken as any value.
func checkSchema(v any, typ reflect.Type, where string) []error {
	if _, _, ok := intrinsic(v); ok {
		return nil
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return []error{fmt.Errorf("%s: want an object, got %T", where, v)}
		}
		var out []error
		known := map[string]bool{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				continue
			}
			known[name] = true
			sub, present := m[name]
			if !present {
				if !strings.Contains(opts, "omitempty") {
					out = append(out, fmt.Errorf("%s: required property %s is missing", where, name))
				}
				continue
			}
			out = append(out, checkSchema(sub, f.Type, where+"."+name)...)
		}
		for _, k := range sortedKeys(m) {
			if !known[k] {
				out = append(out, fmt.Errorf("%s: unknown property %s", where, k))
			}
		}
		return out
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return []error{fmt.Errorf("%s: want a list, got %T", where, v)}
		}
		var out []error
		for i, e := range l {
			out = append(out, checkSchema(e, typ.Elem(), fmt.Sprintf("%s[%d]", where, i))...)
		}
		return out
	case reflect.String:
		if _, ok := v.(string); !ok {
			return []error{fmt.Errorf("%s: want a string, got %v", where, v)}
		}
	case reflect.Int, reflect.Float64:
		if _, ok := v.(float64); !ok {
			return []error{fmt.Errorf("%s: want a number, got %v", where, v)}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return []error{fmt.Errorf("%s: want true or false, got %v", where, v)}
		}
	}
	return nil
}

// ---- alarms --------------------------------------------------------------------------------

// alarmMetrics returns the metrics an alarm reads: its own (Namespace, MetricName, Dimensions)
// or those of its Metrics queries.
func (t *Template) alarmMetrics(logical string) ([]metricRef, error) {
	props := t.Resources[logical].Properties
	var raw []map[string]any
	if _, ok := props["MetricName"]; ok {
		raw = append(raw, props)
	}
	for _, q := range listOf(props["Metrics"]) {
		if m := mapOf(mapOf(mapOf(q)["MetricStat"])["Metric"]); len(m) > 0 {
			raw = append(raw, m)
		}
	}
	var out []metricRef
	for _, m := range raw {
		ns, err := t.evalString(m["Namespace"])
		if err != nil {
			return nil, fmt.Errorf("alarm %s: Namespace: %w", logical, err)
		}
		name, err := t.evalString(m["MetricName"])
		if err != nil {
			return nil, fmt.Errorf("alarm %s: MetricName: %w", logical, err)
		}
		ref := metricRef{where: "alarm " + logical, namespace: ns, name: name, dims: map[string]any{}}
		for _, d := range listOf(m["Dimensions"]) {
			dn, err := t.evalString(mapOf(d)["Name"])
			if err != nil {
				return nil, fmt.Errorf("alarm %s: dimension name: %w", logical, err)
			}
			if ref.dims[dn], err = t.eval(mapOf(d)["Value"]); err != nil {
				return nil, fmt.Errorf("alarm %s: dimension %s: %w", logical, dn, err)
			}
		}
		out = append(out, ref)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("alarm %s reads no metric", logical)
	}
	return out, nil
}

// sampleTopic is an SNS topic an operator might pass for the alarm topic parameter.
const sampleTopic = "arn:aws:sns:us-east-1:123456789012:graphphoto-alarms"

// checkAlarms: every metric an alarm reads is one the code or AWS writes; the alarms the
// operator needs exist (dead letters, queue age, PhotosFailed, each function's errors and
// throttles, the API's 5xx rate); their thresholds are parameters where the README says so;
// and each notifies the optional SNS topic parameter, or no one when it is empty.
func checkAlarms(p *project) []error {
	e := &errs{}
	t := p.template
	c, err := newMetricChecker(p)
	if err != nil {
		return []error{err}
	}
	alarms := t.ofType("AWS::CloudWatch::Alarm")
	var all []metricRef
	byAlarm := map[string][]metricRef{}
	for _, a := range alarms {
		e.prefix = ""
		e.list = append(e.list, checkSchema(t.Resources[a].Properties, reflect.TypeOf(cloudwatch.Alarm{}), "alarm "+a)...)
		refs, err := t.alarmMetrics(a)
		if err != nil {
			e.addErr(err)
			continue
		}
		for _, r := range refs {
			e.addErr(c.check(r))
		}
		all = append(all, refs...)
		byAlarm[a] = refs
	}

	// Which alarm reads what, for the ones the operator needs.
	reads := func(namespace, name, logical string) []string {
		var out []string
		for _, a := range alarms {
			for _, r := range byAlarm[a] {
				if r.matches(namespace, name, logical) && !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
		return out
	}
	need := func(what string, alarms []string) {
		if len(alarms) == 0 {
			e.add("no alarm on %s", what)
		}
	}
	mainQueue, dlq := t.queues()
	need("messages in the dead-letter queue", reads("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq))
	need("the age of the oldest message in the upload queue", reads("AWS/SQS", "ApproximateAgeOfOldestMessage", mainQueue))
	for _, fn := range t.functions() {
		need(fn+"'s errors", reads("AWS/Lambda", "Errors", fn))
		need(fn+"'s throttles", reads("AWS/Lambda", "Throttles", fn))
	}
	for _, api := range t.ofType("AWS::Serverless::HttpApi") {
		five, count := reads("AWS/ApiGateway", "5xx", api), reads("AWS/ApiGateway", "Count", api)
		rate := slices.DeleteFunc(slices.Clone(five), func(a string) bool { return !slices.Contains(count, a) })
		need("the 5xx rate of "+api+" (5xx and Count in one alarm)", rate)
	}
	for fn, bootstrap := range c.logical {
		for id := range c.code[bootstrap] {
			if id.Name != obs.PhotosFailed {
				continue
			}
			failed := reads(id.Namespace, id.Name, fn)
			need("PhotosFailed of "+fn, failed)
			for _, a := range failed {
				e.prefix = "alarm " + a + ": "
				props := t.Resources[a].Properties
				if refTo(props["Threshold"]) == "" {
					e.add("Threshold %v is not a parameter", props["Threshold"])
				}
				periods := []any{props["Period"]}
				for _, q := range listOf(props["Metrics"]) {
					if ms := mapOf(mapOf(q)["MetricStat"]); len(ms) > 0 {
						periods = append(periods, ms["Period"])
					}
				}
				for _, per := range periods {
					if per != nil && refTo(per) == "" {
						e.add("Period %v is not a parameter", per)
					}
				}
			}
		}
	}

	// Notifications: the one topic parameter when it is set, nothing when it is empty.
	topicParam := ""
	for _, a := range alarms {
		e.prefix = "alarm " + a + ": "
		props := t.Resources[a].Properties
		for _, key := range []string{"AlarmActions", "OKActions"} {
			params := map[string]bool{}
			walk(props[key], func(v any) {
				if r := refTo(v); r != "" && t.Parameters[r] != nil {
					params[r] = true
				}
			})
			if len(params) != 1 {
				e.add("%s should name the alarm topic parameter, once (names %v)", key, sortedKeys(params))
				continue
			}
			param := sortedKeys(params)[0]
			if topicParam == "" {
				topicParam = param
			} else if param != topicParam {
				e.add("%s notifies %s, other alarms %s", key, param, topicParam)
			}
			if d, ok := t.Parameters[param]["Default"]; !ok || d != "" {
				e.add("parameter %s should default to empty (no notifications)", param)
			}
			for _, tc := range []struct {
				value string
				want  []any
			}{{"", nil}, {sampleTopic, []any{sampleTopic}}} {
				t.Overrides[param] = tc.value
				got, err := t.eval(map[string]any{"v": props[key]})
				delete(t.Overrides, param)
				if err != nil {
					e.addErr(err)
					continue
				}
				v, set := mapOf(got)["v"]
				if tc.want == nil && set {
					e.add("%s with %s empty is %q; want no actions (an empty ARN is refused)", key, param, v)
				}
				if tc.want != nil && !reflect.DeepEqual(v, tc.want) {
					e.add("%s with %s=%s is %v; want [%s]", key, param, tc.value, v, tc.value)
				}
			}
			if err := meetsConstraints(t.Parameters[param], sampleTopic); err != nil {
				e.add("parameter %s refuses a topic ARN: %v", param, err)
			}
		}
	}
	if len(all) == 0 {
		e.add("no alarms")
	}
	return e.list
}

// queues returns the upload queue (the one with a redrive policy) and its dead-letter queue.
func (t *Template) queues() (main, dlq string) {
	for _, q := range t.ofType("AWS::SQS::Queue") {
		if target, _ := getAtt(mapOf(t.Resources[q].Properties["RedrivePolicy"])["deadLetterTargetArn"]); target != "" {
			return q, target
		}
	}
	return "", ""
}

// ---- dashboard -----------------------------------------------------------------------------

// subSymbols evaluates an Fn::Sub as CloudFormation would at deploy time, writing a resource's
// Ref or GetAtt as its symbol ({Ref X}, {GetAtt X.Arn}) where CloudFormation would write the
// real name or ARN.
func (t *Template) subSymbols(v any) (string, error) {
	name, arg, ok := intrinsic(v)
	if !ok || name != "Fn::Sub" {
		return "", fmt.Errorf("want an Fn::Sub, got %v", v)
	}
	text, ok := arg.(string)
	if !ok {
		return "", errors.New("want the one-string form of Fn::Sub")
	}
	var failed error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		var r any
		var err error
		if strings.Contains(name, ".") {
			r, err = t.evalFn("Fn::GetAtt", name)
		} else {
			r, err = t.ref(name)
		}
		if err != nil {
			failed = errors.Join(failed, err)
			return m
		}
		if s, ok := scalar(r); ok {
			return s
		}
		return fmt.Sprint(r)
	})
	return out, failed
}

// dashboardMetrics returns the metrics a dashboard body's metric widgets read, in the
// explicit form ["Namespace", "Name", "Dim", "Value", …, {options}].
func dashboardMetrics(t *Template, body string) ([]metricRef, error) {
	var doc struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string  `json:"title"`
				Region  string  `json:"region"`
				Stat    string  `json:"stat"`
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("DashboardBody is not the JSON CloudWatch reads: %w", err)
	}
	if len(doc.Widgets) == 0 {
		return nil, errors.New("DashboardBody has no widgets")
	}
	var out []metricRef
	var problems []error
	for i, w := range doc.Widgets {
		where := fmt.Sprintf("widget %d (%s)", i, w.Properties.Title)
		if w.Type != "metric" {
			continue
		}
		if w.Properties.Region != pseudo["AWS::Region"] {
			problems = append(problems, fmt.Errorf("%s: region %q; want ${AWS::Region}", where, w.Properties.Region))
		}
		if len(w.Properties.Metrics) == 0 {
			problems = append(problems, fmt.Errorf("%s: no metrics", where))
		}
		for j, row := range w.Properties.Metrics {
			at := fmt.Sprintf("%s metric %d", where, j)
			var strs []string
			stat := w.Properties.Stat
			for k, cell := range row {
				switch v := cell.(type) {
				case string:
					strs = append(strs, v)
				case map[string]any:
					if k != len(row)-1 {
						problems = append(problems, fmt.Errorf("%s: options must come last", at))
					}
					if s, ok := v["stat"].(string); ok {
						stat = s
					}
					if _, expr := v["expression"]; expr && len(row) == 1 {
						strs = nil // a math expression over other rows reads no metric itself
					}
				default:
					problems = append(problems, fmt.Errorf("%s: cell %v", at, cell))
				}
			}
			if len(strs) == 0 {
				continue
			}
			if slices.Contains(strs, ".") || len(strs) < 2 || len(strs)%2 != 0 {
				problems = append(problems, fmt.Errorf("%s: %q: write each metric out in full (namespace, name, dimension pairs; no \".\")", at, strs))
				continue
			}
			ref := metricRef{where: at, namespace: strs[0], name: strs[1], dims: map[string]any{}, stat: stat}
			for k := 2; k < len(strs); k += 2 {
				ref.dims[strs[k]] = symbolOf(strs[k+1])
			}
			out = append(out, ref)
		}
	}
	return out, errors.Join(problems...)
}

var symbolText = regexp.MustCompile(`^\{(Ref|GetAtt) ([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}$`)

// symbolOf turns the text subSymbols wrote for a resource back into its symbol.
func symbolOf(s string) any {
	m := symbolText.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	return symbol{Kind: m[1], Logical: m[2], Attr: m[3]}
}

// checkDashboard: one dashboard whose body is valid JSON once CloudFormation has substituted
// it, whose every metric is one the code or AWS writes, and which shows what the README
// promises: photos synced, rejected, failed and skipped per function, normalise and Graph
// times at p50 and p99, the upload queue's depth and age, and the dead-letter queue's depth.
func checkDashboard(p *project) []error {
	e := &errs{}
	t := p.template
	c, err := newMetricChecker(p)
	if err != nil {
		return []error{err}
	}
	boards := t.ofType("AWS::CloudWatch::Dashboard")
	if len(boards) != 1 {
		return []error{fmt.Errorf("%d dashboards, want one", len(boards))}
	}
	props := t.Resources[boards[0]].Properties
	e.list = append(e.list, checkSchema(props, reflect.TypeOf(cloudwatch.Dashboard{}), "dashboard "+boards[0])...)
	body, err := t.subSymbols(props["DashboardBody"])
	if err != nil {
		return append(e.list, fmt.Errorf("dashboard %s: DashboardBody: %w", boards[0], err))
	}
	refs, err := dashboardMetrics(t, body)
	e.addErr(err)
	for _, r := range refs {
		e.addErr(c.check(r))
	}
	shows := func(namespace, name, logical, stat string) bool {
		for _, r := range refs {
			if r.matches(namespace, name, logical) && (stat == "" || r.stat == stat) {
				return true
			}
		}
		return false
	}
	for fn, bootstrap := range c.logical {
		for id := range c.code[bootstrap] {
			switch id.Name {
			case obs.PhotosSynced, obs.PhotosUnchanged, obs.PhotosRejected, obs.PhotosFailed, obs.PhotosSkipped:
				if !shows(id.Namespace, id.Name, fn, "Sum") {
					e.add("the dashboard does not show %s of %s (Sum)", id.Name, fn)
				}
			case obs.NormaliseMs, obs.GraphMs:
				for _, stat := range []string{"p50", "p99"} {
					if !shows(id.Namespace, id.Name, fn, stat) {
						e.add("the dashboard does not show %s of %s at %s", id.Name, fn, stat)
					}
				}
			}
		}
	}
	mainQueue, dlq := t.queues()
	for _, want := range []struct{ name, queue, what string }{
		{"ApproximateNumberOfMessagesVisible", mainQueue, "the upload queue's depth"},
		{"ApproximateAgeOfOldestMessage", mainQueue, "the upload queue's oldest message"},
		{"ApproximateNumberOfMessagesVisible", dlq, "the dead-letter queue's depth"},
	} {
		if !shows("AWS/SQS", want.name, want.queue, "") {
			e.add("the dashboard does not show %s (%s of %s)", want.what, want.name, want.queue)
		}
	}
	return e.list
}

// ---- tests of the readers themselves -------------------------------------------------------

// TestCodeMetrics: the reader finds what each function writes, and refuses a metric whose name
// it cannot see.
func TestCodeMetrics(t *testing.T) {
	got, err := codeMetrics(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	// Both functions report through the photo job's one Reporter: the same metrics, skips too.
	skipped := metricID{obs.Namespace, obs.PhotosSkipped, obs.FunctionDimension}
	failed := metricID{obs.Namespace, obs.PhotosFailed, obs.FunctionDimension}
	if !got["onupload"][skipped] || !got["onupload"][failed] || !got["api"][failed] || !got["api"][skipped] {
		t.Errorf("code metrics %v: want PhotosFailed and PhotosSkipped from both functions", got)
	}

	// A module whose function names a metric with a variable.
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                 "module example.com/m\n",
		"functions/f/main.go":    "package main\n\nimport \"example.com/m/internal/obs\"\n\nfunc main() {\n\tname := \"Photos\" + \"Synced\"\n\tm, _ := obs.NewMetrics(nil, obs.Namespace, nil, obs.Dimension{Name: \"FunctionName\"})\n\t_ = m\n\t_ = []obs.Metric{{Name: name}}\n}\n",
		"internal/obs/obs.go":    "package obs\n\nconst Namespace = \"NS\"\n\ntype Metric struct{ Name string }\ntype Dimension struct{ Name, Value string }\n\nfunc NewMetrics(w any, ns string, now any, dims ...Dimension) (any, error) { return nil, nil }\n",
		"internal/obs/x_test.go": "package obs\n",
	}
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := codeMetrics(root); err == nil || !strings.Contains(err.Error(), "not a string constant") {
		t.Errorf("a metric named by a variable: err = %v", err)
	}
	fixed := strings.Replace(files["functions/f/main.go"], "{Name: name}", "{Name: \"PhotosSynced\"}", 1)
	if err := os.WriteFile(filepath.Join(root, "functions/f/main.go"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = codeMetrics(root)
	if err != nil || !got["f"][metricID{"NS", "PhotosSynced", "FunctionName"}] {
		t.Errorf("code metrics %v, %v", got, err)
	}
}

func TestCheckSchema(t *testing.T) {
	typ := reflect.TypeOf(cloudwatch.Alarm{})
	good := map[string]any{"ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1.0, "Threshold": map[string]any{"Ref": "P"},
		"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": "Q.QueueName"}}}}
	if errs := checkSchema(good, typ, "a"); len(errs) != 0 {
		t.Errorf("good alarm: %v", errs)
	}
	for name, mutate := range map[string]func(map[string]any){
		"unknown property":  func(m map[string]any) { m["Treshold"] = 1.0 },
		"required missing":  func(m map[string]any) { delete(m, "EvaluationPeriods") },
		"object for a list": func(m map[string]any) { m["Dimensions"] = map[string]any{"Name": "x", "Value": "y"} },
		"nested unknown":    func(m map[string]any) { m["Dimensions"] = []any{map[string]any{"Name": "x", "Val": "y"}} },
	} {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		mutate(m)
		if errs := checkSchema(m, typ, "a"); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}
