package secretstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// Server is an Emulator listening on a loopback port, for tests.
type Server struct {
	*Emulator
	// URL is the endpoint, http://127.0.0.1:PORT, to use as BaseEndpoint.
	URL string
	srv *httptest.Server
}

// New starts an emulator on a loopback port. Close it when done.
func New(opts ...Option) *Server {
	e := NewEmulator(opts...)
	srv := httptest.NewServer(e)
	return &Server{Emulator: e, URL: srv.URL, srv: srv}
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// ListenAndServe serves e on addr (host:port; port 0 picks one) until ctx is done, then shuts
// down gracefully. started, when not nil, is called with the endpoint URL once the port is
// open, before any request is served.
func ListenAndServe(ctx context.Context, addr string, e *Emulator, started func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("secretstest: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	if started != nil {
		started("http://" + ln.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("secretstest: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("secretstest: shut down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("secretstest: serve: %w", err)
	}
	return nil
}
