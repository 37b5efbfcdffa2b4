package devstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The stock Microsoft Graph JavaScript client, pinned by testdata/graphsdk/package-lock.json.
const (
	graphSDKDir     = "testdata/graphsdk"
	graphSDKPackage = "@microsoft/microsoft-graph-client"
)

// installGraphSDK installs the pinned Graph SDK with `npm ci` into the user's cache directory
// (~/.cache/graphphoto/npm-graph-sdk/{hash}), outside the work tree, and returns its
// node_modules. The directory is named by the hash of package.json and package-lock.json: an
// unchanged pin is installed once, a new one afresh. A missing node or npm fails the test,
// since `make setup` installs both.
func installGraphSDK(ctx context.Context, t *testing.T) (node, nodeModules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make setup` (Debian package nodejs)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is missing: run `make setup` (Debian package npm)")
	}
	manifest, err := os.ReadFile(filepath.Join(graphSDKDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(graphSDKDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var locked struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(lock, &locked); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	want := locked.Packages["node_modules/"+graphSDKPackage].Version
	if want == "" {
		t.Fatalf("package-lock.json pins no %s", graphSDKPackage)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for the Graph SDK: %v", err)
	}
	sum := sha256.Sum256(append(append(manifest, 0), lock...))
	base := filepath.Join(cache, "graphphoto", "npm-graph-sdk")
	final := filepath.Join(base, hex.EncodeToString(sum[:8]))
	installed := func() bool {
		b, err := os.ReadFile(filepath.Join(final, "node_modules", graphSDKPackage, "package.json"))
		var pkg struct{ Version string }
		return err == nil && json.Unmarshal(b, &pkg) == nil && pkg.Version == want
	}
	if installed() {
		return node, filepath.Join(final, "node_modules")
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// Install beside the final directory and rename it into place, so that a test run in
	// parallel (another package, another clone) never sees half an installation.
	tmp, err := os.MkdirTemp(base, ".install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for name, b := range map[string][]byte{"package.json": manifest, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci %s@%s: %v\n%s", graphSDKPackage, want, err, out)
	}
	if err := os.Rename(tmp, final); err != nil && !installed() {
		t.Fatalf("install the Graph SDK into %s: %v", final, err)
	}
	if !installed() {
		t.Fatalf("%s@%s is not in %s after npm ci", graphSDKPackage, want, final)
	}
	t.Logf("installed %s@%s into %s", graphSDKPackage, want, final)
	return node, filepath.Join(final, "node_modules")
}

// sdkResult is what testdata/graphsdk/graphsdk.js reports for one call: the parsed response,
// or the SDK's GraphError.
type sdkResult struct {
	Name       string          `json:"name"`
	OK         bool            `json:"ok"`
	Body       json.RawMessage `json:"body"`
	Bytes      int             `json:"bytes"`
	Head       string          `json:"head"`
	GraphError bool            `json:"graphError"`
	StatusCode int             `json:"statusCode"`
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	RequestID  string          `json:"requestId"`
}

// testGraphSDK points the stock Graph JavaScript client at the stack's HTTPS API, trusting the
// stack's CA through NODE_EXTRA_CA_CERTS, and checks each call as Graph would answer it.
func testGraphSDK(ctx context.Context, t *testing.T, st *Stack) {
	node, modules := installGraphSDK(ctx, t)
	samples, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Not the demo's portrait: the demo has already written that one for bob and alice, and the
	// same photo again is not written (unchanged), while this test proves the SDK's writes land.
	files := map[string]string{"print-cmyk.jpg": "", "resume.pdf": ""}
	for _, s := range samples {
		if _, ok := files[s.Name]; ok {
			files[s.Name] = filepath.Join(dir, s.Name)
			if err := os.WriteFile(files[s.Name], s.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	bob, err := st.UserToken(BobID, "bob@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := st.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join(graphSDKDir, "graphsdk.js"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "NODE_EXTRA_CA_CERTS="+st.CAFile,
		"GRAPHPHOTO_API_URL="+st.APIURL, "USER_TOKEN="+bob, "ADMIN_TOKEN="+admin, "OTHER_USER=alice@contoso.com",
		"PHOTO_FILE="+files["print-cmyk.jpg"], "PDF_FILE="+files["resume.pdf"])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node graphsdk.js: %v\n%s", err, stderr.String())
	}
	var results []sdkResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("graphsdk.js printed %q: %v", out, err)
	}
	got := map[string]sdkResult{}
	for _, r := range results {
		got[r.Name] = r
	}
	refused := func(name string, status int, code string) {
		t.Helper()
		r, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not run", name)
		case r.OK || !r.GraphError || r.StatusCode != status || r.Code != code:
			t.Errorf("%s: %+v; want a GraphError %d %q", name, r, status, code)
		case code != "" && r.RequestID == "":
			t.Errorf("%s: the SDK found no request-id in the error envelope: %+v", name, r)
		}
	}
	var put struct{ Target string }
	if r := got["put me"]; !r.OK || json.Unmarshal(r.Body, &put) != nil || put.Target != "users/"+BobID {
		t.Errorf("put me: %+v", r)
	}
	var meta struct{ Width, Height int }
	if r := got["get me metadata"]; !r.OK || json.Unmarshal(r.Body, &meta) != nil || meta.Width == 0 || meta.Height == 0 {
		t.Errorf("get me metadata: %+v", r)
	}
	if r := got["get me value"]; !r.OK || r.Head != "ffd8ff" || r.Bytes == 0 {
		t.Errorf("get me value: %+v; want a JPEG", r)
	}
	if r := got["put other as admin"]; !r.OK {
		t.Errorf("put other as admin: %+v", r)
	}
	refused("put other as user", 403, "Authorization_RequestDenied")
	refused("put pdf", 415, "UnsupportedMediaType")
	// What the README says the SDK needs: Content-Type, and the API's host in customHosts.
	refused("put without content type", 415, "UnsupportedMediaType")
	refused("put without custom hosts", 401, "")
	for who, id := range map[string]string{"bob (me)": BobID, "alice (by the admin)": AliceID} {
		if p, ok := st.Graph.Photo(TenantID, "users/"+id); !ok || p.Updated.Before(start) {
			t.Errorf("%s: no photo written through the SDK (ok=%v, updated %v, SDK run at %v)", who, ok, p.Updated, start)
		}
	}
	if t.Failed() {
		t.Logf("graphsdk.js: %s\n%s", out, stderr.String())
	}
}
