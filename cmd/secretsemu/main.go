// Command secretsemu serves the Secrets Manager emulator (secretstest) on a local port for the
// local stack and end-to-end tests.
//
//	secretsemu -listen 127.0.0.1:4584 -seed secrets.json
//
// The seed file is a JSON object mapping secret names to SecretString values. On start it
// prints one JSON line to stdout, {"url":"http://127.0.0.1:4584","region":"us-east-1"}, to
// use as AWS_ENDPOINT_URL_SECRETS_MANAGER; request logs go to stderr as JSON. It stops on
// SIGINT or SIGTERM.
//
// Signatures are checked for shape and scope; with -access-key and the secret key in
// SECRETSEMU_SECRET_ACCESS_KEY (not a flag, so it stays out of process listings) they are
// verified too.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "secretsemu:", err)
		os.Exit(1)
	}
}

// run parses the flags, seeds the emulator and serves it until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("secretsemu", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listen := flags.String("listen", "127.0.0.1:0", "address to listen on (host:port; port 0 picks a free one)")
	seed := flags.String("seed", "", "JSON file mapping secret names to SecretString values")
	region := flags.String("region", "us-east-1", "region requests must be signed for")
	account := flags.String("account", "123456789012", "account id in secret ARNs")
	accessKey := flags.String("access-key", "", "verify signatures made with this access key id (secret key from SECRETSEMU_SECRET_ACCESS_KEY)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}

	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	opts := []secretstest.Option{secretstest.WithRegion(*region), secretstest.WithAccount(*account), secretstest.WithLogger(logger)}
	if *accessKey != "" {
		secretKey := getenv("SECRETSEMU_SECRET_ACCESS_KEY")
		if secretKey == "" {
			return errors.New("-access-key needs SECRETSEMU_SECRET_ACCESS_KEY in the environment")
		}
		opts = append(opts, secretstest.WithCredentials(*accessKey, secretKey))
	}
	emu := secretstest.NewEmulator(opts...)
	if *seed != "" {
		data, err := os.ReadFile(*seed)
		if err != nil {
			return fmt.Errorf("read seed: %w", err)
		}
		if err := emu.Seed(data); err != nil {
			return fmt.Errorf("seed %s: %w", *seed, err)
		}
	}

	// Whoever started the emulator waits for the URL line; without it there is no point serving.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var announceErr error
	err := secretstest.ListenAndServe(ctx, *listen, emu, func(url string) {
		if announceErr = json.NewEncoder(stdout).Encode(map[string]string{"url": url, "region": *region}); announceErr != nil {
			cancel()
		}
	})
	if err != nil {
		return err
	}
	if announceErr != nil {
		return fmt.Errorf("print the URL: %w", announceErr)
	}
	logger.Info("secretsemu stopped")
	return nil
}
