// Package s3test runs a real S3 server, versitygw with its posix backend, on a loopback port for
// tests and the local stack. Nothing here emulates S3: requests reach versitygw's own S3 API.
//
// What versitygw v1.8.0 does, as read from its source and checked by this package's tests:
//   - user metadata (x-amz-meta-*), HeadObject, object tagging and SigV4 presigned URLs work; a
//     presigned URL that signs x-amz-meta-* headers refuses a request whose header value differs
//     (403 SignatureDoesNotMatch).
//   - metadata is kept in extended attributes of the data files; where the data folder does not
//     support user xattrs (older tmpfs), the server is started with a sidecar metadata folder.
//   - bucket versioning needs a versioning folder given at start (Options.Versioning).
//   - with an event webhook URL, versitygw POSTs a test event when it starts and refuses to start
//     when nothing listens there: start the receiver first. Events are sent in the background
//     with a 3 s timeout and never retried (see package s3notify for their shape).
//   - conditional PutObject is enforced as S3 does: If-None-Match: * and If-Match answer 412
//     PreconditionFailed, If-Match on a missing key 404 NoSuchKey; the condition is evaluated
//     under a per-key lock, so of two writers with the same condition one wins.
//   - with --access-log (Options.AccessLog) it writes one S3-style access log line per request
//     answered, with the bucket and the operation (s3_GetObject, s3_PutObject, …): Requests.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// DefaultRegion is the region the server reports when Options.Region is empty.
const DefaultRegion = "us-east-1"

// Options configure one server. The zero value is a working server in a fresh temporary folder.
type Options struct {
	// Dir is the posix backend's root (one sub-folder per bucket). Empty: a temporary folder that
	// Close removes. A given Dir is kept, so the local stack can reuse its data across runs.
	Dir string
	// AccessKey and SecretKey are the root credentials; empty values are generated.
	AccessKey, SecretKey string
	// Region is what the server signs and reports; empty means DefaultRegion.
	Region string
	// EventWebhookURL, when set, receives versitygw's bucket notifications (--event-webhook-url).
	// Something must already listen there: versitygw posts a test event at start-up.
	EventWebhookURL string
	// Versioning lets buckets have versioning enabled (PutBucketVersioning); versitygw keeps
	// old versions in a separate folder that only exists when this is set.
	Versioning bool
	// AccessLog has versitygw write its server access log, one line per request it answered,
	// which Requests reads: requests counted at the server, not by the client.
	AccessLog bool
	// Binary overrides the executable's path; empty means Binary().
	Binary string
	// StartTimeout bounds the wait for the server to answer; zero means 20 s. A ctx deadline
	// given to Start also applies.
	StartTimeout time.Duration
}

// Server is a running versitygw process.
type Server struct {
	// Endpoint is the S3 base URL, http://127.0.0.1:PORT, for path-style requests.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// DataDir is the posix backend root: a bucket is DataDir/<bucket>, an object a file in it.
	DataDir string

	cmd       *exec.Cmd
	logs      *logBuffer
	accessLog string // the access log's path, "" without Options.AccessLog
	exited    chan struct{}
	waitErr   error
	removeDir string
	closeOnce sync.Once
	closeErr  error
}

// Start runs versitygw on a free loopback port and returns once it answers HTTP requests. ctx
// bounds the start-up only; the server runs until Close. It fails with ErrNotInstalled (wrapped)
// when the binary is missing.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = Binary(); err != nil {
			return nil, err
		}
	}
	s := &Server{
		AccessKey: opts.AccessKey,
		SecretKey: opts.SecretKey,
		Region:    opts.Region,
		DataDir:   opts.Dir,
	}
	if s.AccessKey == "" {
		s.AccessKey = "AKIA" + rand.Text()[:16]
	}
	if s.SecretKey == "" {
		s.SecretKey = rand.Text() + rand.Text()
	}
	if s.Region == "" {
		s.Region = DefaultRegion
	}
	// Everything the server writes lives under one work folder: data, sidecar metadata, versions.
	work, err := os.MkdirTemp("", "s3test-")
	if err != nil {
		return nil, errorf("create work folder: %w", err)
	}
	s.removeDir = work
	if s.DataDir == "" {
		s.DataDir = filepath.Join(work, "data")
	}
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		os.RemoveAll(work)
		return nil, errorf("create data folder: %w", err)
	}

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The port is chosen by binding :0 and releasing it, so another process can take it in
	// between; a server that then fails to bind is started again on a new port.
	for attempt := 1; ; attempt++ {
		err = s.launch(ctx, bin, work, opts)
		if err == nil {
			return s, nil
		}
		if attempt < 3 && strings.Contains(s.Logs(), "address already in use") {
			continue
		}
		os.RemoveAll(work)
		return nil, err
	}
}

