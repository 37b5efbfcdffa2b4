package graphtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionSkew is the clock skew allowed on a client assertion's nbf and exp.
const assertionSkew = 5 * time.Minute

// token is an issued bearer token. Tokens are opaque random strings, not JWTs: Graph's callers
// must treat them as opaque, and the emulator never needs to parse its own tokens.
type token struct {
	dir      *directory
	clientID string
	resource string
	expires  time.Time
	user     *User // set for delegated tokens (IssueDelegatedToken); nil for app-only tokens
	roles    map[string]bool
}

// oauthError is Entra ID's token endpoint error body.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

func (e *emulator) writeOAuthError(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, desc string) {
	trace := w.Header().Get("request-id")
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = trace
	}
	writeJSON(w, status, oauthError{
		Error:            code,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, trace, corr, e.now().UTC().Format("2006-01-02 15:04:05Z")),
		ErrorCodes:       []int{aadsts},
		Timestamp:        e.now().UTC().Format("2006-01-02 15:04:05Z"),
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         fmt.Sprintf("%s/error?code=%d", e.baseURL, aadsts),
	})
}

// authorityBase is the scheme and host the client used, so issuer and endpoints match the
// authority it was configured with (MSAL checks the issuer's host).
func authorityBase(r *http.Request) string {
	return "https://" + r.Host
}

// serveOpenID answers GET /{tenant}/v2.0/.well-known/openid-configuration.
func (e *emulator) serveOpenID(w http.ResponseWriter, r *http.Request) {
	tenant := firstSegment(r.URL.Path)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request"})
		return
	}
	d := e.directory(tenant)
	if d == nil {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_tenant", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := authorityBase(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/" + d.tenant.ID + "/v2.0",
		"authorization_endpoint":                base + "/" + tenant + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/" + tenant + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/" + tenant + "/oauth2/v2.0/devicecode",
		"jwks_uri":                              base + "/" + tenant + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"tenant_region_scope":                   "WW",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

// serveInstanceDiscovery answers GET /common/discovery/instance, which MSAL calls to validate an
// authority host it does not know (only when instance discovery is on).
func (e *emulator) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	authz := q.Get("authorization_endpoint")
	u, err := url.Parse(authz)
	if q.Get("api-version") == "" || authz == "" || err != nil || u.Scheme != "https" {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
		return
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	tenant := parts[0]
	host := r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

// serveToken answers POST /{tenant}/oauth2/v2.0/token for the client credentials grant.
func (e *emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	tenant := firstSegment(r.URL.Path)
	if r.Method != http.MethodPost {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a "+r.Method+" request.")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body could not be read.")
		return
	}
	form := r.PostForm
	d := e.directory(tenant)
	if d == nil {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
			return
		}
		e.writeOAuthError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	app := d.apps[strings.ToLower(clientID)]
	if app == nil {
		e.writeOAuthError(w, r, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", clientID, d.tenant.ID))
		return
	}
	resource, ok := e.scopeResource(form.Get("scope"))
	if !ok {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
		return
	}
	if !e.knownResource(resource) {
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_resource", 500011,
			fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", resource, d.tenant.ID))
		return
	}
	secret, assertion := form.Get("client_secret"), form.Get("client_assertion")
	switch {
	case secret != "" && assertion != "":
		e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 90014, "Only one client credential may be sent: client_secret or client_assertion.")
		return
	case secret != "":
		e.mu.Lock()
		matched := app.secretMatches(secret)
		e.mu.Unlock()
		if !matched {
			e.writeOAuthError(w, r, http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.clientID))
			return
		}
	case assertion != "":
		if form.Get("client_assertion_type") != jwtBearer {
			e.writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_assertion_type'.")
			return
		}
		aud := authorityBase(r) + r.URL.Path
		if code, desc := e.checkAssertion(app, d, assertion, aud); code != 0 {
			e.writeOAuthError(w, r, http.StatusUnauthorized, "invalid_client", code, desc)
			return
		}
	default:
		e.writeOAuthError(w, r, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	access := randomToken()
	e.mu.Lock()
	e.tokens[access] = &token{dir: d, clientID: app.clientID, resource: resource, expires: e.now().Add(e.tokenLifetime), roles: app.roles}
	e.mu.Unlock()
	secs := int(e.tokenLifetime / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   access,
	})
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "eyemu." + base64.RawURLEncoding.EncodeToString(b[:])
}

// scopeResource returns the resource of the one ".default" scope, ignoring the OIDC scopes MSAL
// always appends (openid, profile, offline_access).
func (e *emulator) scopeResource(scope string) (string, bool) {
	resource := ""
	for _, s := range strings.Fields(scope) {
		switch s {
		case "openid", "profile", "offline_access":
			continue
		}
		if !strings.HasSuffix(s, "/.default") || resource != "" {
			return "", false
		}
		resource = strings.TrimSuffix(s, "/.default")
	}
	return resource, resource != ""
}

func (e *emulator) knownResource(resource string) bool {
	resource = strings.TrimSuffix(resource, "/")
	switch strings.ToLower(resource) {
	case "https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us",
		"https://microsoftgraph.chinacloudapi.cn", "00000003-0000-0000-c000-000000000000":
		return true
	}
	return strings.EqualFold(resource, e.graphResource) || strings.EqualFold(resource, e.baseURL)
}

func (a *appState) secretMatches(s string) bool {
	ok := false
	for _, want := range a.secrets {
		if subtle.ConstantTimeCompare([]byte(s), []byte(want)) == 1 {
			ok = true
		}
	}
	return ok
}

// checkAssertion verifies a client assertion JWT (RFC 7523) as Entra ID does: signed with PS256
// (or RS256) by a certificate registered on the app and named by x5t#S256 (or x5t), aud = this
// token endpoint, iss = sub = client id, and within its nbf/exp window. It returns 0 when valid,
// else an AADSTS code and description.
func (e *emulator) checkAssertion(app *appState, d *directory, assertion, aud string) (int, string) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return 700027, "Client assertion is not a well-formed JWT."
	}
	var hdr struct {
		Alg     string `json:"alg"`
		Typ     string `json:"typ"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
		Kid     string `json:"kid"`
	}
	var claims struct {
		Aud any         `json:"aud"`
		Iss string      `json:"iss"`
		Sub string      `json:"sub"`
		Exp json.Number `json:"exp"`
		Nbf json.Number `json:"nbf"`
		Jti string      `json:"jti"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return 700027, "Client assertion header is not valid JSON."
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return 700027, "Client assertion payload is not valid JSON."
	}
	cert := app.certByThumbprint(hdr.X5tS256, hdr.X5t, hdr.Kid)
	if cert == nil {
		return 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]"
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return 700027, "The registered certificate does not hold an RSA key."
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return 700027, "Client assertion failed signature validation."
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr.Alg {
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	default:
		return 700027, fmt.Sprintf("Client assertion uses an unsupported signing algorithm '%s'.", hdr.Alg)
	}
	if err != nil {
		return 700027, "Client assertion failed signature validation."
	}
	now := e.now()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return 700027, "Client assertion contains an invalid signature. [Reason - The key used is expired.]"
	}
	if !audienceMatches(claims.Aud, aud, d) {
		return 700023, "Client assertion audience claim does not match Realm issuer."
	}
	if claims.Iss != app.clientID || claims.Sub != app.clientID {
		return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
	}
	exp, errExp := claims.Exp.Int64()
	if errExp != nil || now.After(time.Unix(exp, 0).Add(assertionSkew)) {
		return 700024, "Client assertion is not within its valid time range."
	}
	if claims.Nbf != "" {
		nbf, errNbf := claims.Nbf.Int64()
		if errNbf != nil || now.Add(assertionSkew).Before(time.Unix(nbf, 0)) {
			return 700024, "Client assertion is not within its valid time range."
		}
	}
	return 0, ""
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	return dec.Decode(v)
}

