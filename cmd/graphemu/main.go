// Command graphemu runs the Microsoft Graph and Entra ID emulator of internal/graph/graphtest as a
// standalone HTTPS server for the local stack. It prints one JSON line with its URLs when it is
// ready and stops on SIGINT or SIGTERM.
//
//	graphemu --seed seed.json --ca-out /tmp/graphemu-ca.pem [--listen 127.0.0.1:8443]
//
// Point clients at it with GRAPH_ENDPOINT and GRAPH_AUTHORITY set to the printed URL and
// SSL_CERT_FILE set to the CA file.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// ready is the line printed once the emulator listens.
type ready struct {
	Graph     string   `json:"graph"`
	Authority string   `json:"authority"`
	Gallery   string   `json:"gallery"`
	CA        string   `json:"ca"`
	Tenants   []string `json:"tenants"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graphemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8443", "address to listen on (loopback)")
	seedPath := fs.String("seed", "", "seed file: tenants, apps (secrets, certificateFiles), users, groups, contacts (required)")
	caOut := fs.String("ca-out", filepath.Join(os.TempDir(), "graphemu-ca.pem"), "where to write the CA certificate (PEM) for SSL_CERT_FILE")
	faultSeed := fs.Uint64("fault-seed", 1, "seed of the random fault source")
	verbose := fs.Bool("v", false, "log every request as JSON on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *seedPath == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "graphemu: --seed FILE is required and no arguments are taken")
		return 2
	}
	seed, err := graphtest.LoadSeed(*seedPath)
	if err != nil {
		fmt.Fprintf(stderr, "graphemu: %v\n", err)
		return 2
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	srv, err := graphtest.Listen(*listen, graphtest.Options{Tenants: seed.Tenants, GraphResource: seed.GraphResource, FaultSeed: *faultSeed, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "graphemu: %v\n", err)
		return 1
	}
	defer srv.Close()
	if err := srv.WriteCA(*caOut); err != nil {
		fmt.Fprintf(stderr, "graphemu: %v\n", err)
		return 1
	}
	line := ready{Graph: srv.GraphURL(), Authority: srv.AuthorityURL(), Gallery: srv.GalleryURL(), CA: *caOut}
	for _, t := range seed.Tenants {
		line.Tenants = append(line.Tenants, t.ID)
	}
	if err := json.NewEncoder(stdout).Encode(line); err != nil {
		fmt.Fprintf(stderr, "graphemu: %v\n", err)
		return 1
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintf(stderr, "graphemu: shutdown: %v\n", err)
		return 1
	}
	return 0
}
