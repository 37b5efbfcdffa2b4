// Package rietest runs a Lambda bootstrap binary under the real AWS Lambda Runtime Interface
// Emulator (aws-lambda-rie, installed into bin/ by scripts/setup.sh) on loopback, invokes it over
// the emulator's HTTP API and gives structured access to what it logged.
//
// How the pinned RIE behaves (read from its source, checked by this package's tests):
//   - it listens on --runtime-interface-emulator-address (default 0.0.0.0:8080, so always given)
//     and serves the Runtime API to the bootstrap on --runtime-api-address (default
//     127.0.0.1:9001, given too so that several emulators can run at once);
//   - the runtime starts on the first invocation, not at process start; its init time is the
//     "INIT REPORT(durationMs: …)" line on stderr;
//   - the function sees the emulator's whole environment; AWS_LAMBDA_FUNCTION_TIMEOUT must be
//     whole seconds; setting AWS_LAMBDA_MAX_CONCURRENCY switches to a different (managed
//     instances) mode, so it is never set here;
//   - one invocation at a time; a function error comes back as 200 with
//     {"errorMessage","errorType"} and no header saying so; a timeout as 200 with
//     "Task timed out after N.00 seconds";
//   - the request id is taken from the X-Amzn-RequestId header, which Invoke sets so it can pair
//     an invocation with its REPORT line; SIGTERM stops the runtime and the emulator.
package rietest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/graphphoto/graphphoto/internal/tool"
	"github.com/graphphoto/graphphoto/internal/uuid"
)

// InvokePath is the emulator's invocation route, the Lambda Invoke API path with the function
// name fixed to "function".
const InvokePath = "/2015-03-31/functions/function/invocations"

// Options configure one emulated function. The zero value is a 30 s, 512 MB function named
// "function" in us-east-1 with no other environment.
type Options struct {
	FunctionName string        // AWS_LAMBDA_FUNCTION_NAME; default "function"
	Timeout      time.Duration // AWS_LAMBDA_FUNCTION_TIMEOUT, rounded up to whole seconds; default 30 s
	MemoryMB     int           // AWS_LAMBDA_FUNCTION_MEMORY_SIZE; default 512
	Region       string        // AWS_REGION and AWS_DEFAULT_REGION; default us-east-1
	// Env is the function's configured environment (the template's Environment.Variables plus
	// anything a test needs, such as endpoint overrides and credentials). Nothing else from the
	// caller's environment reaches the function except PATH.
	Env map[string]string
	// Binary overrides the emulator's path; empty means Binary().
	Binary string
	// StartTimeout bounds the wait for the emulator to listen; zero means 10 s.
	StartTimeout time.Duration
	// Echo, when set, also receives every output line as it is read (e.g. os.Stderr for the
	// local stack).
	Echo io.Writer
	// Root, when set, runs the emulator and the function inside that root filesystem (chroot;
	// needs root privileges), as Lambda runs a container image: Binary (then required) and the
	// bootstrap are paths inside Root, and PATH is the image's (ImagePath) unless Env sets one.
	Root string
}

// ImagePath is the PATH of a function run in a Root: the one Debian images set.
const ImagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Emulator is a running aws-lambda-rie with one function.
type Emulator struct {
	// Endpoint is the emulator's base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Started is how long the emulator took from exec to accepting connections.
	Started time.Duration

	cmd       *exec.Cmd
	logs      *lineStore
	exited    chan struct{}
	waitErr   error
	client    *http.Client
	invokeMu  sync.Mutex
	closeOnce sync.Once
	closeErr  error
}

// Start runs the emulator with bootstrap as the function's runtime and returns once it accepts
// connections. The runtime itself starts on the first Invoke. ctx bounds the start-up only.
func Start(ctx context.Context, bootstrap string, opts Options) (*Emulator, error) {
	bin := opts.Binary
	if bin == "" {
		if opts.Root != "" {
			return nil, errorf("a Root needs Binary: the emulator's path inside it")
		}
		var err error
		if bin, err = Binary(); err != nil {
			return nil, err
		}
	}
	if opts.Root != "" {
		if !filepath.IsAbs(bin) || !filepath.IsAbs(bootstrap) {
			return nil, errorf("with a Root, the emulator (%q) and the bootstrap (%q) are absolute paths inside it", bin, bootstrap)
		}
		if !tool.Executable(filepath.Join(opts.Root, bin)) {
			return nil, errorf("emulator %q is not an executable file in %s", bin, opts.Root)
		}
	}
	if !tool.Executable(filepath.Join(opts.Root, bootstrap)) {
		if opts.Root != "" {
			return nil, errorf("bootstrap %q is not an executable file in %s", bootstrap, opts.Root)
		}
		return nil, errorf("bootstrap %q is not an executable file", bootstrap)
	}
	env, err := functionEnv(opts)
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	for attempt := 1; ; attempt++ {
		e, err := launch(ctx, bin, bootstrap, opts.Root, env, opts.Echo)
		if err == nil {
			return e, nil
		}
		// A free port found by binding :0 can be taken before the emulator binds it.
		if attempt < 3 && e != nil && strings.Contains(e.Output(), "address already in use") {
			continue
		}
		return nil, err
	}
}

