package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
)

const (
	cmdTenant = "7a7a7a7a-0000-4000-8000-0000000000aa"
	cmdApp    = "8b8b8b8b-0000-4000-8000-0000000000bb"
	cmdCert   = "9c9c9c9c-0000-4000-8000-0000000000cc"
	cmdSecret = "cmd-test-secret~value.0123456789"
	cmdUser   = "5d5d5d5d-0000-4000-8000-0000000000dd"
)

type graphEnv struct {
	srv      *graphtest.Server
	dir      string
	certFile string
	keyFile  string
}

// newGraphEnv starts the emulator and points the command's environment at it, as the local
// stack does with graphemu.
func newGraphEnv(t *testing.T) *graphEnv {
	t.Helper()
	certPEM, keyPEM, err := graphtest.SelfSignedCertificate("graphphoto cmd test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := graphtest.New(graphtest.Options{Tenants: []graphtest.Tenant{{
		ID:      cmdTenant,
		Domains: []string{"contoso.onmicrosoft.com"},
		Apps:    []graphtest.App{{ClientID: cmdApp, Secrets: []string{cmdSecret}}, {ClientID: cmdCert, Certificates: [][]byte{certPEM}}},
		Users:   []graphtest.User{{ID: cmdUser, UPN: "alice@contoso.com", Contacts: []graphtest.Contact{{ID: "C1"}}}},
	}}})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := srv.WriteCA(ca); err != nil {
		t.Fatal(err)
	}
	e := &graphEnv{srv: srv, dir: dir, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(e.certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"SSL_CERT_FILE": ca, "GRAPH_ENDPOINT": srv.GraphURL(), "GRAPH_AUTHORITY": srv.AuthorityURL(),
		"GRAPH_TENANT_ID": cmdTenant, "GRAPH_CLIENT_ID": cmdApp, "GRAPH_CLIENT_SECRET": cmdSecret,
		"GRAPH_CERTIFICATE": "", "GRAPH_PRIVATE_KEY": "", "GRAPH_CLOUD": "", "GRAPH_SECRET_ID": "",
	} {
		t.Setenv(k, v)
	}
	return e
}

func (e *graphEnv) image(t *testing.T, w, h int) string {
	t.Helper()
	p := filepath.Join(e.dir, "source.jpg")
	if err := os.WriteFile(p, graphtest.JPEG(w, h), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(t *testing.T, args ...string) (int, graphLine, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	var line graphLine
	for _, s := range []string{stdout.String(), stderr.String()} {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, `{"command"`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("bad JSON line %q: %v", l, err)
				}
			}
		}
	}
	return code, line, stdout.String(), stderr.String()
}

func TestGraphCommandsAgainstEmulator(t *testing.T) {
	e := newGraphEnv(t)
	src := e.image(t, 900, 700)

	code, line, _, stderr := runCmd(t, "put", "users/alice@contoso.com", src)
	if code != 0 || line.Status != "ok" || line.Width != 648 || line.Height != 648 || line.HTTPStatus != 200 || line.RequestID == "" || line.ClientRequestID == "" || line.Attempts != 1 {
		t.Fatalf("put: %d %+v %s", code, line, stderr)
	}
	stored, ok := e.srv.Photo(cmdTenant, "users/"+cmdUser)
	if !ok || len(stored.Data) != line.Bytes || stored.Width != 648 {
		t.Fatalf("emulator holds %+v", stored)
	}

	out := filepath.Join(e.dir, "got.jpg")
	code, line, _, _ = runCmd(t, "get", "/v1.0/users/alice@contoso.com/photo/$value", out)
	got, _ := os.ReadFile(out)
	if code != 0 || line.Status != "ok" || !bytes.Equal(got, stored.Data) {
		t.Fatalf("get to file: %d %+v", code, line)
	}
	code, line, stdout, _ := runCmd(t, "get", "users/alice@contoso.com")
	if code != 0 || line.Status != "ok" || stdout != string(stored.Data) {
		t.Fatalf("get to stdout: %d %+v (%d bytes on stdout)", code, line, len(stdout))
	}
	code, line, _, _ = runCmd(t, "get", "--meta", "users/"+cmdUser)
	if code != 0 || line.Width != 648 || !strings.Contains(line.Message, "648x648") {
		t.Fatalf("get --meta: %d %+v", code, line)
	}

	// Certificate credentials and PATCH.
	t.Setenv("GRAPH_CLIENT_ID", cmdCert)
	t.Setenv("GRAPH_CLIENT_SECRET", "")
	t.Setenv("GRAPH_CERTIFICATE", e.certFile)
	t.Setenv("GRAPH_PRIVATE_KEY", e.keyFile)
	code, line, _, stderr = runCmd(t, "put", "--method", "PATCH", "--size", "96", "users/alice@contoso.com/contacts/C1", src)
	if code != 0 || line.Method != "PATCH" || line.Width != 96 {
		t.Fatalf("put contact with certificate: %d %+v %s", code, line, stderr)
	}

	code, line, _, _ = runCmd(t, "delete", "users/alice@contoso.com")
	if code != 0 || line.Status != "ok" {
		t.Fatalf("delete: %d %+v", code, line)
	}
	code, line, _, _ = runCmd(t, "get", "users/alice@contoso.com", out)
	if code != 1 || line.Status != "rejected" || line.Reason != "photo_not_found" || line.HTTPStatus != 404 {
		t.Fatalf("get after delete: %d %+v", code, line)
	}
	code, line, _, _ = runCmd(t, "delete", "users/alice@contoso.com/contacts/C1")
	if code != 1 || line.Reason != "bad_target" {
		t.Fatalf("delete contact: %d %+v", code, line)
	}
}

