package graphtest

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tenantID = "6f1c1e2a-0000-4000-8000-00000000aaaa"
	clientID = "11111111-2222-4333-8444-555555555555"
	certApp  = "99999999-2222-4333-8444-555555555555"
	noRole   = "77777777-2222-4333-8444-555555555555"
	secret   = "s3cr3t~value.for-tests"
	aliceID  = "a1a1a1a1-0000-4000-8000-000000000001"
	bobID    = "b2b2b2b2-0000-4000-8000-000000000002"
	unified  = "c3c3c3c3-0000-4000-8000-000000000003"
	security = "d4d4d4d4-0000-4000-8000-000000000004"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	srv     *Server
	client  *http.Client
	clock   *fakeClock
	certPEM []byte
	key     *rsa.PrivateKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	certPEM, keyPEM, err := SelfSignedCertificate("graphtest app", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	srv := New(Options{
		Now: clock.Now,
		Tenants: []Tenant{{
			ID:      tenantID,
			Domains: []string{"contoso.onmicrosoft.com"},
			Apps: []App{
				{ClientID: clientID, Secrets: []string{secret}},
				{ClientID: certApp, Certificates: [][]byte{certPEM}},
				{ClientID: noRole, Secrets: []string{secret}, Roles: []string{}},
			},
			Users: []User{
				{ID: aliceID, UPN: "Alice@contoso.com", Contacts: []Contact{{ID: "C1"}, {ID: "C2", FolderID: "F1"}}},
				{ID: bobID, UPN: "$bob@contoso.com"},
				{ID: "e5e5e5e5-0000-4000-8000-000000000005", UPN: "carol_fabrikam.com#EXT#@contoso.onmicrosoft.com"},
			},
			Groups: []Group{{ID: unified, Unified: true}, {ID: security}},
		}},
	})
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, client: srv.Client(), clock: clock, certPEM: certPEM, key: k.(*rsa.PrivateKey)}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) oauthCode() (string, []int) {
	var e oauthError
	_ = json.Unmarshal(r.body, &e)
	return e.Error, e.ErrorCodes
}

