// Command devstack runs the whole system on this machine with no AWS account: the real S3 server
// and function binaries, the Lambda Runtime Interface Emulator, and the project's Graph and
// Secrets Manager emulators, all on loopback (internal/devstack). With --demo it also uploads
// sample photos through both paths and prints what became of each.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/graphphoto/graphphoto/internal/devstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv("DEMO_EXIT") == "1"))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, exitAfterDemo bool) int {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "out/devstack", "data folder (S3 objects, dead letters, CA, built functions); kept between runs")
	apiAddr := fs.String("api-addr", "127.0.0.1:8480", "address of the API front door")
	plainHTTP := fs.Bool("plain-http", false, "serve the API over http:// rather than https:// (Graph SDKs then send no token)")
	redrive := fs.Bool("redrive", false, "once the stack is up, move the dead letters in DIR/dlq back onto the queue (as aws sqs start-message-move-task)")
	demo := fs.Bool("demo", false, "upload the sample photos through S3 and the API and print the outcomes")
	verbose := fs.Bool("v", false, "copy the functions' log lines to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var echo io.Writer
	if *verbose {
		echo = stderr
	}
	fmt.Fprintln(stdout, "devstack: building the functions and starting the stack…")
	st, err := devstack.Start(ctx, devstack.Options{Dir: *dir, APIAddr: *apiAddr, PlainHTTP: *plainHTTP, Log: log, Echo: echo})
	if err != nil {
		fmt.Fprintln(stderr, "devstack:", err)
		return 1
	}
	defer st.Close()
	if *redrive {
		moved, err := st.Queue.Redrive(ctx)
		fmt.Fprintf(stdout, "devstack: moved %d dead letters from %s back onto the queue\n", moved, rel(st.DLQDir))
		if err != nil {
			// What could move has moved; what is left (a file that is no dead letter) is named.
			fmt.Fprintln(stderr, "devstack: redrive:", err)
		}
	}
	if err := printAccess(stdout, st); err != nil {
		fmt.Fprintln(stderr, "devstack:", err)
		return 1
	}
	code := 0
	if *demo {
		rows, err := st.Demo(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "devstack:", err)
			return 1
		}
		fmt.Fprintln(stdout)
		if err := devstack.PrintTable(stdout, rows); err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
		}
		if exitAfterDemo {
			return code
		}
	}
	fmt.Fprintf(stdout, "\nGallery: %s\nRunning; Ctrl-C stops it.\n", st.Graph.GalleryURL())
	<-ctx.Done()
	fmt.Fprintln(stdout, "devstack: stopping")
	return code
}

func printAccess(w io.Writer, st *devstack.Stack) error {
	user, err := st.UserToken(devstack.AliceID, "alice@contoso.com")
	if err != nil {
		return err
	}
	admin, err := st.AdminToken()
	if err != nil {
		return err
	}
	app, err := st.AppToken("Photos.ReadWrite.All")
	if err != nil {
		return err
	}
	letters, _ := st.Queue.DeadLetters() // a file that is no dead letter is not counted
	ca := rel(st.CAFile)
	api, curl := "HTTPS API", "curl --cacert "+ca
	if strings.HasPrefix(st.APIURL, "http://") {
		api, curl = "HTTP API", "curl"
	}
	_, err = fmt.Fprintf(w, `
Graph emulator   %s  (gallery %s)
Secrets Manager  %s  (secret %s)
S3 (versitygw)   %s  bucket %s
%-16s %s  (a Graph client's base URL: %s/v1.0)
CA               %s  (a new one each run; it signed the API's and Graph's certificates, for 127.0.0.1 and localhost)
Dead letters     %s  (%d waiting; --redrive moves them back onto the queue)

Trust the CA (each tool reads its own variable):
  curl             curl --cacert %s …
  Node             NODE_EXTRA_CA_CERTS=%s  (added to Node's roots; the Graph JS SDK)
  Python requests  REQUESTS_CA_BUNDLE=%s  (replaces certifi's roots)
  Go, OpenSSL      SSL_CERT_FILE=%s  (replaces the system roots)

Upload through S3 (AWS CLI):
  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=us-east-1 \
  aws --endpoint-url %s s3 cp photo.jpg s3://%s/ --metadata graph-target=users/alice@contoso.com

Upload through the API (alice's token, with the %s scope; carol's admin token may write
anyone's photo; the app's own token has the admin role but no user, so no me):
  %s -T photo.heic -H "Authorization: Bearer $USER_TOKEN" -H 'Content-Type: image/jpeg' '%s/v1.0/me/photo/$value'
  USER_TOKEN=%s
  ADMIN_TOKEN=%s
  APP_TOKEN=%s
`, st.Graph.GraphURL(), st.Graph.GalleryURL(), st.SecretsURL, devstack.SecretName,
		st.S3.Endpoint, devstack.Bucket, api, st.APIURL, st.APIURL, ca, rel(st.DLQDir), len(letters),
		ca, ca, ca, ca,
		st.S3.AccessKey, st.S3.SecretKey, st.S3.Endpoint, devstack.Bucket, devstack.UserScope, curl, st.APIURL, user, admin, app)
	return err
}

// rel shortens a path under the working directory (out/devstack/ca.pem) for the printout.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	r, err := filepath.Rel(wd, path)
	if err != nil || strings.HasPrefix(r, "..") {
		return path
	}
	return r
}