// MustStart is Start for a test: it fails tb when the emulator cannot start (a missing binary
// included), stops it when the test ends and prints its output when the test failed.
func MustStart(tb tool.TB, bootstrap string, opts Options) *Emulator {
	tb.Helper()
	e, err := Start(context.Background(), bootstrap, opts)
	if err != nil {
		tb.Fatalf("start Lambda emulator: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("aws-lambda-rie output:\n%s", e.Output())
		}
		if err := e.Close(); err != nil {
			tb.Errorf("stop Lambda emulator: %v", err)
		}
	})
	return e
}

func functionEnv(opts Options) ([]string, error) {
	name := opts.FunctionName
	if name == "" {
		name = "function"
	}
	secs := int64(30)
	if opts.Timeout < 0 {
		return nil, errorf("function timeout %v is negative", opts.Timeout)
	}
	if opts.Timeout > 0 {
		secs = int64((opts.Timeout + time.Second - 1) / time.Second)
	}
	mem := opts.MemoryMB
	if mem == 0 {
		mem = 512
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	path := os.Getenv("PATH")
	if opts.Root != "" {
		path = ImagePath
	}
	vars := map[string]string{
		"PATH":                            path,
		"TZ":                              ":UTC",
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.FormatInt(secs, 10),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(mem),
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
	}
	for k, v := range opts.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return nil, errorf("environment variable %q is not valid", k)
		}
		if k == "AWS_LAMBDA_MAX_CONCURRENCY" {
			return nil, errorf("AWS_LAMBDA_MAX_CONCURRENCY switches the emulator to another mode and is not supported")
		}
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env, nil
}

func launch(ctx context.Context, bin, bootstrap, root string, env []string, echo io.Writer) (*Emulator, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		Endpoint: "http://" + addr,
		logs:     newLineStore(echo),
		exited:   make(chan struct{}),
		client:   &http.Client{},
	}
	cmd := exec.Command(bin,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", apiAddr,
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = env
	cmd.Stdout = e.logs.writer(Stdout)
	cmd.Stderr = e.logs.writer(Stderr)
	// Own process group: a forced stop also takes the runtime the emulator started, which
	// shares the output pipes and would otherwise keep Wait from returning.
	// With a root, the kernel changes root before the working folder and the program are looked
	// up, so both are paths inside it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Chroot: root}
	cmd.WaitDelay = 2 * time.Second
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, errorf("run %s: %w", bin, err)
	}
	e.cmd = cmd
	go func() {
		e.waitErr = cmd.Wait()
		e.logs.flush()
		close(e.exited)
	}()
	if err := e.waitListening(ctx, addr); err != nil {
		e.kill()
		return e, err
	}
	e.Started = time.Since(begin)
	return e, nil
}

// waitListening dials until the emulator accepts connections. An HTTP probe is not possible:
// the emulator treats any request on any path as an invocation.
func (e *Emulator) waitListening(ctx context.Context, addr string) error {
	var d net.Dialer
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-e.exited:
			return errorf("aws-lambda-rie exited before listening (%v); its output:\n%s", e.waitErr, e.Output())
		case <-ctx.Done():
			return errorf("aws-lambda-rie did not listen on %s: %w; its output:\n%s", addr, ctx.Err(), e.Output())
		case <-tick.C:
		}
	}
}

// Result is one invocation: the function's answer and what the emulator reported about it.
type Result struct {
	RequestID string
	Payload   []byte
	// FunctionError is set when the function returned an error or timed out; Payload then
	// holds the error document.
	FunctionError *FunctionError
	// Report is the invocation's REPORT line.
	Report Report
	// Logs are the lines written between the invocation's START and END lines (the function's
	// own output and the emulator's lines for it).
	Logs []LogLine
}

// FunctionError is a function's error answer, {"errorMessage","errorType"} on Lambda.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("rietest: function error %s: %s", e.Type, e.Message)
}

