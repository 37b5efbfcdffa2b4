package graph

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// MaxIDBytes bounds every id of a target (user id or UPN, group id, folder id, contact id).
// Entra limits a UPN to 113 characters and Exchange item ids stay under a few hundred bytes;
// 1024 bytes leaves room for both while keeping a hostile key from growing log lines and URLs.
const MaxIDBytes = 1024

// Kind is what a Target names.
type Kind string

// The kinds of photo owners Graph serves.
const (
	KindUser    Kind = "user"
	KindGroup   Kind = "group"
	KindContact Kind = "contact" // an Outlook contact of a user, optionally in a contact folder
)

// Target is a parsed, validated owner of a profile photo: a user, a group or a user's contact.
// The zero value is not a valid target; build one with ParseTarget.
//
// Ids are kept unescaped (as Graph stores them); String renders the canonical unescaped form,
// Path the percent-escaped URL path Graph expects.
type Target struct {
	kind    Kind
	me      bool
	user    string // user id or UPN; empty for me and for groups
	group   string
	folder  string // contact folder id; empty when the contact is addressed without its folder
	contact string
}

// TargetError is a target that cannot be parsed or used. Its reason is always ReasonBadTarget.
type TargetError struct {
	Input  string // the offending input, truncated to keep logs small
	Detail string // what is wrong, in lower case
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("bad target %q: %s", e.Input, e.Detail)
}

// Reason is the reason of every target error, ReasonBadTarget.
func (e *TargetError) Reason() reason.Reason { return ReasonBadTarget }

// Transient is always false: retrying cannot fix a target.
func (e *TargetError) Transient() bool { return false }

func targetErr(input, format string, args ...any) *TargetError {
	if len(input) > 200 {
		input = input[:200] + "…"
	}
	return &TargetError{Input: strings.ToValidUTF8(input, "\uFFFD"), Detail: fmt.Sprintf(format, args...)}
}

// ParseTarget parses a photo owner in any of the forms Graph documents:
//
//	users/{id|upn}                                   groups/{id}
//	users/{id|upn}/contacts/{id}                     users/{id|upn}/contactfolders/{fid}/contacts/{id}
//	me   me/contacts/{id}   me/contactfolders/{fid}/contacts/{id}
//
// A leading "/", a "/v1.0/" prefix and a trailing "/photo" or "/photo/$value" are accepted, so
// paths copied from Graph's documentation work; so is the users('{upn}') form Graph requires for
// UPNs that start with "$". Keywords are case-insensitive. Each id is one path segment and may be
// percent-escaped (a guest's "#EXT#" arrives as "%23EXT%23" in a URL); after unescaping it must be
// valid UTF-8, non-empty, at most MaxIDBytes, and contain no "/", "\", "%", "..", control
// characters, or leading/trailing white space. Every refusal is a *TargetError.
func ParseTarget(s string) (Target, error) {
	rest := s
	rest = strings.TrimPrefix(rest, "/")
	if len(rest) >= 5 && strings.EqualFold(rest[:5], "v1.0/") {
		rest = rest[5:]
	}
	if rest == "" {
		return Target{}, targetErr(s, "empty target")
	}
	// users('$upn') is one segment holding the id; turn it into users/<escaped id> first.
	if len(rest) >= 7 && strings.EqualFold(rest[:7], "users('") {
		end := closingQuote(rest, 7)
		if end < 0 {
			return Target{}, targetErr(s, "users('…') is not closed")
		}
		raw := strings.ReplaceAll(rest[7:end], "''", "'")
		id, err := unescapeID(s, raw)
		if err != nil {
			return Target{}, err
		}
		after := rest[end+2:]
		if after != "" && after[0] != '/' {
			return Target{}, targetErr(s, "unexpected text after users('…')")
		}
		rest = "users/" + escapeSegment(id, "") + after
	}
	segs := strings.Split(rest, "/")
	var t Target
	var tail []string
	switch strings.ToLower(segs[0]) {
	case "me":
		t.me, t.kind, tail = true, KindUser, segs[1:]
	case "users":
		if len(segs) < 2 {
			return Target{}, targetErr(s, "users needs an id or user principal name")
		}
		id, err := unescapeID(s, segs[1])
		if err != nil {
			return Target{}, err
		}
		t.kind, t.user, tail = KindUser, id, segs[2:]
	case "groups":
		if len(segs) < 2 {
			return Target{}, targetErr(s, "groups needs an id")
		}
		id, err := unescapeID(s, segs[1])
		if err != nil {
			return Target{}, err
		}
		t.kind, t.group, tail = KindGroup, id, segs[2:]
	case "":
		return Target{}, targetErr(s, "empty path segment")
	default:
		return Target{}, targetErr(s, "unknown kind %q (want users, groups or me)", truncate(segs[0], 40))
	}
	if t.kind == KindUser {
		switch {
		case len(tail) >= 2 && strings.EqualFold(tail[0], "contacts"):
			id, err := unescapeID(s, tail[1])
			if err != nil {
				return Target{}, err
			}
			t.kind, t.contact, tail = KindContact, id, tail[2:]
		case len(tail) >= 4 && strings.EqualFold(tail[0], "contactfolders") && strings.EqualFold(tail[2], "contacts"):
			fid, err := unescapeID(s, tail[1])
			if err != nil {
				return Target{}, err
			}
			id, err := unescapeID(s, tail[3])
			if err != nil {
				return Target{}, err
			}
			t.kind, t.folder, t.contact, tail = KindContact, fid, id, tail[4:]
		}
	}
	switch {
	case len(tail) == 0,
		len(tail) == 1 && strings.EqualFold(tail[0], "photo"),
		len(tail) == 2 && strings.EqualFold(tail[0], "photo") && tail[1] == "$value":
		return t, nil
	}
	return Target{}, targetErr(s, "unsupported path after the %s (want contacts/{id}, contactfolders/{id}/contacts/{id} or photo/$value)", t.kind)
}

