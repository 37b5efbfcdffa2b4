package graphtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"
)

// MaxPhotoBytes is Graph's limit for a photo write: 4 MB, the cap on a REST request's size.
const MaxPhotoBytes = 4 * 1024 * 1024

// MinPhotoSide is the smallest width and height the emulator accepts; Graph's smallest served
// size is 48x48 and it refused a 23x23 upload with ValidationWidthTooSmall.
const MinPhotoSide = 48

// Options configure an emulator.
type Options struct {
	Tenants []Tenant
	// GraphResource is the resource (audience) Graph accepts tokens for; default
	// https://graph.microsoft.com. Tokens are also accepted for the emulator's own URL.
	GraphResource string
	// TokenLifetime is the expires_in of issued tokens; default 3599 s, as Entra answers.
	TokenLifetime time.Duration
	// Now is the emulator's clock (token expiry, assertion times, photo timestamps); default time.Now.
	Now func() time.Time
	// FaultSeed seeds the random source of probabilistic faults; 0 picks 1.
	FaultSeed uint64
	// Logger receives one line per request; default discards.
	Logger *slog.Logger
	// Hosts are extra DNS names for the generated certificate (127.0.0.1, ::1 and localhost are
	// always included).
	Hosts []string
}

// Server is a running emulator of Microsoft Graph photo endpoints and the Entra ID token endpoint.
type Server struct {
	// URL is the base URL (https://127.0.0.1:port) of both Graph (URL + "/v1.0") and the authority
	// (URL + "/{tenant}").
	URL string
	// CAPEM is the PEM of the CA that signed the server certificate.
	CAPEM []byte

	emu      *emulator
	ts       *httptest.Server // in tests
	srv      *http.Server     // standalone
	listener net.Listener
	pool     *x509.CertPool
	ca       *certAuthority
}

// New starts an emulator on a loopback port with a fresh CA; close it with Close.
// It panics when the options are invalid (bad seed data is a test bug), like httptest.NewServer.
func New(opts Options) *Server {
	s, err := start(opts, "127.0.0.1:0", true)
	if err != nil {
		panic(fmt.Sprintf("graphtest: %v", err))
	}
	return s
}

// Listen starts a standalone emulator on addr (e.g. "127.0.0.1:8443") for another process to use;
// write CAPEM to a file (WriteCA) and point that process's SSL_CERT_FILE at it.
func Listen(addr string, opts Options) (*Server, error) {
	return start(opts, addr, false)
}

func start(opts Options, addr string, test bool) (*Server, error) {
	ca, err := newCA()
	if err != nil {
		return nil, err
	}
	leaf, err := ca.issue("graphtest emulator", opts.Hosts)
	if err != nil {
		return nil, err
	}
	emu, err := newEmulator(opts)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	s := &Server{CAPEM: ca.pem, emu: emu, pool: pool, ca: ca}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if test {
		s.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: emu}, TLS: tlsConf}
		s.ts.StartTLS()
		s.URL = s.ts.URL
	} else {
		s.listener = tls.NewListener(ln, tlsConf)
		s.srv = &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
		s.URL = "https://" + ln.Addr().String()
		go func() { _ = s.srv.Serve(s.listener) }()
	}
	emu.baseURL = s.URL
	return s, nil
}

// Close stops the emulator.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
	if s.srv != nil {
		_ = s.srv.Close()
	}
}

// Shutdown stops a standalone emulator gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv != nil {
		return s.srv.Shutdown(ctx)
	}
	s.Close()
	return nil
}

// Client returns an HTTP client that trusts the emulator's CA.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

// CertPool returns a pool holding the emulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// WriteCA writes the CA certificate as PEM, for SSL_CERT_FILE.
func (s *Server) WriteCA(path string) error {
	if err := os.WriteFile(path, s.CAPEM, 0o644); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	return nil
}

// GraphURL is the Graph endpoint to configure a client with (without the version).
func (s *Server) GraphURL() string { return s.URL }

// AuthorityURL is the authority host to configure a client with (without the tenant).
func (s *Server) AuthorityURL() string { return s.URL }

// GalleryURL is the HTML page that shows the photos the emulator holds.
func (s *Server) GalleryURL() string { return s.URL + "/gallery" }

type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// IssueCertificate signs a server certificate with the emulator's CA for loopback (127.0.0.1,
// ::1, localhost) and hosts, so that another local server is trusted by every client that
// already trusts the emulator (the CA file behind SSL_CERT_FILE): one CA for the whole local
// stack rather than one per server.
func (s *Server) IssueCertificate(name string, hosts ...string) (tls.Certificate, error) {
	return s.ca.issue(name, hosts)
}

// newCA makes the CA, ECDSA P-256 (fast to generate, accepted by every TLS stack the project
// uses: Go, OpenSSL, Node, Chromium).
func newCA() (*certAuthority, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "graphtest emulator CA", Organization: []string{"graphphoto"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &certAuthority{cert: caCert, key: caKey, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}, nil
}

// issue makes a server certificate for loopback and hosts, signed by the CA; the chain sent
// carries the CA too, as the emulator's own always did.
func (ca *certAuthority) issue(name string, hosts []string) (tls.Certificate, error) {
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	now := time.Now()
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     ca.cert.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     append([]string{"localhost"}, hosts...),
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca.cert, &leafKey.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{leafDER, ca.cert.Raw}, PrivateKey: leafKey}, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// emulator is the http.Handler holding all state.
type emulator struct {
	baseURL       string
	graphResource string
	tokenLifetime time.Duration
	now           func() time.Time
	log           *slog.Logger
	dirs          []*directory

	mu       sync.Mutex
	tokens   map[string]*token
	photos   map[string]*photo // by photo key (tenant id + canonical object path)
	requests []Entry
	faults   []*faultRule
	chance   []*chanceFault
	rng      *mrand.Rand
	seq      int    // request sequence, for fault rules
	writes   uint32 // photos stored, numbering their media ETags
	etagKey  uint32 // scrambles the numbers into opaque ETags (nextETag)
}

type photo struct {
	key         string
	tenant      string
	target      string // canonical object path, e.g. users/{id}
	data        []byte
	width       int
	height      int
	contentType string
	etag        string
	updated     time.Time
}

func newEmulator(opts Options) (*emulator, error) {
	e := &emulator{
		graphResource: opts.GraphResource,
		tokenLifetime: opts.TokenLifetime,
		now:           opts.Now,
		log:           opts.Logger,
		tokens:        map[string]*token{},
		photos:        map[string]*photo{},
	}
	if e.graphResource == "" {
		e.graphResource = "https://graph.microsoft.com"
	}
	e.graphResource = strings.TrimSuffix(e.graphResource, "/")
	if e.tokenLifetime == 0 {
		e.tokenLifetime = 3599 * time.Second
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	seed := opts.FaultSeed
	if seed == 0 {
		seed = 1
	}
	e.rng = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	e.etagKey = mrand.Uint32()
	seen := map[string]bool{}
	for _, t := range opts.Tenants {
		d, err := newDirectory(t)
		if err != nil {
			return nil, err
		}
		if seen[strings.ToLower(t.ID)] {
			return nil, fmt.Errorf("tenant %s listed twice", t.ID)
		}
		seen[strings.ToLower(t.ID)] = true
		e.dirs = append(e.dirs, d)
	}
	if len(e.dirs) == 0 {
		return nil, errors.New("no tenants")
	}
	return e, nil
}

func (e *emulator) directory(tenant string) *directory {
	for _, d := range e.dirs {
		if d.matches(tenant) {
			return d
		}
	}
	return nil
}