func (r reply) graphCode() string {
	var e graphErrorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (f *fixture) do(t *testing.T, method, path string, body []byte, header http.Header) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

func (f *fixture) tokenForm(t *testing.T, tenant string, form url.Values) reply {
	t.Helper()
	return f.do(t, http.MethodPost, "/"+tenant+"/oauth2/v2.0/token", []byte(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

func secretForm(id, s string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {s},
		"scope": {"https://graph.microsoft.com/.default openid offline_access profile"}}
}

func (f *fixture) token(t *testing.T, id string) string {
	t.Helper()
	r := f.tokenForm(t, tenantID, secretForm(id, secret))
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn != 3599 || tok.TokenType != "Bearer" {
		t.Fatalf("token body %s: %v", r.body, err)
	}
	return tok.AccessToken
}

func bearer(tok string, more ...string) http.Header {
	h := http.Header{"Authorization": {"Bearer " + tok}}
	for i := 0; i+1 < len(more); i += 2 {
		h.Add(more[i], more[i+1])
	}
	return h
}

func (f *fixture) assertion(t *testing.T, alg string, mutate func(hdr, claims map[string]any)) string {
	t.Helper()
	block, _ := pem.Decode(f.certPEM)
	s256 := sha256.Sum256(block.Bytes)
	s1 := sha1.Sum(block.Bytes)
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if alg == "PS256" {
		hdr["x5t#S256"] = base64.StdEncoding.EncodeToString(s256[:]) // as MSAL Go sends it
	} else {
		hdr["x5t"] = base64.RawURLEncoding.EncodeToString(s1[:])
	}
	now := f.clock.Now()
	claims := map[string]any{
		"aud": f.srv.URL + "/" + tenantID + "/oauth2/v2.0/token",
		"iss": certApp, "sub": certApp, "jti": "j1",
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	if mutate != nil {
		mutate(hdr, claims)
	}
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, f.key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func assertionForm(a string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {certApp}, "client_assertion": {a},
		"client_assertion_type": {jwtBearer}, "scope": {"https://graph.microsoft.com/.default"}}
}

func TestOpenIDConfiguration(t *testing.T) {
	f := newFixture(t)
	for _, tenant := range []string{tenantID, strings.ToUpper(tenantID), "contoso.onmicrosoft.com"} {
		r := f.do(t, http.MethodGet, "/"+tenant+"/v2.0/.well-known/openid-configuration", nil, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", tenant, r.status, r.body)
		}
		var doc map[string]any
		_ = json.Unmarshal(r.body, &doc)
		if doc["issuer"] != f.srv.URL+"/"+tenantID+"/v2.0" || doc["token_endpoint"] != f.srv.URL+"/"+tenant+"/oauth2/v2.0/token" || doc["authorization_endpoint"] == nil {
			t.Errorf("%s: %v", tenant, doc)
		}
	}
	r := f.do(t, http.MethodGet, "/nope.onmicrosoft.com/v2.0/.well-known/openid-configuration", nil, nil)
	if code, codes := r.oauthCode(); r.status != 400 || code != "invalid_tenant" || codes[0] != 90002 {
		t.Errorf("unknown tenant: %d %s", r.status, r.body)
	}
	r = f.do(t, http.MethodGet, "/common/discovery/instance?api-version=1.1&authorization_endpoint="+url.QueryEscape(f.srv.URL+"/"+tenantID+"/oauth2/v2.0/authorize"), nil, nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"tenant_discovery_endpoint"`)) {
		t.Errorf("instance discovery: %d %s", r.status, r.body)
	}
}

func TestTokenEndpoint(t *testing.T) {
	f := newFixture(t)
	good := secretForm(clientID, secret)
	with := func(k, v string) url.Values {
		c := url.Values{}
		for kk, vv := range good {
			c[kk] = append([]string(nil), vv...)
		}
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	tests := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		code   string
		aadsts int
	}{
		{"secret", tenantID, good, 200, "", 0},
		{"tenant by domain", "contoso.onmicrosoft.com", good, 200, "", 0},
		{"wrong secret", tenantID, with("client_secret", "wrong"), 401, "invalid_client", 7000215},
		{"no credential", tenantID, with("client_secret", ""), 401, "invalid_client", 7000218},
		{"unknown app", tenantID, with("client_id", "00000000-0000-0000-0000-000000000000"), 400, "unauthorized_client", 700016},
		{"unknown tenant", "fabrikam.onmicrosoft.com", good, 400, "invalid_request", 90002},
		{"grant", tenantID, with("grant_type", "password"), 400, "unsupported_grant_type", 70003},
		{"scope without .default", tenantID, with("scope", "https://graph.microsoft.com/User.Read"), 400, "invalid_scope", 1002012},
		{"two resources", tenantID, with("scope", "https://graph.microsoft.com/.default https://graph.microsoft.us/.default"), 400, "invalid_scope", 1002012},
		{"unknown resource", tenantID, with("scope", "https://example.com/.default"), 400, "invalid_resource", 500011},
		{"usgov resource", tenantID, with("scope", "https://graph.microsoft.us/.default"), 200, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.tokenForm(t, tc.tenant, tc.form)
			code, codes := r.oauthCode()
			if r.status != tc.status || code != tc.code || (tc.aadsts != 0 && (len(codes) != 1 || codes[0] != tc.aadsts)) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if tc.status != 200 && bytes.Contains(r.body, []byte(secret)) {
				t.Fatal("error body echoes the secret")
			}
		})
	}
	if r := f.do(t, http.MethodGet, "/"+tenantID+"/oauth2/v2.0/token", nil, nil); r.status != 400 {
		t.Errorf("GET token: %d", r.status)
	}
}

func TestClientAssertion(t *testing.T) {
	f := newFixture(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	tests := []struct {
		name   string
		alg    string
		mut    func(h, c map[string]any)
		resign *rsa.PrivateKey
		status int
		aadsts int
	}{
		{"PS256 x5t#S256", "PS256", nil, nil, 200, 0},
		{"RS256 x5t", "RS256", nil, nil, 200, 0},
		{"x5t#S256 base64url", "PS256", func(h, c map[string]any) {
			std, _ := base64.StdEncoding.DecodeString(h["x5t#S256"].(string))
			h["x5t#S256"] = base64.RawURLEncoding.EncodeToString(std)
		}, nil, 200, 0},
		{"aud with domain", "PS256", func(h, c map[string]any) {
			c["aud"] = f.srv.URL + "/contoso.onmicrosoft.com/oauth2/v2.0/token"
		}, nil, 200, 0},
		{"unregistered thumbprint", "PS256", func(h, c map[string]any) { h["x5t#S256"] = base64.StdEncoding.EncodeToString(make([]byte, 32)) }, nil, 401, 700027},
		{"signed by another key", "PS256", nil, other, 401, 700027},
		{"wrong audience", "PS256", func(h, c map[string]any) {
			c["aud"] = "https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token"
		}, nil, 401, 700023},
		{"wrong issuer", "PS256", func(h, c map[string]any) { c["iss"] = clientID }, nil, 401, 700021},
		{"expired", "PS256", func(h, c map[string]any) { c["exp"] = f.clock.Now().Add(-time.Hour).Unix() }, nil, 401, 700024},
		{"not yet valid", "PS256", func(h, c map[string]any) { c["nbf"] = f.clock.Now().Add(time.Hour).Unix() }, nil, 401, 700024},
		{"alg none", "PS256", func(h, c map[string]any) { h["alg"] = "none" }, nil, 401, 700027},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.assertion(t, tc.alg, tc.mut)
			if tc.resign != nil {
				saved := f.key
				f.key = tc.resign
				a = f.assertion(t, tc.alg, tc.mut)
				f.key = saved
			}
			r := f.tokenForm(t, tenantID, assertionForm(a))
			_, codes := r.oauthCode()
			if r.status != tc.status || (tc.aadsts != 0 && codes[0] != tc.aadsts) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// Tampering with the claims after signing breaks the signature.
	a := f.assertion(t, "PS256", nil)
	parts := strings.Split(a, ".")
	cb, _ := json.Marshal(map[string]any{"aud": f.srv.URL + "/" + tenantID + "/oauth2/v2.0/token", "iss": certApp, "sub": certApp, "exp": f.clock.Now().Add(time.Hour).Unix()})
	parts[1] = base64.RawURLEncoding.EncodeToString(cb)
	r := f.tokenForm(t, tenantID, assertionForm(strings.Join(parts, ".")))
	if _, codes := r.oauthCode(); r.status != 401 || codes[0] != 700027 {
		t.Errorf("tampered: %d %s", r.status, r.body)
	}
	// A registered certificate that has expired no longer authenticates.
	f.clock.Add(48 * time.Hour)
	r = f.tokenForm(t, tenantID, assertionForm(f.assertion(t, "PS256", nil)))
	if _, codes := r.oauthCode(); r.status != 401 || codes[0] != 700027 {
		t.Errorf("expired certificate: %d %s", r.status, r.body)
	}
}

func pngImage(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

func TestGraphPhotoWrites(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	jpg := JPEG(100, 80)
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		header http.Header
		status int
		code   string
	}{
		{"PUT user by id", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 200, ""},
		{"PATCH user by UPN any case", "PATCH", "/v1.0/users/ALICE%40contoso.com/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 200, ""},
		{"guest UPN escaped", "PUT", "/v1.0/users/carol_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 200, ""},
		{"$ UPN in parens", "PUT", "/v1.0/users('$bob@contoso.com')/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 200, ""},
		{"$ UPN as segment", "PUT", "/v1.0/users/$bob@contoso.com/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 400, "BadRequest"},
		{"octet-stream", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, bearer(tok, "Content-Type", "application/octet-stream"), 200, ""},
		{"png", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", pngImage(64, 64), bearer(tok, "Content-Type", "image/png"), 200, ""},
		{"unified group", "PUT", "/v1.0/groups/" + unified + "/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 200, ""},
		{"contact", "PUT", "/v1.0/users/" + aliceID + "/contacts/C1/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 200, ""},
		{"contact in folder", "PUT", "/v1.0/users/" + aliceID + "/contactFolders/F1/contacts/C2/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 200, ""},
		{"no token", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, http.Header{"Content-Type": {"image/jpeg"}}, 401, "InvalidAuthenticationToken"},
		{"bogus token", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, bearer("eyJhbGciOi.x.y", "Content-Type", "image/jpeg"), 401, "InvalidAuthenticationToken"},
		{"me with app token", "PUT", "/v1.0/me/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 400, "BadRequest"},
		{"too large", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", append(JPEG(64, 64), make([]byte, MaxPhotoBytes)...), bearer(tok, "Content-Type", "image/jpeg"), 413, "RequestEntityTooLarge"},
		{"two content types", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, bearer(tok, "Content-Type", "application/octet-stream", "Content-Type", "image/jpeg"), 400, "Request_BadRequest"},
		{"content type list", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, bearer(tok, "Content-Type", "application/octet-stream, image/jpeg"), 400, "Request_BadRequest"},
		{"text content type", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, bearer(tok, "Content-Type", "text/plain"), 400, "Request_BadRequest"},
		{"no content type", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg, bearer(tok), 400, "Request_BadRequest"},
		{"not an image", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", []byte("%PDF-1.7 hello"), bearer(tok, "Content-Type", "image/jpeg"), 500, "ErrorInternalServerError"},
		{"truncated jpeg", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", jpg[:20], bearer(tok, "Content-Type", "image/jpeg"), 500, "ErrorInternalServerError"},
		{"gzip body", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", gzipped(jpg), bearer(tok, "Content-Type", "image/jpeg", "Content-Encoding", "gzip"), 500, "ErrorInternalServerError"},
		{"too narrow", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", JPEG(23, 23), bearer(tok, "Content-Type", "image/jpeg"), 400, "ValidationWidthTooSmall"},
		{"too short", "PUT", "/v1.0/users/" + aliceID + "/photo/$value", JPEG(100, 47), bearer(tok, "Content-Type", "image/jpeg"), 400, "ValidationHeightTooSmall"},
		{"security group", "PUT", "/v1.0/groups/" + security + "/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 404, "ErrorNonExistentMailbox"},
		{"unknown user", "PUT", "/v1.0/users/nobody@contoso.com/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 404, "Request_ResourceNotFound"},
		{"unknown group", "PUT", "/v1.0/groups/nope/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 404, "Request_ResourceNotFound"},
		{"unknown contact", "PUT", "/v1.0/users/" + aliceID + "/contacts/C9/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 404, "ErrorItemNotFound"},
		{"contact in wrong folder", "PUT", "/v1.0/users/" + aliceID + "/contactfolders/F2/contacts/C2/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"), 404, "ErrorItemNotFound"},
		{"delete contact", "DELETE", "/v1.0/users/" + aliceID + "/contacts/C1/photo/$value", nil, bearer(tok), 405, "Request_BadRequest"},
		{"delete group as app", "DELETE", "/v1.0/groups/" + unified + "/photo/$value", nil, bearer(tok), 403, "ErrorAccessDenied"},
		{"put metadata", "PUT", "/v1.0/users/" + aliceID + "/photo", jpg, bearer(tok, "Content-Type", "image/jpeg"), 405, "Request_BadRequest"},
		{"other segment", "GET", "/v1.0/users/" + aliceID + "/manager", nil, bearer(tok), 400, "BadRequest"},
		{"beta", "GET", "/beta/users/" + aliceID + "/photo", nil, bearer(tok), 400, "BadRequest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, tc.method, tc.path, tc.body, tc.header)
			if r.status != tc.status || (tc.code != "" && r.graphCode() != tc.code) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if r.header.Get("request-id") == "" {
				t.Error("no request-id header")
			}
			if tc.status >= 400 {
				var env graphErrorBody
				if err := json.Unmarshal(r.body, &env); err != nil || env.Error.InnerError.RequestID != r.header.Get("request-id") || env.Error.InnerError.Date == "" {
					t.Errorf("envelope %s: %v", r.body, err)
				}
			}
		})
	}
	noRoleTok := f.token(t, noRole)
	if r := f.do(t, "PUT", "/v1.0/users/"+aliceID+"/photo/$value", jpg, bearer(noRoleTok, "Content-Type", "image/jpeg")); r.status != 403 || r.graphCode() != "ErrorAccessDenied" {
		t.Errorf("app without roles: %d %s", r.status, r.body)
	}
}

func TestGraphPhotoReadsAndDelete(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	path := "/v1.0/users/" + aliceID + "/photo"
	if r := f.do(t, "GET", path+"/$value", nil, bearer(tok)); r.status != 404 || r.graphCode() != "ImageNotFound" {
		t.Fatalf("no photo yet: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v1.0/users/"+aliceID+"/contacts/C1/photo/$value", nil, bearer(tok)); r.status != 404 || r.graphCode() != "ErrorItemNotFound" {
		t.Fatalf("no contact photo yet: %d %s", r.status, r.body)
	}
	jpg := JPEG(520, 600)
	if r := f.do(t, "PUT", path+"/$value", jpg, bearer(tok, "Content-Type", "image/jpeg", "client-request-id", "abc-123")); r.status != 200 || len(r.body) != 0 || r.header.Get("client-request-id") != "abc-123" {
		t.Fatalf("put: %d %q %v", r.status, r.body, r.header)
	}
	r := f.do(t, "GET", "/v1.0/users/alice@CONTOSO.com/photo/$value", nil, bearer(tok))
	if r.status != 200 || !bytes.Equal(r.body, jpg) || r.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("get value: %d %d bytes", r.status, len(r.body))
	}
	r = f.do(t, "GET", path, nil, bearer(tok))
	var meta map[string]any
	if err := json.Unmarshal(r.body, &meta); err != nil || r.status != 200 {
		t.Fatalf("meta: %d %s", r.status, r.body)
	}
	if meta["id"] != "504x504" || meta["width"] != float64(504) || meta["@odata.mediaContentType"] != "image/jpeg" || !strings.HasPrefix(meta["@odata.mediaEtag"].(string), `"`) {
		t.Errorf("meta %v", meta)
	}
	info, ok := f.srv.Photo(tenantID, "users/alice@contoso.com")
	if !ok || info.Width != 520 || info.Height != 600 || info.Target != "users/"+aliceID {
		t.Errorf("Photo(): %+v %v", info, ok)
	}
	if r := f.do(t, "DELETE", path+"/$value", nil, bearer(tok)); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := f.do(t, "DELETE", path+"/$value", nil, bearer(tok)); r.status != 404 || r.graphCode() != "ImageNotFound" {
		t.Fatalf("second delete: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", path, nil, bearer(tok)); r.status != 404 {
		t.Fatalf("meta after delete: %d", r.status)
	}
}

func TestTokensExpireAndRevoke(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	path := "/v1.0/users/" + aliceID + "/photo/$value"
	if r := f.do(t, "GET", path, nil, bearer(tok)); r.status != 404 {
		t.Fatalf("fresh token: %d", r.status)
	}
	f.clock.Add(time.Hour)
	if r := f.do(t, "GET", path, nil, bearer(tok)); r.status != 401 || !bytes.Contains(r.body, []byte("expired")) || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("expired token: %d %s", r.status, r.body)
	}
	tok = f.token(t, clientID)
	f.srv.RevokeTokens()
	if r := f.do(t, "GET", path, nil, bearer(tok)); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	// Rotation: the old secret stops working, the new one works.
	if err := f.srv.SetAppSecrets(tenantID, clientID, "new-secret"); err != nil {
		t.Fatal(err)
	}
	if r := f.tokenForm(t, tenantID, secretForm(clientID, secret)); r.status != 401 {
		t.Fatalf("old secret after rotation: %d", r.status)
	}
	if r := f.tokenForm(t, tenantID, secretForm(clientID, "new-secret")); r.status != 200 {
		t.Fatalf("new secret: %d", r.status)
	}
	// A token for another cloud's Graph is refused by this Graph.
	form := secretForm(clientID, "new-secret")
	form.Set("scope", "https://graph.microsoft.us/.default")
	r := f.tokenForm(t, tenantID, form)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(r.body, &body)
	if r := f.do(t, "GET", path, nil, bearer(body.AccessToken)); r.status != 401 || !bytes.Contains(r.body, []byte("audience")) {
		t.Fatalf("foreign audience: %d %s", r.status, r.body)
	}
}

func TestMeWithDelegatedToken(t *testing.T) {
	f := newFixture(t)
	tok, err := f.srv.IssueDelegatedToken(tenantID, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, "PUT", "/v1.0/me/photo/$value", JPEG(64, 64), bearer(tok, "Content-Type", "image/jpeg")); r.status != 200 {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	if _, ok := f.srv.Photo(tenantID, "users/"+aliceID); !ok {
		t.Fatal("me did not write alice's photo")
	}
	if r := f.do(t, "PUT", "/v1.0/me/contactfolders/F1/contacts/C2/photo/$value", JPEG(64, 64), bearer(tok, "Content-Type", "image/jpeg")); r.status != 200 {
		t.Fatalf("me contact: %d %s", r.status, r.body)
	}
	if r := f.do(t, "PUT", "/v1.0/users/"+bobID+"/photo/$value", JPEG(64, 64), bearer(tok, "Content-Type", "image/jpeg")); r.status != 403 {
		t.Fatalf("delegated write to someone else: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	path := "/v1.0/users/" + aliceID + "/photo/$value"
	date := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).Format(http.TimeFormat)
	f.srv.AddFault(Fault{Method: "PUT", Path: "/photo/$value", Times: 1, Status: 429, RetryAfter: "7"})
	f.srv.AddFault(Fault{Method: "PUT", Path: "/photo/$value", Times: 1, Status: 503, RetryAfter: date})
	f.srv.AddFault(Fault{Method: "PUT", Kind: "graph", Skip: 1, Times: 1, Reset: true})
	h := bearer(tok, "Content-Type", "image/jpeg")
	r := f.do(t, "PUT", path, JPEG(64, 64), h)
	if r.status != 429 || r.header.Get("Retry-After") != "7" || r.graphCode() != "activityLimitReached" {
		t.Fatalf("first: %d %v %s", r.status, r.header, r.body)
	}
	r = f.do(t, "PUT", path, JPEG(64, 64), h)
	if r.status != 503 || r.header.Get("Retry-After") != date || r.graphCode() != "serviceNotAvailable" {
		t.Fatalf("second: %d %s", r.status, r.body)
	}
	// Third PUT: rule 3 counts every matching request, including those other rules answered, so
	// its Skip of 1 is long used up and it resets this one.
	req, _ := http.NewRequest("PUT", f.srv.URL+path, bytes.NewReader(JPEG(64, 64)))
	req.Header = h.Clone()
	if resp, err := f.client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("reset: got status %d", resp.StatusCode)
	}
	if r := f.do(t, "PUT", path, JPEG(64, 64), h); r.status != 200 {
		t.Fatalf("after faults: %d %s", r.status, r.body)
	}
	log := f.srv.Requests()
	var faults []string
	for _, e := range log {
		if e.Fault != "" {
			faults = append(faults, e.Fault)
		}
	}
	if len(faults) != 3 || !strings.HasSuffix(faults[2], "reset") {
		t.Errorf("faults in log: %v (%+v)", faults, log)
	}
	// Token endpoint faults answer in Entra's format.
	f.srv.AddFault(Fault{Kind: "token", Times: 1, Status: 503})
	if r := f.tokenForm(t, tenantID, secretForm(clientID, secret)); r.status != 503 {
		t.Fatalf("token fault: %d", r.status)
	} else if code, _ := r.oauthCode(); code != "temporarily_unavailable" {
		t.Fatalf("token fault body: %s", r.body)
	}
	f.srv.ClearFaults()
}

// TestRedirectFaults: a fault with a Location answers a bare redirect, to Graph and token
// requests alike, instead of serving them: no photo is stored, and the log names the fault.
func TestRedirectFaults(t *testing.T) {
	f := newFixture(t)
	f.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tok := f.token(t, clientID)
	path := "/v1.0/users/" + aliceID + "/photo/$value"
	elsewhere := "http://127.0.0.1:1/elsewhere" + path
	f.srv.AddFault(Fault{Method: "PUT", Path: "/photo/$value", Times: 1, Status: 307, Location: elsewhere})
	f.srv.AddFault(Fault{Kind: "token", Times: 1, Status: 302, Location: "/other/oauth2/v2.0/token"})
	r := f.do(t, "PUT", path, JPEG(64, 64), bearer(tok, "Content-Type", "image/jpeg"))
	if r.status != 307 || r.header.Get("Location") != elsewhere || len(r.body) != 0 {
		t.Fatalf("graph redirect: %d Location %q body %q", r.status, r.header.Get("Location"), r.body)
	}
	if _, ok := f.srv.Photo(tenantID, "users/"+aliceID); ok {
		t.Error("the redirected PUT stored a photo")
	}
	if r := f.tokenForm(t, tenantID, secretForm(clientID, secret)); r.status != 302 || r.header.Get("Location") != "/other/oauth2/v2.0/token" {
		t.Fatalf("token redirect: %d %v", r.status, r.header)
	}
	var faults []string
	for _, e := range f.srv.Requests() {
		if e.Fault != "" {
			faults = append(faults, e.Fault)
		}
	}
	if len(faults) != 2 || !strings.HasSuffix(faults[0], "307 to "+elsewhere) || !strings.HasSuffix(faults[1], "302 to /other/oauth2/v2.0/token") {
		t.Errorf("faults in log: %q", faults)
	}
	// Used up, the rules let the same requests through.
	if r := f.do(t, "PUT", path, JPEG(64, 64), bearer(tok, "Content-Type", "image/jpeg")); r.status != 200 {
		t.Fatalf("after the redirect: %d %s", r.status, r.body)
	}
}

func TestRandomFaultsAreSeeded(t *testing.T) {
	run := func() []int {
		srv := New(Options{FaultSeed: 42, Tenants: []Tenant{{ID: tenantID}}})
		defer srv.Close()
		srv.AddRandomFault(RandomFault{Rate: 0.5, Kind: "openid", Status: 503, RetryAfter: "1"})
		var got []int
		for range 20 {
			resp, err := srv.Client().Get(srv.URL + "/" + tenantID + "/v2.0/.well-known/openid-configuration")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got = append(got, resp.StatusCode)
		}
		return got
	}
	a, b := run(), run()
	n503 := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("runs differ: %v vs %v", a, b)
		}
		if a[i] == 503 {
			n503++
		}
	}
	if n503 == 0 || n503 == len(a) {
		t.Fatalf("rate 0.5 gave %d of %d", n503, len(a))
	}
}

func TestRequestLog(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	f.srv.ResetRequests()
	jpg := JPEG(64, 64)
	f.do(t, "PUT", "/v1.0/users/"+aliceID+"/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg", "client-request-id", "cr-1"))
	log := f.srv.Requests()
	if len(log) != 1 {
		t.Fatalf("log %+v", log)
	}
	e := log[0]
	if e.Method != "PUT" || e.Kind != "graph" || e.Status != 200 || e.Bytes != int64(len(jpg)) || e.ClientRequestID != "cr-1" ||
		len(e.ContentType) != 1 || e.ContentType[0] != "image/jpeg" || e.RequestID == "" || e.Path != "/v1.0/users/"+aliceID+"/photo/$value" {
		t.Errorf("entry %+v", e)
	}
}

func TestGallery(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	jpg := JPEG(64, 64)
	f.do(t, "PUT", "/v1.0/groups/"+unified+"/photo/$value", jpg, bearer(tok, "Content-Type", "image/jpeg"))
	r := f.do(t, "GET", "/gallery", nil, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("gallery: %d", r.status)
	}
	page := string(r.body)
	if !strings.Contains(page, "groups/"+unified) || !strings.Contains(page, "64×64") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("page: %s", page)
	}
	i := strings.Index(page, `src="`)
	src := page[i+5:]
	src = strings.ReplaceAll(src[:strings.Index(src, `"`)], "&amp;", "&")
	img := f.do(t, "GET", src, nil, nil)
	if img.status != 200 || !bytes.Equal(img.body, jpg) {
		t.Errorf("img %s: %d", src, img.status)
	}
}

func TestListenStandaloneAndSeed(t *testing.T) {
	dir := t.TempDir()
	certPEM, _, err := SelfSignedCertificate("app", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	seed := fmt.Sprintf(`{"tenants":[{"id":%q,"domains":["contoso.onmicrosoft.com"],
		"apps":[{"clientId":%q,"secrets":["x"],"certificateFiles":["app.pem"]}],
		"users":[{"id":%q,"userPrincipalName":"alice@contoso.com","contacts":[{"id":"C1"}]}],
		"groups":[{"id":%q,"unified":true}]}]}`, tenantID, clientID, aliceID, unified)
	seedPath := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSeed(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tenants[0].Apps[0].Certificates) != 1 {
		t.Fatal("certificate file not loaded")
	}
	srv, err := Listen("127.0.0.1:0", Options{Tenants: s.Tenants})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	caPath := filepath.Join(dir, "ca.pem")
	if err := srv.WriteCA(caPath); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(caPath)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		t.Fatal("CA file is not PEM")
	}
	f := &fixture{srv: srv, client: srv.Client()}
	if r := f.tokenForm(t, "contoso.onmicrosoft.com", secretForm(clientID, "x")); r.status != 200 {
		t.Fatalf("standalone token: %d %s", r.status, r.body)
	}
	if _, err := LoadSeed(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing seed accepted")
	}
	_ = os.WriteFile(seedPath, []byte(`{"tenants":[],"bogus":1}`), 0o600)
	if _, err := LoadSeed(seedPath); err == nil {
		t.Error("unknown field accepted")
	}
}

// TestIssueCertificate: a certificate issued for another local server is trusted by a client
// that trusts the emulator's CA, for each loopback name, and for no other name.
func TestIssueCertificate(t *testing.T) {
	srv := New(Options{Tenants: []Tenant{{ID: tenantID, Domains: []string{"contoso.com"}}}})
	defer srv.Close()
	cert, err := srv.IssueCertificate("front door", "api.local")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"127.0.0.1", true}, {"localhost", true}, {"api.local", true}, {"graph.microsoft.com", false}} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: srv.CertPool(), ServerName: tc.name, MinVersion: tls.VersionTLS12})
		if conn != nil {
			conn.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: handshake error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	// A client trusting only the system roots refuses it.
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "localhost", RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12})
	if err == nil {
		conn.Close()
		t.Error("a client without the emulator's CA accepted the certificate")
	}
}

