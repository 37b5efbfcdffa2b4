// Package devstack runs the whole system on one machine with no AWS account
// (docs/architecture.md §8): the real S3 server (versitygw) whose notifications reach the onupload
// function the way S3 → SQS → Lambda would (with a dead-letter folder and its redrive), the real
// function binaries under the AWS Lambda Runtime Interface Emulator, an HTTPS front door for the
// API function, and the project's emulators of Microsoft Graph and Secrets Manager. Everything
// listens on loopback; one CA signs the Graph emulator's and the front door's certificates.
package devstack

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/rietest"
	"github.com/graphphoto/graphphoto/internal/s3notify"
	"github.com/graphphoto/graphphoto/internal/s3test"
	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
	"github.com/graphphoto/graphphoto/internal/tool"
)

// The demo directory: one tenant with a few people, a Microsoft 365 group and a contact.
const (
	TenantID   = "8f0e5f4c-2c4a-4b8e-9d3a-6a1c1d2b3e4f"
	ClientID   = "4d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
	SecretName = "graphphoto/devstack"
	Bucket     = "photos"
	// StateBucket holds the photo records (internal/photostate); its events reach no function.
	StateBucket = "photos-state"
	AliceID     = "a11ce000-0000-4000-8000-000000000001"
	BobID       = "b0b00000-0000-4000-8000-000000000002"
	CarolID     = "ca201000-0000-4000-8000-000000000003"
	GroupID     = "9a0b0000-0000-4000-8000-0000000000a1"
	ContactID   = "AAMkADevstackContact1="
	AppID       = "a9900000-0000-4000-8000-0000000000a9" // a client app's service principal (AppToken)
)

// Options configure a stack.
type Options struct {
	Dir     string // data folder: S3 data, dead letters, CA, bootstraps; kept between runs
	APIAddr string // front door address; default 127.0.0.1:0
	// PlainHTTP serves the API front door over http:// instead of https://. Graph clients attach
	// their bearer token only to https:// hosts, so HTTPS (with the stack's CA) is the default.
	PlainHTTP bool
	Log       *slog.Logger // the stack's own log
	Echo      io.Writer    // where the functions' log lines are copied (nil: kept in memory only)
	// MaxReceives and Visibility are the queue's redrive policy: deliveries before a message
	// goes to the dead-letter folder, and the wait before a failed one is retried.
	MaxReceives int
	Visibility  time.Duration
	// Concurrency is how many onupload instances the queue drives at once (the event source
	// mapping's MaximumConcurrency); default 1. BatchSize is the most messages per invocation
	// (the mapping's BatchSize); default 10.
	Concurrency int
	BatchSize   int
	// Users are added to the demo directory (e.g. thousands of people for a backfill).
	Users []graphtest.User
	// GraphProxy, when set, is put between the functions and Graph (a tenant-wide throttle,
	// say): it gets the emulator and returns the base URL the functions use for Graph and the
	// PEM of the CA that signed the proxy's certificate. The caller stops the proxy.
	GraphProxy func(g *graphtest.Server) (url string, caPEM []byte, err error)
	// Env is added to both functions' environment (TARGET_KEY_PREFIX, say).
	Env map[string]string
	// Versioning lets the S3 server's buckets have versioning enabled.
	Versioning bool
	// Image, when set, runs both functions inside the Lambda image's root filesystem instead
	// of on this machine (see Image).
	Image *Image
	// S3AccessLog has the S3 server log every request it answers, so a proof can count the
	// functions' S3 requests at the server (S3.Requests).
	S3AccessLog bool
}

// Image is a mounted root filesystem of the Lambda image (internal/lambdaimage) with the
// bootstraps at their image paths: the functions run chrooted into it under an emulator copied
// into it. Paths other than Root are as seen from inside it.
type Image struct {
	Root     string // the mounted root, as this machine sees it
	OnUpload string // /var/task/onupload
	API      string // /var/task/api
	Emulator string // aws-lambda-rie inside Root (under /tmp, its only writable folder)
	Tmp      string // a writable folder inside Root, for the CA file the functions trust
}

