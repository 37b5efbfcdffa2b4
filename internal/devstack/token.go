package devstack

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/graphphoto/graphphoto/internal/api"
)

// Issuer makes and checks the development bearer tokens of the local stack. In AWS the HTTP
// API's JWT authoriser checks Entra ID tokens and passes their claims to the function; here the
// stack's front door checks these HS256 tokens and passes their claims the same way. They are
// only valid for this stack's run (a fresh key each start).
type Issuer struct {
	key    []byte
	issuer string
	now    func() time.Time
}

// Claims are the JWT claims the API reads: the caller's object id and UPN, app roles, and the
// delegated scopes (scp, space-separated as Entra writes it) that make it a user's token; a
// token without scp is an app's own (idtyp "app"), as Entra issues them.
type Claims struct {
	OID               string   `json:"oid"`
	UPN               string   `json:"upn,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Roles             []string `json:"roles,omitempty"`
	Scope             string   `json:"scp,omitempty"`
	IDType            string   `json:"idtyp,omitempty"`
	Issuer            string   `json:"iss"`
	Audience          string   `json:"aud"`
	IssuedAt          int64    `json:"iat"`
	Expires           int64    `json:"exp"`
}

// NewIssuer makes an issuer with a random key.
func NewIssuer(issuer string) (*Issuer, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("dev token key: %w", err)
	}
	return &Issuer{key: key, issuer: issuer, now: time.Now}, nil
}

// Audience is what the stack's tokens are for.
const Audience = "api://graphphoto-devstack"

// UserScope is the delegated scope the stack's user tokens carry: the API's default write
// scope (API_USER_SCOPE), as an app that signs people in would request it.
const UserScope = api.DefaultUserScope

// Issue signs a token valid for ttl: a user's (oid, upn) with the delegated scopes, or, with no
// scopes, an app's own (oid is its service principal; upn should be empty); roles in both.
func (i *Issuer) Issue(oid, upn string, roles, scopes []string, ttl time.Duration) (string, error) {
	now := i.now()
	c := Claims{OID: oid, UPN: upn, PreferredUsername: upn, Roles: roles, Scope: strings.Join(scopes, " "), Issuer: i.issuer,
		Audience: Audience, IssuedAt: now.Unix(), Expires: now.Add(ttl).Unix()}
	if len(scopes) == 0 {
		c.IDType = "app"
	}
	header := b64(`{"alg":"HS256","typ":"JWT"}`)
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := header + "." + base64.RawURLEncoding.EncodeToString(body)
	return signing + "." + base64.RawURLEncoding.EncodeToString(i.sign(signing)), nil
}

// ErrToken is every refusal of a bearer token; the reason stays in the server's log.
var ErrToken = errors.New("invalid bearer token")

// Verify checks a token's signature, issuer, audience and lifetime and returns its claims as
// API Gateway passes them: strings, with roles as "[a b]".
func (i *Issuer) Verify(token string) (map[string]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not three parts", ErrToken)
	}
	if header, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || !strings.Contains(string(header), `"HS256"`) {
		return nil, fmt.Errorf("%w: header", ErrToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, i.sign(parts[0]+"."+parts[1])) {
		return nil, fmt.Errorf("%w: signature", ErrToken)
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: body", ErrToken)
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: claims", ErrToken)
	}
	now := i.now().Unix()
	switch {
	case c.Issuer != i.issuer || c.Audience != Audience:
		return nil, fmt.Errorf("%w: issuer or audience", ErrToken)
	case now >= c.Expires || c.IssuedAt > now+60:
		return nil, fmt.Errorf("%w: expired or not yet valid", ErrToken)
	case c.OID == "":
		return nil, fmt.Errorf("%w: no oid", ErrToken)
	}
	claims := map[string]string{
		"oid": c.OID, "iss": c.Issuer, "aud": "[" + c.Audience + "]",
		"iat": fmt.Sprint(c.IssuedAt), "exp": fmt.Sprint(c.Expires),
	}
	if c.UPN != "" {
		claims["upn"] = c.UPN
	}
	if c.PreferredUsername != "" {
		claims["preferred_username"] = c.PreferredUsername
	}
	if len(c.Roles) > 0 {
		// API Gateway's JWT authoriser flattens array claims to "[a b]".
		claims["roles"] = "[" + strings.Join(c.Roles, " ") + "]"
	}
	if c.Scope != "" {
		claims["scp"] = c.Scope
	}
	if c.IDType != "" {
		claims["idtyp"] = c.IDType
	}
	return claims, nil
}

func (i *Issuer) sign(s string) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