// audienceMatches accepts the token endpoint URL, with the tenant given by id or any domain.
func audienceMatches(aud any, want string, d *directory) bool {
	var auds []string
	switch a := aud.(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	wu, err := url.Parse(want)
	if err != nil {
		return false
	}
	for _, a := range auds {
		u, err := url.Parse(a)
		if err != nil || !strings.EqualFold(u.Host, wu.Host) || u.Scheme != "https" {
			continue
		}
		p := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
		if len(p) == 4 && d.matches(p[0]) && p[1] == "oauth2" && p[2] == "v2.0" && p[3] == "token" {
			return true
		}
	}
	return false
}

// certByThumbprint finds the registered certificate a JWT header names. MSAL Go encodes
// x5t#S256 with standard base64 while the JOSE spec says base64url; Entra accepts both.
func (a *appState) certByThumbprint(x5tS256, x5t, kid string) *x509.Certificate {
	for _, c := range a.certs {
		s256 := sha256.Sum256(c.Raw)
		s1 := sha1.Sum(c.Raw)
		if x5tS256 != "" && thumbEqual(x5tS256, s256[:]) {
			return c
		}
		if x5t != "" && thumbEqual(x5t, s1[:]) {
			return c
		}
		if kid != "" && strings.EqualFold(kid, fmt.Sprintf("%X", s1[:])) {
			return c
		}
	}
	return nil
}

func thumbEqual(enc string, sum []byte) bool {
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := e.DecodeString(enc); err == nil && subtle.ConstantTimeCompare(b, sum) == 1 {
			return true
		}
	}
	return false
}

// IssueDelegatedToken issues a bearer token on behalf of a signed-in user of the tenant, so
// tests can exercise /me; the token endpoint itself only issues app-only tokens.
func (s *Server) IssueDelegatedToken(tenantID, userIDOrUPN string) (string, error) {
	d := s.emu.directory(tenantID)
	if d == nil {
		return "", fmt.Errorf("unknown tenant %s", tenantID)
	}
	u := d.user(userIDOrUPN)
	if u == nil {
		return "", fmt.Errorf("unknown user %s", userIDOrUPN)
	}
	access := randomToken()
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	s.emu.tokens[access] = &token{dir: d, resource: s.emu.graphResource, expires: s.emu.now().Add(s.emu.tokenLifetime), user: u,
		roles: map[string]bool{RoleProfilePhotoReadWriteAll: true, RoleContactsReadWrite: true}}
	return access, nil
}

// RevokeTokens makes every issued token invalid, as a revoked grant or rotated key would; Graph
// then answers 401 InvalidAuthenticationToken until the client gets a new token.
func (s *Server) RevokeTokens() {
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	s.emu.tokens = map[string]*token{}
}
