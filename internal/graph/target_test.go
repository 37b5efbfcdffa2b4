package graph

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTargetForms(t *testing.T) {
	tests := []struct {
		in       string
		kind     Kind
		me       bool
		user     string
		group    string
		folder   string
		contact  string
		str      string
		path     string
		deletion bool
	}{
		{in: "users/alice@contoso.com", kind: KindUser, user: "alice@contoso.com", str: "users/alice@contoso.com", path: "users/alice@contoso.com", deletion: true},
		{in: "/v1.0/users/alice@contoso.com/photo/$value", kind: KindUser, user: "alice@contoso.com", str: "users/alice@contoso.com", path: "users/alice@contoso.com", deletion: true},
		{in: "/users/alice@contoso.com/photo", kind: KindUser, user: "alice@contoso.com", str: "users/alice@contoso.com", path: "users/alice@contoso.com", deletion: true},
		{in: "Users/8c5b3d2e-0000-4000-8000-000000000001", kind: KindUser, user: "8c5b3d2e-0000-4000-8000-000000000001", str: "users/8c5b3d2e-0000-4000-8000-000000000001", path: "users/8c5b3d2e-0000-4000-8000-000000000001", deletion: true},
		{in: "users/alice_contoso.com#EXT#@fabrikam.onmicrosoft.com", kind: KindUser, user: "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com",
			str: "users/alice_contoso.com#EXT#@fabrikam.onmicrosoft.com", path: "users/alice_contoso.com%23EXT%23@fabrikam.onmicrosoft.com", deletion: true},
		{in: "/v1.0/users/alice_contoso.com%23EXT%23@fabrikam.onmicrosoft.com/photo/$value", kind: KindUser, user: "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com",
			str: "users/alice_contoso.com#EXT#@fabrikam.onmicrosoft.com", path: "users/alice_contoso.com%23EXT%23@fabrikam.onmicrosoft.com", deletion: true},
		{in: "users/$bob@contoso.com", kind: KindUser, user: "$bob@contoso.com", str: "users/$bob@contoso.com", path: "users('$bob@contoso.com')", deletion: true},
		{in: "/v1.0/users('$bob@contoso.com')/photo/$value", kind: KindUser, user: "$bob@contoso.com", str: "users/$bob@contoso.com", path: "users('$bob@contoso.com')", deletion: true},
		{in: "users('$o''brien@contoso.com')", kind: KindUser, user: "$o'brien@contoso.com", str: "users/$o'brien@contoso.com", path: "users('$o''brien@contoso.com')", deletion: true},
		{in: "users/o'brien@contoso.com", kind: KindUser, user: "o'brien@contoso.com", str: "users/o'brien@contoso.com", path: "users/o%27brien@contoso.com", deletion: true},
		{in: "users/Zoë Ångström@contoso.com", kind: KindUser, user: "Zoë Ångström@contoso.com", str: "users/Zoë Ångström@contoso.com", path: "users/Zo%C3%AB%20%C3%85ngstr%C3%B6m@contoso.com", deletion: true},
		{in: "users/a%20b@contoso.com", kind: KindUser, user: "a b@contoso.com", str: "users/a b@contoso.com", path: "users/a%20b@contoso.com", deletion: true},
		{in: "users/a+b@contoso.com", kind: KindUser, user: "a+b@contoso.com", str: "users/a+b@contoso.com", path: "users/a%2Bb@contoso.com", deletion: true},
		{in: "groups/02bd9fd6-8f93-4758-87c3-1fb73740a315", kind: KindGroup, group: "02bd9fd6-8f93-4758-87c3-1fb73740a315", str: "groups/02bd9fd6-8f93-4758-87c3-1fb73740a315", path: "groups/02bd9fd6-8f93-4758-87c3-1fb73740a315", deletion: true},
		{in: "/v1.0/groups/g1/photo/$value", kind: KindGroup, group: "g1", str: "groups/g1", path: "groups/g1", deletion: true},
		{in: "users/u1/contacts/AAMkADk=", kind: KindContact, user: "u1", contact: "AAMkADk=", str: "users/u1/contacts/AAMkADk=", path: "users/u1/contacts/AAMkADk%3D"},
		{in: "users/u1/contactFolders/F-1/contacts/C_1/photo/$value", kind: KindContact, user: "u1", folder: "F-1", contact: "C_1", str: "users/u1/contactfolders/F-1/contacts/C_1", path: "users/u1/contactfolders/F-1/contacts/C_1"},
		{in: "me", kind: KindUser, me: true, str: "me", path: "me", deletion: true},
		{in: "/v1.0/me/photo/$value", kind: KindUser, me: true, str: "me", path: "me", deletion: true},
		{in: "me/contacts/C1", kind: KindContact, me: true, contact: "C1", str: "me/contacts/C1", path: "me/contacts/C1"},
		{in: "me/contactfolders/F1/contacts/C1/photo", kind: KindContact, me: true, folder: "F1", contact: "C1", str: "me/contactfolders/F1/contacts/C1", path: "me/contactfolders/F1/contacts/C1"},
		{in: "users/" + strings.Repeat("a", MaxIDBytes), kind: KindUser, user: strings.Repeat("a", MaxIDBytes), str: "users/" + strings.Repeat("a", MaxIDBytes), path: "users/" + strings.Repeat("a", MaxIDBytes), deletion: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTarget(tc.in)
			if err != nil {
				t.Fatalf("ParseTarget: %v", err)
			}
			if got.Kind() != tc.kind || got.IsMe() != tc.me || got.User() != tc.user || got.Group() != tc.group || got.Folder() != tc.folder || got.Contact() != tc.contact {
				t.Errorf("parsed %+v", got)
			}
			if got.String() != tc.str {
				t.Errorf("String() = %q, want %q", got.String(), tc.str)
			}
			if got.Path() != tc.path {
				t.Errorf("Path() = %q, want %q", got.Path(), tc.path)
			}
			if got.SupportsDelete() != tc.deletion {
				t.Errorf("SupportsDelete() = %v", got.SupportsDelete())
			}
			again, err := ParseTarget(got.String())
			if err != nil || again != got {
				t.Errorf("String() does not round-trip: %v %+v", err, again)
			}
			viaPath, err := ParseTarget(got.Path())
			if err != nil || viaPath != got {
				t.Errorf("Path() does not round-trip: %v %+v", err, viaPath)
			}
		})
	}
}

