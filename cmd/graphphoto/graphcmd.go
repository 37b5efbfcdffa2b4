package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/reason"
	"github.com/graphphoto/graphphoto/internal/secrets"
)

// graphLine is the JSON line printed for put, get and delete.
type graphLine struct {
	Command         string `json:"command"`
	Target          string `json:"target"`
	Status          string `json:"status"` // ok | rejected (permanent) | failed (transient, retry later)
	Reason          string `json:"reason,omitempty"`
	Message         string `json:"message,omitempty"`
	DryRun          bool   `json:"dry_run,omitempty"`
	Method          string `json:"method,omitempty"`
	URL             string `json:"url,omitempty"`
	HTTPStatus      int    `json:"http_status,omitempty"`
	RequestID       string `json:"request_id,omitempty"`
	ClientRequestID string `json:"client_request_id,omitempty"`
	Attempts        int    `json:"attempts,omitempty"`
	Bytes           int    `json:"bytes,omitempty"`
	Width           int    `json:"width,omitempty"`
	Height          int    `json:"height,omitempty"`
	Quality         int    `json:"quality,omitempty"`
	File            string `json:"file,omitempty"`
	MS              int64  `json:"ms"`
}

// runGraph implements `graphphoto put|get|delete`. Credentials come from the environment:
// GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET, or GRAPH_CERTIFICATE and
// GRAPH_PRIVATE_KEY (PEM file paths), or GRAPH_SECRET_ID (Secrets Manager); GRAPH_CLOUD picks the
// cloud, GRAPH_ENDPOINT and GRAPH_AUTHORITY override the hosts (emulators). Exit codes: 0 done,
// 1 failed or rejected, 2 usage.
func runGraph(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var options func() (imageproc.Options, error)
	var dryRun *bool
	var maxSource *int64
	method := fs.String("method", http.MethodPut, "write with PUT or PATCH (put only)")
	meta := fs.Bool("meta", false, "print the photo's metadata instead of its bytes (get only)")
	verbose := fs.Bool("v", false, "log Graph calls as JSON on stderr")
	if cmd == "put" {
		options = photoFlags(fs)
		dryRun = fs.Bool("dry-run", false, "normalise and print what would be sent, without credentials or network")
		maxSource = fs.Int64("max-source-bytes", 50<<20, "largest input file read, in bytes")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	nargs := map[string][2]int{"put": {2, 2}, "get": {1, 2}, "delete": {1, 1}}[cmd]
	if fs.NArg() < nargs[0] || fs.NArg() > nargs[1] {
		fmt.Fprintf(stderr, "graphphoto %s: wrong number of arguments\n%s", cmd, usage)
		return 2
	}
	start := time.Now()
	line := graphLine{Command: cmd, Target: fs.Arg(0)}
	out := stdout
	if cmd == "get" && (fs.Arg(1) == "" || fs.Arg(1) == "-") && !*meta {
		out = stderr // the photo itself goes to stdout
	}
	finish := func(err error) int {
		line.MS = time.Since(start).Milliseconds()
		code := 0
		if err != nil {
			code = 1
			line.Status, line.Reason, line.Message = "failed", "error", err.Error()
			var r interface {
				Reason() reason.Reason
				Transient() bool
			}
			if errors.As(err, &r) {
				line.Reason = r.Reason().String()
				if !r.Transient() {
					line.Status = "rejected"
				}
			}
			var ie *imageproc.Error
			if errors.As(err, &ie) {
				line.Status, line.Reason = "rejected", ie.Code.String()
			}
			var ge *graph.Error
			if errors.As(err, &ge) {
				line.HTTPStatus, line.RequestID, line.ClientRequestID = ge.Status, ge.RequestID, ge.ClientRequestID
			}
		} else {
			line.Status = "ok"
		}
		if encErr := json.NewEncoder(out).Encode(line); encErr != nil {
			fmt.Fprintf(stderr, "graphphoto %s: %v\n", cmd, encErr)
			return 1
		}
		return code
	}

	target, err := graph.ParseTarget(fs.Arg(0))
	if err != nil {
		return finish(err)
	}
	line.Target = target.String()
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	opts := graph.Options{
		Endpoint:   os.Getenv("GRAPH_ENDPOINT"),
		Authority:  os.Getenv("GRAPH_AUTHORITY"),
		Logger:     logger,
		Method:     *method,
		HTTPClient: httpClient(),
	}

	var jpeg []byte
	if cmd == "put" {
		photoOpts, err := options()
		if err != nil {
			fmt.Fprintf(stderr, "graphphoto put: %v\n", err)
			return 2
		}
		line.File = fs.Arg(1)
		src, err := readLimited(fs.Arg(1), *maxSource)
		if err != nil {
			var tooBig *sourceTooLargeError
			if errors.As(err, &tooBig) {
				line.Status, line.Reason, line.Message = "rejected", photo.ReasonSourceTooLarge.String(), err.Error()
				line.MS = time.Since(start).Milliseconds()
				_ = json.NewEncoder(out).Encode(line)
				return 1
			}
			return finish(err)
		}
		photo, err := imageproc.Normalise(ctx, src, photoOpts)
		if err != nil {
			return finish(err)
		}
		jpeg = photo.JPEG
		line.Width, line.Height, line.Bytes, line.Quality = photo.Width, photo.Height, photo.Bytes, photo.Quality
		if *dryRun {
			return finish(dryRunPlan(&line, target, opts, len(jpeg)))
		}
	}

	src, err := credentialsFromEnv(ctx, logger)
	if err != nil {
		return finish(err)
	}
	client, err := graph.NewClient(src, opts)
	if err != nil {
		fmt.Fprintf(stderr, "graphphoto %s: %v\n", cmd, err)
		return 2
	}
	var res graph.Result
	switch cmd {
	case "put":
		res, err = client.PutPhoto(ctx, target, jpeg)
	case "delete":
		res, err = client.DeletePhoto(ctx, target)
	case "get":
		if *meta {
			var m graph.PhotoMeta
			m, err = client.GetPhotoMeta(ctx, target)
			res = m.Result
			if err == nil {
				line.Width, line.Height, line.Message = m.Width, m.Height, fmt.Sprintf("id %s etag %s", m.ID, m.ETag)
			}
			break
		}
		var data []byte
		data, res, err = client.GetPhoto(ctx, target)
		if err == nil {
			err = writePhoto(fs.Arg(1), data, stdout)
			line.File = fs.Arg(1)
			line.Bytes = len(data)
		}
	}
	line.Method, line.URL, line.HTTPStatus, line.RequestID, line.ClientRequestID, line.Attempts =
		res.Method, res.URL, res.Status, res.RequestID, res.ClientRequestID, res.Attempts
	return finish(err)
}

// dryRunPlan fills in what a put would send, without reading credentials or touching the network.
func dryRunPlan(line *graphLine, t graph.Target, opts graph.Options, n int) error {
	if t.IsMe() {
		return &graph.TargetError{Input: t.String(), Detail: "me needs a signed-in caller; app-only calls must name the user"}
	}
	tenant := os.Getenv("GRAPH_TENANT_ID")
	if tenant == "" {
		tenant = "organizations" // only the Graph URL is shown; the authority needs no tenant here
	}
	ep, err := graph.ResolveEndpoints(graph.Credentials{TenantID: tenant, Cloud: os.Getenv("GRAPH_CLOUD")}, opts)
	if err != nil {
		return err
	}
	c, err := graph.NewClient(graph.StaticCredentials{}, opts)
	if err != nil {
		return err // a bad --method or override shows up in a dry run too
	}
	line.DryRun = true
	line.Method = c.Method()
	line.URL = ep.PhotoURL(t, false)
	line.Bytes = n
	return nil
}

// credentialsFromEnv builds the credentials source the environment describes.
func credentialsFromEnv(ctx context.Context, logger *slog.Logger) (graph.CredentialsSource, error) {
	cloud := os.Getenv("GRAPH_CLOUD")
	if id := os.Getenv("GRAPH_SECRET_ID"); id != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration for GRAPH_SECRET_ID: %w", err)
		}
		src := secrets.NewSource(secrets.NewClient(cfg), id, secrets.WithLogger(logger))
		if cloud == "" {
			return src, nil
		}
		return graph.WithCloud(src, cloud), nil
	}
	c := graph.Credentials{
		TenantID:     os.Getenv("GRAPH_TENANT_ID"),
		ClientID:     os.Getenv("GRAPH_CLIENT_ID"),
		ClientSecret: os.Getenv("GRAPH_CLIENT_SECRET"),
		Cloud:        cloud,
	}
	if p := os.Getenv("GRAPH_CERTIFICATE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, &configError{fmt.Errorf("read GRAPH_CERTIFICATE: %w", err)}
		}
		c.CertificatePEM = b
	}
	if p := os.Getenv("GRAPH_PRIVATE_KEY"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, &configError{fmt.Errorf("read GRAPH_PRIVATE_KEY: %w", err)}
		}
		c.PrivateKeyPEM = b
	}
	if err := c.Validate(); err != nil {
		return nil, &configError{fmt.Errorf("graph credentials from the environment (GRAPH_TENANT_ID, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET or GRAPH_CERTIFICATE+GRAPH_PRIVATE_KEY, or GRAPH_SECRET_ID): %w", err)}
	}
	return graph.StaticCredentials(c), nil
}

// configError is credentials the environment describes wrongly: permanent, credentials_invalid.
type configError struct{ err error }

func (e *configError) Error() string         { return e.err.Error() }
func (e *configError) Unwrap() error         { return e.err }
func (e *configError) Reason() reason.Reason { return graph.ReasonCredentialsInvalid }
func (e *configError) Transient() bool       { return false }

// httpClient trusts the system roots plus SSL_CERT_FILE, read on every run: Go reads that
// variable only once per process, and an emulator's CA may be written after start.
func httpClient() *http.Client {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if p := os.Getenv("SSL_CERT_FILE"); p != "" {
		if pemBytes, err := os.ReadFile(p); err == nil {
			pool.AppendCertsFromPEM(pemBytes)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

func writePhoto(file string, data []byte, stdout io.Writer) error {
	if file == "" || file == "-" {
		if _, err := stdout.Write(data); err != nil {
			return fmt.Errorf("write photo to stdout: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("write photo: %w", err)
	}
	return nil
}