func TestSniffImage(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		w, h int
		ok   bool
	}{
		{"jpeg", JPEG(123, 45), 123, 45, true},
		{"png", pngImage(70, 90), 70, 90, true},
		{"gif", []byte("GIF89a\x40\x00\x30\x00rest"), 64, 48, true},
		{"pdf", []byte("%PDF-1.4"), 0, 0, false},
		{"empty", nil, 0, 0, false},
		{"jpeg header only", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10}, 0, 0, false},
		{"svg", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), 0, 0, false},
	}
	for _, tc := range tests {
		info, err := sniffImage(tc.data)
		if (err == nil) != tc.ok || info.width != tc.w || info.height != tc.h {
			t.Errorf("%s: %+v %v", tc.name, info, err)
		}
	}
}

func FuzzSniffImage(f *testing.F) {
	f.Add(JPEG(50, 50))
	f.Add(pngImage(2, 2))
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = sniffImage(b) // must not panic on any input
	})
}

// TestMediaETagIsAVersion: every write gives a new @odata.mediaEtag, the same bytes written
// again included, as Graph's opaque version does; metadata and $value carry the current one.
func TestMediaETagIsAVersion(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	path := "/v1.0/users/" + aliceID + "/photo"
	meta := func() string {
		t.Helper()
		r := f.do(t, "GET", path, nil, bearer(tok))
		var m struct {
			ETag string `json:"@odata.mediaEtag"`
		}
		if err := json.Unmarshal(r.body, &m); err != nil || r.status != 200 || m.ETag == "" {
			t.Fatalf("meta: %d %s", r.status, r.body)
		}
		return m.ETag
	}
	jpg := JPEG(100, 100)
	seen := map[string]bool{}
	for i := range 3 {
		if r := f.do(t, "PUT", path+"/$value", jpg, bearer(tok, "Content-Type", "image/jpeg")); r.status != 200 {
			t.Fatalf("put %d: %d %s", i, r.status, r.body)
		}
		e := meta()
		if seen[e] {
			t.Fatalf("write %d of the same bytes kept ETag %s", i, e)
		}
		seen[e] = true
		if len(e) != 10 || e[0] != '"' || e[9] != '"' {
			t.Errorf("ETag %s: want Graph's shape, eight hex digits in quotes", e)
		}
		if r := f.do(t, "GET", path+"/$value", nil, bearer(tok)); r.header.Get("ETag") != e {
			t.Errorf("$value ETag %q, metadata %q", r.header.Get("ETag"), e)
		}
		if info, _ := f.srv.Photo(tenantID, "users/"+aliceID); info.ETag != e {
			t.Errorf("Photo().ETag %q, metadata %q", info.ETag, e)
		}
	}
	// Another emulator numbers its writes too, but its ETags are not the same sequence.
	other := New(Options{Tenants: []Tenant{{ID: tenantID, Users: []User{{ID: aliceID}}}}})
	defer other.Close()
	o, err := other.SetPhoto(tenantID, "users/"+aliceID, jpg)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := json.Marshal(seen)
	if seen[o.ETag] {
		t.Errorf("a second emulator's first ETag %s is one of the first's %s", o.ETag, first)
	}
}