// InvokeError is an invocation the emulator itself failed (not a function error): a status
// other than 200, such as 502 when the runtime crashed.
type InvokeError struct {
	StatusCode int
	Body       string
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("rietest: emulator answered %d: %s", e.StatusCode, e.Body)
}

// Invoke sends one event and returns the function's answer. A function error is returned as a
// *FunctionError along with the error document; an emulator failure as *InvokeError.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	res, err := e.InvokeResult(ctx, payload)
	if err != nil {
		return nil, err
	}
	if res.FunctionError != nil {
		return res.Payload, res.FunctionError
	}
	return res.Payload, nil
}

// InvokeResult sends one event and waits for the invocation's REPORT line too. Invocations are
// serialised: one execution environment handles one event at a time, as on Lambda.
func (e *Emulator) InvokeResult(ctx context.Context, payload []byte) (Result, error) {
	e.invokeMu.Lock()
	defer e.invokeMu.Unlock()
	id := uuid.New()
	from := e.logs.len()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Endpoint+InvokePath, bytes.NewReader(payload))
	if err != nil {
		return Result{}, errorf("build invoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amzn-RequestId", id)
	resp, err := e.client.Do(req)
	if err != nil {
		return Result{}, errorf("invoke: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return Result{}, errorf("read invoke answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Result{}, &InvokeError{StatusCode: resp.StatusCode, Body: string(body)}
	}
	res := Result{RequestID: id, Payload: body, FunctionError: functionError(body)}
	// The emulator prints REPORT before it answers, but its output is read concurrently.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reportLine, err := e.logs.wait(wctx, from, func(l LogLine) bool {
		r, ok := ParseReport(l.Text)
		return ok && r.RequestID == id
	})
	if err != nil {
		return res, errorf("no REPORT line for request %s: %w", id, err)
	}
	res.Report, _ = ParseReport(reportLine.Text)
	res.Logs = e.logs.between(from, "START RequestId: "+id, "END RequestId: "+id)
	return res, nil
}

// functionError recognises Lambda's error document and the emulator's timeout answer.
func functionError(body []byte) *FunctionError {
	if msg, ok := strings.CutPrefix(string(body), "Task timed out after "); ok {
		return &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after " + msg}
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	if _, ok := doc["errorType"]; !ok {
		return nil
	}
	for k := range doc {
		switch k {
		case "errorType", "errorMessage", "stackTrace", "cause":
		default:
			return nil
		}
	}
	var fe FunctionError
	if json.Unmarshal(body, &fe) != nil || fe.Type == "" {
		return nil
	}
	return &fe
}

// Lines returns every output line so far, in the order read (stdout and stderr are read
// separately, so lines of the two streams written at the same moment may interleave either way).
func (e *Emulator) Lines() []LogLine { return e.logs.all() }

// Output returns all output as text, each line prefixed with its stream, for failure messages.
func (e *Emulator) Output() string {
	var b strings.Builder
	for _, l := range e.logs.all() {
		fmt.Fprintf(&b, "%s: %s\n", l.Stream, l.Text)
	}
	return b.String()
}

// WaitLine waits for the first line, from the start of the output, that match accepts.
func (e *Emulator) WaitLine(ctx context.Context, match func(LogLine) bool) (LogLine, error) {
	return e.logs.wait(ctx, 0, match)
}

// Reports returns the REPORT lines so far, one per finished invocation.
func (e *Emulator) Reports() []Report {
	var out []Report
	for _, l := range e.logs.all() {
		if r, ok := ParseReport(l.Text); ok {
			out = append(out, r)
		}
	}
	return out
}

// InitDuration returns the runtime's init time from the INIT REPORT line, waiting for it until
// ctx ends; there is one once the first invocation has started the runtime.
func (e *Emulator) InitDuration(ctx context.Context) (time.Duration, error) {
	l, err := e.WaitLine(ctx, func(l LogLine) bool {
		_, ok := ParseInitReport(l.Text)
		return ok
	})
	if err != nil {
		return 0, errorf("no INIT REPORT line: %w", err)
	}
	d, _ := ParseInitReport(l.Text)
	return d, nil
}

// Close stops the emulator with SIGTERM (it then stops the runtime), and after 5 s kills its
// whole process group.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		if e.cmd == nil || e.cmd.Process == nil {
			return
		}
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
			e.kill()
			e.closeErr = errorf("aws-lambda-rie did not stop within 5 s of SIGTERM and was killed")
		}
	})
	return e.closeErr
}

func (e *Emulator) kill() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.exited
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

var errClosed = errors.New("the emulator exited")