func TestParseTargetRefusals(t *testing.T) {
	tests := []string{
		"", "/", "/v1.0/", "users", "users/", "users//photo", "groups", "groups/",
		"users/a/b", "users/..", "users/.", "users/a..b@contoso.com", "users/a%2Fb", "users/a%2fb", "users/a%5Cb", "users/a\\b",
		"users/a%00b", "users/a\x01b", "users/a\nb", "users/a\x7fb", "users/a\u0085b", "users/a%ZZ", "users/a%2541",
		"users/ alice@contoso.com", "users/alice@contoso.com ", "users/\xff\xfe",
		"users/" + strings.Repeat("a", MaxIDBytes+1),
		"teams/t1", "applications/a1", "sites/s1", "drives/x",
		"groups/g1/contacts/c1", "groups/g1/members", "users/u1/contacts", "users/u1/contacts/", "users/u1/contactfolders/f1/contacts",
		"users/u1/contactfolders//contacts/c1", "users/u1/photos/48x48", "users/u1/photo/$value/extra", "users/u1/manager",
		"me/", "me/contacts", "me/messages/1", "users('$bob@contoso.com", "users('$bob@contoso.com')x", "users('')",
		"v2.0/users/u1", "/beta/users/u1",
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			got, err := ParseTarget(in)
			if err == nil {
				t.Fatalf("ParseTarget(%q) = %q, want an error", in, got)
			}
			var te *TargetError
			if !errors.As(err, &te) || te.Reason().String() != "bad_target" || te.Transient() {
				t.Fatalf("error %v (%T) is not a permanent bad_target *TargetError", err, err)
			}
			if strings.ContainsAny(err.Error(), "\n\x00") {
				t.Errorf("error text carries raw control characters: %q", err.Error())
			}
		})
	}
}

func TestForCaller(t *testing.T) {
	const oid = "0b9c5a6e-1111-4222-8333-944445555666"
	tests := []struct{ in, want string }{
		{"me", "users/" + oid},
		{"me/contacts/C1", "users/" + oid + "/contacts/C1"},
		{"me/contactfolders/F1/contacts/C1", "users/" + oid + "/contactfolders/F1/contacts/C1"},
		{"users/alice@contoso.com", "users/alice@contoso.com"},
		{"groups/g1", "groups/g1"},
	}
	for _, tc := range tests {
		tg, err := ParseTarget(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tg.ForCaller(oid)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got.String() != tc.want || got.IsMe() {
			t.Errorf("%s.ForCaller = %s (me=%v), want %s", tc.in, got, got.IsMe(), tc.want)
		}
		if tg.IsMe() && got.User() != oid {
			t.Errorf("User() = %q", got.User())
		}
	}
	me, _ := ParseTarget("me")
	for _, bad := range []string{"", "a/b", "..", "x\x00"} {
		if _, err := me.ForCaller(bad); err == nil {
			t.Errorf("ForCaller(%q) accepted", bad)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"users/alice@contoso.com", "/v1.0/users/alice_contoso.com%23EXT%23@fabrikam.onmicrosoft.com/photo/$value",
		"users('$bob@contoso.com')", "groups/g1", "me/contactfolders/F1/contacts/C1/photo", "users/u/contacts/c",
		"users/a%2Fb", "users/..", "users/Zoë", "me", "users('a''b')/photo",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			var te *TargetError
			if !errors.As(err, &te) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for _, form := range []string{tg.String(), tg.Path(), "/v1.0/" + tg.Path() + "/photo/$value"} {
			again, err := ParseTarget(form)
			if err != nil {
				t.Fatalf("%q parsed from %q does not parse again: %v", form, s, err)
			}
			if again != tg {
				t.Fatalf("%q: round trip %+v != %+v", form, again, tg)
			}
		}
		if strings.Contains(tg.Path(), "#") || strings.Contains(tg.Path(), "?") || strings.Contains(tg.Path(), " ") {
			t.Fatalf("Path() %q is not URL-safe", tg.Path())
		}
	})
}