// TestSetPhotoFromOutside: a photo changed as in Outlook is what Graph then serves, with a new
// ETag, and leaves no request in the log (tests count the writes that reached Graph).
func TestSetPhotoFromOutside(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, clientID)
	if r := f.do(t, "PUT", "/v1.0/users/"+aliceID+"/photo/$value", JPEG(64, 64), bearer(tok, "Content-Type", "image/jpeg")); r.status != 200 {
		t.Fatalf("put: %d", r.status)
	}
	before, _ := f.srv.Photo(tenantID, "users/"+aliceID)
	f.srv.ResetRequests()
	outside := JPEG(200, 120)
	for _, c := range []struct{ target, want string }{
		{"users/alice@contoso.com", "users/" + aliceID},
		{"users/" + aliceID + "/contactfolders/F1/contacts/C2", "users/" + aliceID + "/contacts/C2"},
		{"users/" + aliceID + "/contacts/C1", "users/" + aliceID + "/contacts/C1"},
		{"groups/" + strings.ToUpper(unified), "groups/" + unified},
	} {
		info, err := f.srv.SetPhoto(tenantID, c.target, outside)
		if err != nil {
			t.Fatalf("%s: %v", c.target, err)
		}
		got, ok := f.srv.Photo(tenantID, c.want)
		if !ok || info.Target != c.want || !bytes.Equal(got.Data, outside) || got.ETag != info.ETag || got.Width != 200 || got.Height != 120 {
			t.Errorf("%s: stored %+v, Photo(%s) %v", c.target, info.Target, c.want, ok)
		}
	}
	after, _ := f.srv.Photo(tenantID, "users/"+aliceID)
	if after.ETag == before.ETag {
		t.Errorf("ETag %s unchanged by an outside change", after.ETag)
	}
	r := f.do(t, "GET", "/v1.0/users/"+aliceID+"/photo/$value", nil, bearer(tok))
	if !bytes.Equal(r.body, outside) || r.header.Get("ETag") != after.ETag {
		t.Errorf("Graph serves %d bytes with ETag %s after the outside change", len(r.body), r.header.Get("ETag"))
	}
	if n := len(f.srv.Requests()); n != 1 {
		t.Errorf("%d requests logged; want only the GET (an outside change is no request)", n)
	}
	for _, c := range []struct{ target string }{
		{"users/nobody@contoso.com"}, {"groups/" + aliceID}, {"users/" + aliceID + "/contacts/C9"},
		{"users/" + aliceID + "/contactfolders/F9/contacts/C2"}, {"teams/x"}, {"users/" + aliceID + "/photo"},
	} {
		if _, err := f.srv.SetPhoto(tenantID, c.target, outside); err == nil {
			t.Errorf("%s: set", c.target)
		}
	}
	if _, err := f.srv.SetPhoto(tenantID, "users/"+aliceID, JPEG(20, 20)); err == nil {
		t.Error("a 20×20 photo was set")
	}
	if _, err := f.srv.SetPhoto(tenantID, "users/"+aliceID, []byte("%PDF-1.7")); err == nil {
		t.Error("a PDF was set")
	}
	if _, err := f.srv.SetPhoto("contoso.example", "users/"+aliceID, outside); err == nil {
		t.Error("a photo was set in an unknown tenant")
	}
}

// TestETagsNeverRepeat: the scrambled numbering is a bijection, so thousands of writes give
// thousands of ETags.
func TestETagsNeverRepeat(t *testing.T) {
	srv := New(Options{Tenants: []Tenant{{ID: tenantID, Users: []User{{ID: aliceID}}}}})
	defer srv.Close()
	jpg := JPEG(48, 48)
	seen := map[string]bool{}
	for i := range 5000 {
		info, err := srv.SetPhoto(tenantID, "users/"+aliceID, jpg)
		if err != nil {
			t.Fatal(err)
		}
		if seen[info.ETag] {
			t.Fatalf("write %d repeated ETag %s", i, info.ETag)
		}
		seen[info.ETag] = true
	}
}