// closingQuote finds the quote that ends an OData string literal starting at from, skipping
// doubled quotes; it requires ")" right after it.
func closingQuote(s string, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == ')' {
			return i
		}
		return -1
	}
	return -1
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// unescapeID percent-decodes one segment and checks it is a usable id.
func unescapeID(input, seg string) (string, error) {
	if seg == "" {
		return "", targetErr(input, "empty id")
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		return "", targetErr(input, "bad percent-escape in id")
	}
	if err := checkID(id); err != nil {
		return "", targetErr(input, "%s", err.Error())
	}
	return id, nil
}

func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("empty id")
	case len(id) > MaxIDBytes:
		return fmt.Errorf("id longer than %d bytes", MaxIDBytes)
	case !utf8.ValidString(id):
		return errors.New("id is not valid UTF-8")
	case strings.ContainsAny(id, "/\\"):
		return errors.New("id contains a slash")
	case strings.Contains(id, "%"):
		return errors.New("id contains a percent sign after unescaping")
	case strings.Contains(id, ".."):
		return errors.New("id contains \"..\"")
	case id == ".":
		return errors.New("id is \".\"")
	}
	for _, r := range id {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\uFEFF' {
			return errors.New("id contains a control character")
		}
	}
	first, _ := utf8.DecodeRuneInString(id)
	last, _ := utf8.DecodeLastRuneInString(id)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return errors.New("id starts or ends with white space")
	}
	return nil
}

// ForCaller resolves a me-form target to the signed-in caller's users/{oid}/… form; other targets
// are returned unchanged. An empty or invalid oid is a *TargetError (app-only calls have none).
func (t Target) ForCaller(oid string) (Target, error) {
	if !t.me {
		return t, nil
	}
	if oid == "" {
		return Target{}, targetErr(t.String(), "me needs a signed-in caller; app-only calls must name the user")
	}
	if err := checkID(oid); err != nil {
		return Target{}, targetErr(t.String(), "caller object id: %s", err.Error())
	}
	t.me = false
	t.user = oid
	return t, nil
}

// Kind says whether the target is a user, a group or a contact.
func (t Target) Kind() Kind { return t.kind }

// IsMe reports whether the target still names the signed-in caller ("me" forms).
func (t Target) IsMe() bool { return t.me }

// IsZero reports whether t is the zero Target (nothing parsed).
func (t Target) IsZero() bool { return t.kind == "" }

// User is the user part (id or UPN) whose data the target touches, for authorisation decisions:
// the user itself or the owner of the contact. It is "" for groups and for unresolved me forms.
func (t Target) User() string { return t.user }

// Group is the group id of a group target.
func (t Target) Group() string { return t.group }

// Contact is the contact id of a contact target, and Folder its contact folder id ("" when the
// contact is addressed without one).
func (t Target) Contact() string { return t.contact }

// Folder is the contact folder id of a contact target addressed through its folder.
func (t Target) Folder() string { return t.folder }

// SupportsDelete reports whether Graph can delete this target's photo: users and groups only.
func (t Target) SupportsDelete() bool { return t.kind == KindUser || t.kind == KindGroup }

// String is the canonical, unescaped form, e.g. "users/alice@contoso.com" or
// "me/contactfolders/F1/contacts/C1". ParseTarget(t.String()) yields t again.
func (t Target) String() string {
	return t.render(func(s string) string { return escapeSegment(s, "@$'()!*+,;=: #&~") }, false)
}

// Path is the percent-escaped URL path under the Graph version, without "/photo/$value", e.g.
// "users/alice@contoso.com", "users/alice_contoso.com%23EXT%23@fabrikam.onmicrosoft.com" or
// "users('$bob@contoso.com')". Every byte outside RFC 3986's unreserved set and "@" is escaped, as
// Graph's SDKs do for ids (they also escape "@"; Graph accepts both). A UPN starting with "$" uses
// the users('…') form, because Graph reads a segment starting with "$" as an OData keyword.
func (t Target) Path() string {
	return t.render(func(s string) string { return escapeSegment(s, "@") }, true)
}

func (t Target) render(esc func(string) string, forURL bool) string {
	if t.kind == "" {
		return ""
	}
	var b strings.Builder
	switch {
	case t.kind == KindGroup:
		b.WriteString("groups/")
		b.WriteString(esc(t.group))
		return b.String()
	case t.me:
		b.WriteString("me")
	case forURL && strings.HasPrefix(t.user, "$"):
		b.WriteString("users('")
		b.WriteString(escapeSegment(strings.ReplaceAll(t.user, "'", "''"), "@$'"))
		b.WriteString("')")
	default:
		b.WriteString("users/")
		b.WriteString(esc(t.user))
	}
	if t.kind == KindContact {
		if t.folder != "" {
			b.WriteString("/contactfolders/")
			b.WriteString(esc(t.folder))
		}
		b.WriteString("/contacts/")
		b.WriteString(esc(t.contact))
	}
	return b.String()
}

// escapeSegment percent-escapes every byte except RFC 3986 unreserved characters and keep.
// "%" and "/" are never in keep, so an id always stays one segment and unescapes to itself.
func escapeSegment(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || (c < utf8.RuneSelf && c != '%' && c != '/' && strings.IndexByte(keep, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		if c >= utf8.RuneSelf && strings.Contains(keep, " ") {
			// String() keeps non-ASCII text readable; only URLs need it escaped.
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
