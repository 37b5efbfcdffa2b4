package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// Claims are the JWT claims API Gateway's JWT authoriser passes in
// requestContext.authorizer.jwt.claims. API Gateway flattens every claim to a string: an
// array such as roles arrives as "[Photos.ReadWrite.All Other]". Other sources (a real JSON
// array in an event, the local stack) give `["Photos.ReadWrite.All","Other"]`; both are read.
type Claims map[string]string

type contextKey int

const (
	claimsKey contextKey = iota
	requestIDKey
)

// WithClaims returns a context carrying the caller's verified claims. Only something that has
// verified the token (API Gateway's authoriser, through NewRequest) may call it.
func WithClaims(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, claimsKey, c)
}

// ClaimsFromContext returns the claims WithClaims stored; ok is false when there are none.
func ClaimsFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey).(Claims)
	return c, ok && c != nil
}

// WithRequestID returns a context carrying the request id to answer and log with (API
// Gateway's requestContext.requestId).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFromContext returns the id WithRequestID stored, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Caller is the signed-in identity a request acts for.
type Caller struct {
	OID   string   // Entra object id (oid): what "me" means
	Names []string // upn and preferred_username, when present
	Roles []string // app roles (roles claim)
}

// HasRole reports whether the caller holds the app role (role names compare exactly, as Entra
// issues them).
func (c Caller) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// callerFrom reads the caller from claims. No claims is ReasonNoIdentity; claims without a
// GUID oid, or with unreadable roles or names, are ReasonBadClaims. Both are 401.
func callerFrom(c Claims, ok bool) (Caller, *Error) {
	if !ok || len(c) == 0 {
		return Caller{}, &Error{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Reason: ReasonNoIdentity,
			Message: "no signed-in caller: send an access token for this API in the Authorization header"}
	}
	bad := func(why string) *Error {
		return &Error{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Reason: ReasonBadClaims,
			Message: "the access token's claims cannot be used: " + why, Cause: errors.New("claims: " + why)}
	}
	oid := strings.TrimSpace(c["oid"])
	if !isGUID(oid) {
		return Caller{}, bad("oid is missing or not an object id")
	}
	caller := Caller{OID: strings.ToLower(oid)}
	for _, k := range []string{"upn", "preferred_username"} {
		v, present := c[k]
		if !present {
			continue
		}
		if !usableName(v) {
			return Caller{}, bad(k + " is not a usable user name")
		}
		caller.Names = append(caller.Names, v)
	}
	if v, present := c["roles"]; present {
		roles, err := parseRoles(v)
		if err != nil {
			return Caller{}, bad("roles: " + err.Error())
		}
		caller.Roles = roles
	}
	return caller, nil
}

// isGUID accepts Entra object ids: 8-4-4-4-12 hex digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func usableName(s string) bool {
	if s == "" || len(s) > graph.MaxIDBytes || !utf8.ValidString(s) || strings.ContainsAny(s, "/\\") {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// parseRoles reads the roles claim in the forms it arrives in: API Gateway's flattened
// "[a b c]", a JSON array `["a","b"]`, or a bare space-separated list.
func parseRoles(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return nil, nil
	case strings.HasPrefix(v, "[\""):
		var roles []string
		if err := json.Unmarshal([]byte(v), &roles); err != nil {
			return nil, errors.New("not a JSON array of strings")
		}
		return checkRoles(roles)
	case strings.HasPrefix(v, "["):
		if !strings.HasSuffix(v, "]") {
			return nil, errors.New("\"[\" without \"]\"")
		}
		return checkRoles(strings.Fields(v[1 : len(v)-1]))
	case strings.ContainsAny(v, "[]\""):
		return nil, errors.New("unexpected brackets or quotes")
	}
	return checkRoles(strings.Fields(v))
}

func checkRoles(roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	for _, r := range roles {
		if !usableName(r) || strings.ContainsAny(r, "[]\",") {
			return nil, fmt.Errorf("role %q is not a role name", clip(r, 40))
		}
	}
	return roles, nil
}

// authorise decides whether caller may read, write or delete t's photo, and returns the target
// to send to Graph. "me" forms resolve to the caller's users/{oid}. Callers may use their own
// photo and their own contacts' photos, named by oid, upn or preferred_username
// (case-insensitive); such targets are sent to Graph as users/{oid}/…, so a name claim that
// happens to equal another account's UPN can never reach that account. Everything else needs
// the admin role.
func authorise(caller Caller, t graph.Target, adminRole string) (graph.Target, *Error) {
	if t.IsMe() {
		resolved, err := t.ForCaller(caller.OID)
		if err != nil {
			return graph.Target{}, failure("bad_target", false, 0, err)
		}
		return resolved, nil
	}
	if (t.Kind() == graph.KindUser || t.Kind() == graph.KindContact) && caller.isSelf(t.User()) {
		return asCaller(t, caller.OID)
	}
	if adminRole != "" && caller.HasRole(adminRole) {
		return t, nil
	}
	return graph.Target{}, &Error{Status: http.StatusForbidden, Code: "Authorization_RequestDenied", Reason: ReasonForbidden,
		Message: fmt.Sprintf("you may use only your own photo and your own contacts' photos; any other %s needs the %s app role", t.Kind(), adminRole)}
}

func (c Caller) isSelf(user string) bool {
	if user == "" {
		return false
	}
	if strings.EqualFold(user, c.OID) {
		return true
	}
	for _, n := range c.Names {
		if strings.EqualFold(user, n) {
			return true
		}
	}
	return false
}

// asCaller re-addresses t (the caller's own user or contact) through the caller's oid.
func asCaller(t graph.Target, oid string) (graph.Target, *Error) {
	s := "me"
	if t.Kind() == graph.KindContact {
		if t.Folder() != "" {
			s += "/contactfolders/" + url.PathEscape(t.Folder())
		}
		s += "/contacts/" + url.PathEscape(t.Contact())
	}
	me, err := graph.ParseTarget(s)
	if err == nil {
		me, err = me.ForCaller(oid)
	}
	if err != nil {
		return graph.Target{}, failure("bad_target", false, 0, err)
	}
	return me, nil
}
