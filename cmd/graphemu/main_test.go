package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	seed := `{"tenants":[{"id":"t1","domains":["contoso.onmicrosoft.com"],"apps":[{"clientId":"app1","secrets":["emulator-secret"]}],
		"users":[{"id":"u1","userPrincipalName":"alice@contoso.com"}],"groups":[{"id":"g1","unified":true}]}]}`
	seedPath := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(dir, "ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--seed", seedPath, "--ca-out", caPath}, pw, io.Discard)
		pw.Close()
	}()
	var line ready
	if err := json.NewDecoder(bufio.NewReader(pr)).Decode(&line); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !strings.HasPrefix(line.Graph, "https://127.0.0.1:") || line.Gallery != line.Graph+"/gallery" || line.CA != caPath || len(line.Tenants) != 1 {
		t.Fatalf("ready line %+v", line)
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app1"}, "client_secret": {"emulator-secret"}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := client.PostForm(line.Authority+"/contoso.onmicrosoft.com/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop")
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--seed", "/nonexistent/seed.json"}, {"--bogus"}} {
		var stderr strings.Builder
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d (%s)", args, code, stderr.String())
		}
	}
}
