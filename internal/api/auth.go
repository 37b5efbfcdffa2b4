package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
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

// Caller is the identity a request acts for: a signed-in user (a delegated token, which
// carries scp) or an application on its own (an app-only token: no scp, idtyp "app").
type Caller struct {
	OID     string   // Entra object id (oid): the user, or the calling app's service principal
	Names   []string // upn and preferred_username, when present (delegated tokens only)
	Roles   []string // app roles (roles claim)
	Scopes  []string // delegated scopes (scp claim); none in an app-only token
	AppOnly bool     // no user signed in: "me" and self-service mean nothing
}

// HasRole reports whether the caller holds the app role (role names compare exactly, as Entra
// issues them).
func (c Caller) HasRole(role string) bool { return role != "" && slices.Contains(c.Roles, role) }

// HasScope reports whether a delegated token grants the scope (exact, as Entra issues them).
func (c Caller) HasScope(scope string) bool {
	return !c.AppOnly && scope != "" && slices.Contains(c.Scopes, scope)
}

// callerFrom reads the caller from claims. No claims is ReasonNoIdentity; claims without a
// GUID oid, or with unreadable roles, scopes or names, are ReasonBadClaims. Both are 401.
//
// A token is app-only when it says so (idtyp "app", an optional claim) or carries no scp:
// Entra puts scp in every delegated access token and never in an app-only one, so a token
// without it cannot speak for a user, whatever name claims it has.
func callerFrom(c Claims, ok bool) (Caller, *Error) {
	if !ok || len(c) == 0 {
		return Caller{}, &Error{why: ReasonNoIdentity,
			Message: "no signed-in caller: send an access token for this API in the Authorization header"}
	}
	bad := func(why string) *Error {
		return &Error{why: ReasonBadClaims,
			Message: "the access token's claims cannot be used: " + why, Cause: errors.New("claims: " + why)}
	}
	oid := strings.TrimSpace(c["oid"])
	if !isGUID(oid) {
		return Caller{}, bad("oid is missing or not an object id")
	}
	caller := Caller{OID: strings.ToLower(oid)}
	for _, k := range []string{"roles", "scp"} {
		v, present := c[k]
		if !present {
			continue
		}
		names, err := parseNames(v)
		if err != nil {
			return Caller{}, bad(k + ": " + err.Error())
		}
		if k == "roles" {
			caller.Roles = names
		} else {
			caller.Scopes = names
		}
	}
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
	caller.AppOnly = len(caller.Scopes) == 0 || strings.EqualFold(strings.TrimSpace(c["idtyp"]), "app")
	if caller.AppOnly {
		// No user: names and scopes in such a token speak for nobody.
		caller.Names, caller.Scopes = nil, nil
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

// parseNames reads the roles or scp claim in the forms it arrives in: API Gateway's flattened
// "[a b c]", a JSON array `["a","b"]`, or a bare space-separated list (scp as Entra writes it).
func parseNames(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return nil, nil
	case strings.HasPrefix(v, "[\""):
		var roles []string
		if err := json.Unmarshal([]byte(v), &roles); err != nil {
			return nil, errors.New("not a JSON array of strings")
		}
		return checkNames(roles)
	case strings.HasPrefix(v, "["):
		if !strings.HasSuffix(v, "]") {
			return nil, errors.New("\"[\" without \"]\"")
		}
		return checkNames(strings.Fields(v[1 : len(v)-1]))
	case strings.ContainsAny(v, "[]\""):
		return nil, errors.New("unexpected brackets or quotes")
	}
	return checkNames(strings.Fields(v))
}

func checkNames(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	for _, r := range names {
		if !usableName(r) || strings.ContainsAny(r, "[]\",") {
			return nil, fmt.Errorf("%q is not a role or scope name", clip(r, 40))
		}
	}
	return names, nil
}

// access is what a request does with a photo.
type access int

const (
	accessRead  access = iota // GET …/photo and …/photo/$value
	accessWrite               // PUT, PATCH, DELETE, and POST /v1.0/uploads (a grant to write)
)

// Policy is who may do what (README, "Trust model"); the authorisation matrix test states it
// once more, independently, for every kind of caller, target and method.
type Policy struct {
	// AdminRole is the app role that may use any target (API_ADMIN_ROLE). Empty: nobody may.
	AdminRole string
	// UserScope is the delegated scope every write by a signed-in user needs (API_USER_SCOPE).
	UserScope string
}

// authorise decides whether caller may read or write t's photo, and returns the target to send
// to Graph:
//
//   - "me" needs a signed-in user: an app-only token gets 403 (ReasonAppOnlyMe);
//   - a signed-in user may use their own photo and their own contacts' photos, named by me, oid,
//     upn or preferred_username (case-insensitive); such targets are sent to Graph as
//     users/{oid}/…, so a name claim that happens to equal another account's UPN can never reach
//     that account. Any other target needs the admin role, in a user's or an app's token;
//   - a signed-in user's writes and deletes need the user scope as well (ReasonScopeRequired):
//     a delegated token acts for its user only as far as its scopes reach, admins included. An
//     app-only token writes with the admin role alone, as Graph's application permissions do.
func authorise(caller Caller, t graph.Target, a access, p Policy) (graph.Target, *Error) {
	if t.IsMe() && caller.AppOnly {
		return graph.Target{}, &Error{why: ReasonAppOnlyMe,
			Message: "me needs a signed-in user, and this is an app-only token: name the user, group or contact instead (users/{id})"}
	}
	own := !caller.AppOnly && (t.IsMe() || (t.Kind() == graph.KindUser || t.Kind() == graph.KindContact) && caller.isSelf(t.User()))
	if !own && !caller.HasRole(p.AdminRole) {
		msg := fmt.Sprintf("you may use only your own photo and your own contacts' photos; any other %s needs the %s app role", t.Kind(), p.AdminRole)
		if caller.AppOnly {
			msg = fmt.Sprintf("an app-only token may use photos only with the %s app role", p.AdminRole)
		}
		return graph.Target{}, &Error{why: ReasonForbidden, Message: msg}
	}
	if a == accessWrite && !caller.AppOnly && !caller.HasScope(p.UserScope) {
		return graph.Target{}, &Error{why: ReasonScopeRequired,
			Message: fmt.Sprintf("writing or deleting a photo needs the %s scope in the access token: sign in through an app that requests it", p.UserScope)}
	}
	switch {
	case t.IsMe():
		resolved, err := t.ForCaller(caller.OID)
		if err != nil {
			return graph.Target{}, failure(graph.ReasonBadTarget, false, 0, err)
		}
		return resolved, nil
	case own:
		return asCaller(t, caller.OID)
	}
	return t, nil
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
		return graph.Target{}, failure(graph.ReasonBadTarget, false, 0, err)
	}
	return me, nil
}