// MustStart is Start for a test: it fails tb when the server cannot start (including when the
// binary is missing, so a test that needs S3 never passes vacuously), stops the server when the
// test ends, and prints the server's output when the test failed.
func MustStart(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(context.Background(), opts)
	if err != nil {
		tb.Fatalf("start S3 server: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("versitygw output:\n%s", s.Logs())
		}
		if err := s.Close(); err != nil {
			tb.Errorf("stop S3 server: %v", err)
		}
	})
	return s
}

func (s *Server) launch(ctx context.Context, bin, work string, opts Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	args := []string{
		"--port", addr,
		"--access", s.AccessKey,
		"--secret", s.SecretKey,
		"--region", s.Region,
	}
	if opts.EventWebhookURL != "" {
		args = append(args, "--event-webhook-url", opts.EventWebhookURL)
	}
	if opts.AccessLog {
		s.accessLog = filepath.Join(work, "access.log")
		args = append(args, "--access-log", s.accessLog)
	}
	args = append(args, "posix")
	if !supportsUserXattr(s.DataDir) {
		side := filepath.Join(work, "meta")
		if err := os.MkdirAll(side, 0o755); err != nil {
			return errorf("create sidecar folder: %w", err)
		}
		args = append(args, "--sidecar", side)
	}
	if opts.Versioning {
		vdir := filepath.Join(work, "versions")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return errorf("create versioning folder: %w", err)
		}
		args = append(args, "--versioning-dir", vdir)
	}
	args = append(args, s.DataDir)

	s.logs = &logBuffer{max: 256 << 10}
	s.exited = make(chan struct{})
	cmd := exec.Command(bin, args...)
	// A clean environment: versitygw reads many settings from variables (VGW_*, WEBHOOK,
	// LOGFILE, ROOT_ACCESS_KEY...), and whatever the caller's shell has must not change it.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "TMPDIR=" + os.TempDir()}
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	// Die with the test process rather than linger holding a port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return errorf("run %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	s.Endpoint = "http://" + addr
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return err
	}
	return nil
}

// waitReady polls until the server answers any HTTP response (an anonymous GET / is refused with
// 403, which proves the S3 API is serving) or the process exits.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/", nil)
		if err != nil {
			return errorf("build readiness request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return errorf("versitygw exited before serving (%v); its output:\n%s", s.waitErr, s.Logs())
		case <-ctx.Done():
			return errorf("versitygw did not answer on %s: %w; its output:\n%s", s.Endpoint, ctx.Err(), s.Logs())
		case <-tick.C:
		}
	}
}

// Logs returns what versitygw wrote to stdout and stderr (its banner, request lines, errors),
// the most recent 256 KiB.
func (s *Server) Logs() string {
	if s.logs == nil {
		return ""
	}
	return s.logs.String()
}

// Close stops the server (SIGTERM, then SIGKILL after 5 s) and removes the folders Start made.
// A data folder given in Options.Dir is kept.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				s.kill()
			}
		}
		if s.removeDir != "" {
			if err := os.RemoveAll(s.removeDir); err != nil {
				s.closeErr = errorf("remove work folder: %w", err)
			}
		}
	})
	return s.closeErr
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Config returns an aws.Config for this server: its region and root credentials, with the
// endpoint set for S3 only through Client.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:      s.Region,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}
}

// Client returns an S3 client for this server: path-style addressing (bucket names do not
// resolve as host names on loopback), its endpoint, region and root credentials.
func (s *Server) Client(optFns ...func(*s3.Options)) *s3.Client {
	fns := append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
	}}, optFns...)
	return s3.NewFromConfig(s.Config(), fns...)
}

// CreateBucket creates a bucket with the root credentials.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return errorf("create bucket %q: %w", name, err)
	}
	return nil
}

// EnableVersioning turns versioning on for a bucket; the server must have been started with
// Options.Versioning.
func (s *Server) EnableVersioning(ctx context.Context, bucket string) error {
	_, err := s.Client().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		return errorf("enable versioning on %q: %w", bucket, err)
	}
	return nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return "", errorf("find a free loopback port: %w", err)
	}
	return port, nil
}

// supportsUserXattr probes the folder the way versitygw's xattr metadata store needs it.
func supportsUserXattr(dir string) bool {
	f, err := os.CreateTemp(dir, ".xattr-probe-")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	return syscall.Setxattr(name, "user.s3test", []byte("1"), 0) == nil
}

// logBuffer keeps the last max bytes written to it; it is the process's stdout and stderr.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
