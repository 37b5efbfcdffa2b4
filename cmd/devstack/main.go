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
	apiAddr := fs.String("api-addr", "127.0.0.1:8480", "address of the HTTP API front door")
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
	st, err := devstack.Start(ctx, devstack.Options{Dir: *dir, APIAddr: *apiAddr, Log: log, Echo: echo})
	if err != nil {
		fmt.Fprintln(stderr, "devstack:", err)
		return 1
	}
	defer st.Close()
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
	_, err = fmt.Fprintf(w, `
Graph emulator   %s  (gallery %s, CA %s)
Secrets Manager  %s  (secret %s)
S3 (versitygw)   %s  bucket %s
HTTP API         %s
Dead letters     %s

Upload through S3 (AWS CLI):
  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=us-east-1 \
  aws --endpoint-url %s s3 cp photo.jpg s3://%s/ --metadata graph-target=users/alice@contoso.com

Upload through the API (alice's token, with the %s scope; carol's admin token may write
anyone's photo; the app's own token has the admin role but no user, so no me):
  curl -T photo.heic -H "Authorization: Bearer $USER_TOKEN" '%s/v1.0/me/photo/$value'
  USER_TOKEN=%s
  ADMIN_TOKEN=%s
  APP_TOKEN=%s
`, st.Graph.GraphURL(), st.Graph.GalleryURL(), st.CAFile, st.SecretsURL, devstack.SecretName,
		st.S3.Endpoint, devstack.Bucket, st.APIURL, st.DLQDir,
		st.S3.AccessKey, st.S3.SecretKey, st.S3.Endpoint, devstack.Bucket, devstack.UserScope, st.APIURL, user, admin, app)
	return err
}