// Stack is a running local system.
type Stack struct {
	Graph     *graphtest.Server
	Secrets   *secretstest.Emulator
	S3        *s3test.Server
	Queue     *Queue
	Tokens    *Issuer
	OnUpload  *rietest.Emulator   // the first onupload instance
	Instances []*rietest.Emulator // every onupload instance (Options.Concurrency)
	API       *rietest.Emulator

	SecretsURL string
	// APIURL is the front door's base URL: https:// with a certificate from the stack's CA (for
	// 127.0.0.1, ::1 and localhost), or http:// with Options.PlainHTTP.
	APIURL string
	// CAFile is the PEM of the stack's CA, which signed the Graph emulator's and the front
	// door's certificates: Dir/ca.pem, rewritten at each start (a fresh CA per run).
	CAFile string
	DLQDir string

	apiClient *http.Client
	closers   []func() error
	cancel    context.CancelFunc
}

// Start brings the stack up; Close stops it.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if opts.APIAddr == "" {
		opts.APIAddr = "127.0.0.1:0"
	}
	if opts.MaxReceives == 0 {
		opts.MaxReceives = 3
	}
	if opts.Visibility == 0 {
		opts.Visibility = 2 * time.Second
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 1
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 10
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{dir, filepath.Join(dir, "s3"), filepath.Join(dir, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st := &Stack{cancel: cancel, DLQDir: filepath.Join(dir, "dlq"), CAFile: filepath.Join(dir, "ca.pem")}
	started := false
	defer func() {
		// Whatever started before a failure is stopped; the caller gets no half-built stack.
		if !started {
			st.Close()
		}
	}()

	// The front door's address is the one a user chose: take it first, so a busy port fails now.
	apiListener, err := net.Listen("tcp", opts.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("devstack: api front door: %w", err)
	}
	st.closers = append(st.closers, func() error { apiListener.Close(); return nil })

	// Build the real function binaries next: it is the slow part. An image carries its own.
	var onupload, apiBin string
	if opts.Image != nil {
		onupload, apiBin = opts.Image.OnUpload, opts.Image.API
	} else {
		if onupload, err = rietest.Build(ctx, "github.com/graphphoto/graphphoto/functions/onupload", filepath.Join(dir, "bin", "onupload")); err != nil {
			return nil, fmt.Errorf("devstack: build onupload: %w", err)
		}
		if apiBin, err = rietest.Build(ctx, "github.com/graphphoto/graphphoto/functions/api", filepath.Join(dir, "bin", "api")); err != nil {
			return nil, fmt.Errorf("devstack: build api: %w", err)
		}
	}

	// Microsoft Graph and Entra ID.
	secret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	st.Graph, err = graphtest.Listen("127.0.0.1:0", graphtest.Options{Tenants: []graphtest.Tenant{directory(secret, opts.Users)}})
	if err != nil {
		return nil, fmt.Errorf("devstack: graph emulator: %w", err)
	}
	st.closers = append(st.closers, func() error { st.Graph.Close(); return nil })
	st.apiClient = st.Graph.Client()
	st.closers = append(st.closers, func() error { st.apiClient.CloseIdleConnections(); return nil })
	if err := st.Graph.WriteCA(st.CAFile); err != nil {
		return nil, err
	}
	graphURL := st.Graph.GraphURL()
	if opts.GraphProxy != nil {
		var caPEM []byte
		if graphURL, caPEM, err = opts.GraphProxy(st.Graph); err != nil {
			return nil, fmt.Errorf("devstack: graph proxy: %w", err)
		}
		if err := os.WriteFile(st.CAFile, append(append([]byte(nil), st.Graph.CAPEM...), caPEM...), 0o644); err != nil {
			return nil, err
		}
	}

	// Secrets Manager, holding the app credentials the Graph emulator accepts.
	awsSecret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	accessKey, secretKey := "AKIADEVSTACK"+strings.ToUpper(awsSecret[:8]), awsSecret[8:48]
	st.Secrets = secretstest.NewEmulator(secretstest.WithCredentials(accessKey, secretKey))
	creds, _ := json.Marshal(map[string]string{"tenantId": TenantID, "clientId": ClientID, "clientSecret": secret})
	if _, err := st.Secrets.Put(SecretName, string(creds)); err != nil {
		return nil, err
	}
	st.SecretsURL, err = serve(runCtx, "127.0.0.1:0", st.Secrets, &st.closers)
	if err != nil {
		return nil, fmt.Errorf("devstack: secrets emulator: %w", err)
	}

	// The onupload function, and the queue in front of it.
	fnEnv := map[string]string{
		"GRAPH_SECRET_ID": SecretName, "GRAPH_ENDPOINT": graphURL, "GRAPH_AUTHORITY": st.Graph.AuthorityURL(),
		"SSL_CERT_FILE": st.CAFile, "AWS_ENDPOINT_URL_SECRETS_MANAGER": st.SecretsURL,
		"AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "S3_FORCE_PATH_STYLE": "true",
		"STATE_BUCKET": StateBucket, "LOG_LEVEL": "info",
	}
	fnOpts := rietest.Options{Echo: opts.Echo}
	if im := opts.Image; im != nil {
		// The image ships libvips with the HEIF module only, and the CA must be inside the root.
		inside := filepath.Join(im.Tmp, "graphphoto-ca.pem")
		pem, err := os.ReadFile(st.CAFile)
		if err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		if err := os.WriteFile(filepath.Join(im.Root, inside), pem, 0o644); err != nil {
			return nil, fmt.Errorf("devstack: CA file in the image: %w", err)
		}
		fnEnv["SSL_CERT_FILE"] = inside
		fnOpts.Root, fnOpts.Binary = im.Root, im.Emulator
	} else {
		// Only the HEIF module, as in the Lambda image: faster start-up, and no ImageMagick or
		// poppler in the function's process at all.
		vipsHome, err := tool.VipsHome(filepath.Join(dir, "vips"), "heif")
		if err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		fnEnv["VIPSHOME"] = vipsHome
	}
	for k, v := range opts.Env {
		fnEnv[k] = v
	}
	// The webhook must listen before versitygw starts: it posts a test event at start-up.
	var queue *Queue
	hook := s3notify.NewHandler(func(ctx context.Context, ev events.S3Event) error { return queue.Send(ctx, ev) }, s3notify.Options{Logger: opts.Log, Buckets: []string{Bucket}})
	hookURL, err := serve(runCtx, "127.0.0.1:0", hook, &st.closers)
	if err != nil {
		return nil, fmt.Errorf("devstack: webhook: %w", err)
	}
	st.S3, err = s3test.Start(ctx, s3test.Options{Dir: filepath.Join(dir, "s3"), AccessKey: accessKey, SecretKey: secretKey,
		EventWebhookURL: hookURL, Versioning: opts.Versioning, AccessLog: opts.S3AccessLog})
	if err != nil {
		return nil, fmt.Errorf("devstack: s3 server: %w", err)
	}
	st.closers = append(st.closers, st.S3.Close)
	for _, b := range []string{Bucket, StateBucket} {
		if err := st.S3.CreateBucket(ctx, b); err != nil && !alreadyOwned(err) {
			return nil, fmt.Errorf("devstack: create bucket: %w", err)
		}
	}
	fnEnv["AWS_ENDPOINT_URL_S3"] = st.S3.Endpoint

	var invokers []Invoker
	for range opts.Concurrency {
		o := fnOpts
		o.FunctionName, o.Timeout, o.MemoryMB, o.Env = "onupload", 60*time.Second, 2048, fnEnv
		fn, err := rietest.Start(ctx, onupload, o)
		if err != nil {
			return nil, fmt.Errorf("devstack: onupload under the RIE: %w", err)
		}
		st.closers = append(st.closers, fn.Close)
		st.Instances = append(st.Instances, fn)
		invokers = append(invokers, fn)
	}
	st.OnUpload = st.Instances[0]
	queue = NewQueuePool(invokers, opts.BatchSize, st.DLQDir, opts.MaxReceives, opts.Visibility, opts.Log)
	st.Queue = queue
	go queue.Run(runCtx)

	// The API function behind its front door, which names itself in every event as API
	// Gateway does: the function answers only that API.
	apiEnv := map[string]string{"UPLOAD_BUCKET": Bucket, "API_GATEWAY_ID": FrontAPIID}
	for k, v := range fnEnv {
		apiEnv[k] = v
	}
	o := fnOpts
	o.FunctionName, o.Timeout, o.MemoryMB, o.Env = "api", 30*time.Second, 2048, apiEnv
	st.API, err = rietest.Start(ctx, apiBin, o)
	if err != nil {
		return nil, fmt.Errorf("devstack: api under the RIE: %w", err)
	}
	st.closers = append(st.closers, st.API.Close)
	st.Tokens, err = NewIssuer("https://devstack.graphphoto.local/" + TenantID + "/v2.0")
	if err != nil {
		return nil, err
	}
	front := NewFront(st.API, st.Tokens, opts.Log)
	if opts.PlainHTTP {
		st.APIURL = serveOn(runCtx, apiListener, front, &st.closers)
	} else {
		cert, err := st.Graph.IssueCertificate("devstack API front door")
		if err != nil {
			return nil, fmt.Errorf("devstack: api front door: %w", err)
		}
		st.APIURL = serveTLSOn(runCtx, apiListener, front, cert, &st.closers)
	}
	started = true
	return st, nil
}

// APIClient is an HTTP client that trusts the stack's CA, for the front door and the Graph
// emulator alike; one per stack, so that its connections are reused.
func (st *Stack) APIClient() *http.Client {
	return st.apiClient
}

// UserToken is a development bearer token for a person signed in through an app that requests
// the write scope (no app roles): they may read and write their own photo.
func (st *Stack) UserToken(oid, upn string) (string, error) {
	return st.Tokens.Issue(oid, upn, nil, []string{UserScope}, 12*time.Hour)
}

// AdminToken is a development bearer token for a person (carol) holding the admin app role,
// signed in with the write scope.
func (st *Stack) AdminToken() (string, error) {
	return st.Tokens.Issue(CarolID, "carol@contoso.com", []string{"Photos.ReadWrite.All"}, []string{UserScope}, 12*time.Hour)
}

// AppToken is a development bearer token an application gets for itself (client credentials):
// no user, no scp, and the given app roles.
func (st *Stack) AppToken(roles ...string) (string, error) {
	return st.Tokens.Issue(AppID, "", roles, nil, 12*time.Hour)
}

// Close stops everything, last started first.
func (st *Stack) Close() error {
	st.cancel()
	var errs []error
	for i := len(st.closers) - 1; i >= 0; i-- {
		if err := st.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	st.closers = nil
	return errors.Join(errs...)
}

func directory(secret string, extra []graphtest.User) graphtest.Tenant {
	return graphtest.Tenant{
		ID:      TenantID,
		Domains: []string{"contoso.com", "contoso.onmicrosoft.com"},
		Apps:    []graphtest.App{{ClientID: ClientID, Secrets: []string{secret}}},
		Users: append([]graphtest.User{
			{ID: AliceID, UPN: "alice@contoso.com", Contacts: []graphtest.Contact{{ID: ContactID}}},
			{ID: BobID, UPN: "bob@contoso.com"},
			{ID: CarolID, UPN: "carol@contoso.com"},
		}, extra...),
		Groups: []graphtest.Group{{ID: GroupID, Unified: true}},
	}
}

// serve runs h on addr until the stack closes and returns its http:// URL.
func serve(ctx context.Context, addr string, h http.Handler, closers *[]func() error) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	return serveOn(ctx, ln, h, closers), nil
}

// serveOn runs h on ln until the stack closes and returns its http:// URL.
func serveOn(ctx context.Context, ln net.Listener, h http.Handler, closers *[]func() error) string {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	*closers = append(*closers, func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return "http://" + ln.Addr().String()
}

// serveTLSOn runs h on ln over TLS with cert until the stack closes and returns its https://
// URL. HTTP/2 is offered as API Gateway does.
func serveTLSOn(ctx context.Context, ln net.Listener, h http.Handler, cert tls.Certificate, closers *[]func() error) string {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go srv.ServeTLS(ln, "", "")
	*closers = append(*closers, func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return "https://" + ln.Addr().String()
}

func randomSecret() (string, error) {
	return newRequestID() + newRequestID(), nil
}

// alreadyOwned: the data folder is kept between runs, so the bucket may exist already.
func alreadyOwned(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists")
}
