package rietest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

type echoAnswer struct {
	Echo         json.RawMessage `json:"echo"`
	FunctionName string          `json:"functionName"`
	RequestID    string          `json:"requestId"`
	Greeting     string          `json:"greeting"`
	PID          int             `json:"pid"`
}

func TestEchoFunctionUnderTheEmulator(t *testing.T) {
	bootstrap := BuildBootstrap(t, "./testdata/echo")
	emu := MustStart(t, bootstrap, Options{
		FunctionName: "echo-fn",
		Env:          map[string]string{"ECHO_GREETING": "hello from the environment"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first, err := emu.InvokeResult(ctx, []byte(`{"hello":"world","n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if first.FunctionError != nil {
		t.Fatalf("function error: %v", first.FunctionError)
	}
	var got echoAnswer
	if err := json.Unmarshal(first.Payload, &got); err != nil {
		t.Fatalf("answer %s: %v", first.Payload, err)
	}
	if string(got.Echo) != `{"hello":"world","n":1}` {
		t.Errorf("echo = %s", got.Echo)
	}
	if got.FunctionName != "echo-fn" || got.Greeting != "hello from the environment" {
		t.Errorf("function name %q, greeting %q: the environment did not reach the function", got.FunctionName, got.Greeting)
	}
	if got.RequestID != first.RequestID || first.Report.RequestID != first.RequestID {
		t.Errorf("request ids: function %q, invoke %q, report %q", got.RequestID, first.RequestID, first.Report.RequestID)
	}

	// The function's JSON log line, inside this invocation's START…END block.
	var logged map[string]any
	for _, l := range first.Logs {
		if strings.Contains(l.Text, `"msg":"echo invoked"`) {
			if err := json.Unmarshal([]byte(l.Text), &logged); err != nil {
				t.Fatalf("log line %q: %v", l.Text, err)
			}
		}
	}
	if logged == nil || logged["requestId"] != first.RequestID || logged["bytes"] != float64(len(`{"hello":"world","n":1}`)) {
		t.Errorf("function log line missing or wrong: %v (invocation lines: %v)", logged, first.Logs)
	}

	initDur, err := emu.InitDuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if initDur <= 0 {
		t.Errorf("init duration %v, want a positive duration", initDur)
	}
	if first.Report.Duration <= 0 || first.Report.BilledDuration < first.Report.Duration.Truncate(time.Millisecond) {
		t.Errorf("report durations: %+v", first.Report)
	}

	second, err := emu.InvokeResult(ctx, []byte(`[1,2,3]`))
	if err != nil {
		t.Fatal(err)
	}
	if second.Report.InitDuration != 0 {
		t.Errorf("second invocation reports an init duration: %+v", second.Report)
	}
	if len(emu.Reports()) != 2 {
		t.Errorf("%d REPORT lines, want 2", len(emu.Reports()))
	}
	t.Logf("emulator listening after %v; INIT REPORT %v; first invoke %v (includes init), second %v",
		emu.Started, initDur, first.Report.Duration, second.Report.Duration)
}

func TestFunctionErrorsAndTimeouts(t *testing.T) {
	bootstrap := BuildBootstrap(t, "./testdata/echo")
	emu := MustStart(t, bootstrap, Options{Timeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	payload, err := emu.Invoke(ctx, []byte(`{"fail":"the image is not a photo"}`))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Message != "the image is not a photo" || fe.Type != "errorString" {
		t.Fatalf("error %v (payload %s), want a function error", err, payload)
	}

	_, err = emu.Invoke(ctx, []byte(`{"sleepMs":3000}`))
	if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" {
		t.Fatalf("error %v, want a timeout", err)
	}
}

func TestCloseStopsEmulatorAndRuntime(t *testing.T) {
	bootstrap := BuildBootstrap(t, "./testdata/echo")
	emu, err := Start(context.Background(), bootstrap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := emu.Invoke(context.Background(), []byte(`{}`))
	if err != nil {
		emu.Close()
		t.Fatal(err)
	}
	var got echoAnswer
	if err := json.Unmarshal(out, &got); err != nil || got.PID == 0 {
		emu.Close()
		t.Fatalf("answer %s: %v", out, err)
	}
	if err := emu.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post(emu.Endpoint+InvokePath, "application/json", strings.NewReader("{}")); err == nil {
		t.Error("emulator still answers after Close")
	}
	// The runtime is the emulator's child; once the emulator is gone it must be too.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(got.PID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("runtime process %d still exists after Close", got.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartRefusesBadInput(t *testing.T) {
	bootstrap := BuildBootstrap(t, "./testdata/echo")
	tests := []struct {
		name      string
		bootstrap string
		opts      Options
		want      string
	}{
		{"missing bootstrap", bootstrap + ".missing", Options{}, "not an executable"},
		{"missing emulator", bootstrap, Options{Binary: t.TempDir() + "/aws-lambda-rie"}, "run"},
		{"managed instances mode", bootstrap, Options{Env: map[string]string{"AWS_LAMBDA_MAX_CONCURRENCY": "4"}}, "not supported"},
		{"bad variable", bootstrap, Options{Env: map[string]string{"A=B": "c"}}, "not valid"},
		{"negative timeout", bootstrap, Options{Timeout: -time.Second}, "negative"},
		{"root without the emulator's path", "/var/task/bootstrap", Options{Root: t.TempDir()}, "needs Binary"},
		{"relative paths in a root", "bootstrap", Options{Root: t.TempDir(), Binary: "/tmp/aws-lambda-rie"}, "absolute paths inside it"},
		{"emulator not in the root", "/var/task/bootstrap", Options{Root: t.TempDir(), Binary: "/tmp/aws-lambda-rie"}, "emulator \"/tmp/aws-lambda-rie\" is not an executable file in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, err := Start(context.Background(), tc.bootstrap, tc.opts)
			if err == nil {
				emu.Close()
				t.Fatal("start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestRootGetsTheImagePath: a function in a root filesystem gets the image's PATH, not this
// machine's, unless its environment names one.
func TestRootGetsTheImagePath(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Root: "/some/root"}, "PATH=" + ImagePath},
		{Options{Root: "/some/root", Env: map[string]string{"PATH": "/opt/bin"}}, "PATH=/opt/bin"},
		{Options{}, "PATH=" + os.Getenv("PATH")},
	} {
		env, err := functionEnv(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(env, tc.want) {
			t.Errorf("root %q: environment %v lacks %s", tc.opts.Root, env, tc.want)
		}
	}
}