func TestGraphCommandFailures(t *testing.T) {
	e := newGraphEnv(t)
	src := e.image(t, 200, 200)
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		status string
		reason string
	}{
		{"unknown user", nil, []string{"put", "users/nobody@contoso.com", src}, 1, "rejected", "target_not_found"},
		{"me", nil, []string{"put", "me", src}, 1, "rejected", "bad_target"},
		{"bad target", nil, []string{"put", "users/a%2Fb", src}, 1, "rejected", "bad_target"},
		{"wrong secret", map[string]string{"GRAPH_CLIENT_SECRET": "wrong-secret-value-123"}, []string{"put", "users/alice@contoso.com", src}, 1, "rejected", "credentials_invalid"},
		{"no credentials", map[string]string{"GRAPH_CLIENT_SECRET": ""}, []string{"delete", "users/alice@contoso.com"}, 1, "rejected", "credentials_invalid"},
		{"not an image", nil, []string{"put", "users/alice@contoso.com", os.Args[0]}, 1, "rejected", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, line, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.code || line.Status != tc.status || (tc.reason != "" && line.Reason != tc.reason) {
				t.Fatalf("%d %+v\n%s", code, line, stderr)
			}
			if strings.Contains(stdout+stderr, cmdSecret) || strings.Contains(stdout+stderr, "wrong-secret-value-123") {
				t.Fatal("a secret reached the output")
			}
		})
	}
	for _, args := range [][]string{{"put", "users/alice@contoso.com"}, {"get"}, {"delete", "a", "b"}, {"put", "--bogus", "x", "y"}} {
		if code, _, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestGraphPutDryRun(t *testing.T) {
	e := newGraphEnv(t)
	t.Setenv("GRAPH_CLIENT_SECRET", "")
	t.Setenv("GRAPH_CLIENT_ID", "")
	src := e.image(t, 300, 300)
	code, line, stdout, _ := runCmd(t, "put", "--dry-run", "users/bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", src)
	if code != 0 || !line.DryRun || line.Method != "PUT" || line.URL != e.srv.GraphURL()+"/v1.0/users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/photo/$value" || line.Bytes == 0 || line.Width != 300 {
		t.Fatalf("dry run: %d %+v", code, line)
	}
	if strings.Contains(stdout, "Bearer") {
		t.Fatal("dry run shows a token")
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("dry run made %d requests", n)
	}
	t.Setenv("GRAPH_ENDPOINT", "")
	t.Setenv("GRAPH_CLOUD", "china")
	_, line, _, _ = runCmd(t, "put", "--dry-run", "--method", "patch", "groups/g1", src)
	if line.URL != "https://microsoftgraph.chinacloudapi.cn/v1.0/groups/g1/photo/$value" || line.Method != "PATCH" {
		t.Fatalf("china dry run: %+v", line)
	}
}
