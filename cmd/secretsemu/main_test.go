package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The test binary runs main itself when asked, so the signal handling is tested on a real
// process.
func TestMain(m *testing.M) {
	if os.Getenv("SECRETSEMU_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"secretsemu"}, strings.Fields(os.Getenv("SECRETSEMU_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func writeSeed(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(path, []byte(`{"graph/app":"{\"tenantId\":\"t\"}","other":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func getValue(t *testing.T, url, accessKey, secretKey, id string) (string, error) {
	t.Helper()
	c := secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

func TestRunServesTheSeedAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	getenv := func(k string) string { return map[string]string{"SECRETSEMU_SECRET_ACCESS_KEY": "sk"}[k] }
	go func() {
		done <- run(ctx, []string{"-seed", writeSeed(t), "-access-key", "AKID"}, getenv, outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var started struct{ URL, Region string }
	if err := json.Unmarshal([]byte(line), &started); err != nil || !strings.HasPrefix(started.URL, "http://127.0.0.1:") || started.Region != "us-east-1" {
		t.Fatalf("start line %q: %v", line, err)
	}
	if v, err := getValue(t, started.URL, "AKID", "sk", "graph/app"); err != nil || v != `{"tenantId":"t"}` {
		t.Fatalf("%q, %v", v, err)
	}
	if _, err := getValue(t, started.URL, "AKID", "wrong", "graph/app"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong key: %v", err)
	}
	cancel()
	go io.Copy(io.Discard, outR)
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`["not","a","map"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing seed file", []string{"-seed", filepath.Join(t.TempDir(), "absent.json")}, "read seed"},
		{"seed not a map", []string{"-seed", bad}, "seed "},
		{"access key without secret key", []string{"-access-key", "AKID"}, "SECRETSEMU_SECRET_ACCESS_KEY"},
		{"bad address", []string{"-listen", "256.1.1.1:0"}, "listen on"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"unknown flag", []string{"-port", "1"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestProcessStopsOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "SECRETSEMU_TEST_RUN_MAIN=1", "SECRETSEMU_TEST_ARGS=-seed "+writeSeed(t))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				_ = cmd.Process.Kill()
				t.Fatal(err)
			}
			var started struct{ URL string }
			if err := json.Unmarshal([]byte(line), &started); err != nil {
				_ = cmd.Process.Kill()
				t.Fatalf("start line %q: %v", line, err)
			}
			if v, err := getValue(t, started.URL, "AKID", "any", "other"); err != nil || v != "x" {
				_ = cmd.Process.Kill()
				t.Fatalf("%q, %v", v, err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after %v: %v", sig, err)
			}
		})
	}
}
