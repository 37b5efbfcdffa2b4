package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
)

// TestNewClientRefusesRedirects: a Secrets Manager endpoint that answers with a redirect gets
// a permanent redirect_refused, and the redirect's target sees nothing: neither the signed
// call nor a chance to answer with credentials of its choosing. The SDK's default client
// follows 307 and 308 (it is given here as the SDK builds it, and as a plain net/http client).
func TestNewClientRefusesRedirects(t *testing.T) {
	// The target answers as Secrets Manager would, with credentials that are not the app's.
	target := secretstest.New()
	defer target.Close()
	if _, err := target.Put("graph/app", secretJSONOf(t, map[string]any{"tenantId": testTenant, "clientId": testClient, "clientSecret": "chosen-by-the-redirect-target"})); err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{307, 308, 301, 302} {
		for _, plain := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d plain=%v", status, plain), func(t *testing.T) {
				var hits atomic.Int32
				redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					w.Header().Set("Location", target.URL+"/?token=from-the-server")
					w.WriteHeader(status)
				}))
				defer redirector.Close()
				cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(emuAccessKey, emuSecretKey, "")}
				if plain {
					cfg.HTTPClient = &http.Client{}
				}
				client := NewClient(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(redirector.URL) })
				before := len(target.Requests())
				_, err := NewSource(client, "graph/app").Credentials(context.Background(), false)
				if n := len(target.Requests()) - before; n > 0 {
					t.Fatalf("the redirect was followed: its target answered %d calls", n)
				}
				var e *Error
				if !errors.As(err, &e) || e.Reason() != graph.ReasonRedirect || e.Transient() {
					t.Fatalf("error %v, want permanent %s", err, graph.ReasonRedirect)
				}
				if hits.Load() != 1 {
					t.Errorf("the endpoint was called %d times; a refused redirect is not retried", hits.Load())
				}
				if msg := err.Error(); !strings.Contains(msg, target.URL) || strings.Contains(msg, "token=") || !strings.Contains(msg, strconv.Itoa(status)) {
					t.Errorf("error text: %s", msg)
				}
			})
		}
	}
}

// TestRedirectReasonReachesGraph: the Graph client reports a redirect refused while reading
// the credentials with the same reason as one from Graph itself.
func TestRedirectReasonReachesGraph(t *testing.T) {
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(emuAccessKey, emuSecretKey, "")}
	src := NewSource(NewClient(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(redirector.URL) }), "graph/app")
	c, err := graph.NewClient(src, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := graph.ParseTarget("users/alice@contoso.com")
	_, err = c.PutPhoto(context.Background(), tg, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Reason() != graph.ReasonRedirect || ge.Transient() {
		t.Fatalf("error %v, want permanent %s", err, graph.ReasonRedirect)
	}
}
