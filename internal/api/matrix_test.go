package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAuthorisationMatrix runs every caller against every target form with every method,
// through the handler, the real normaliser and the Graph emulator. The expectation is restated
// independently of authorise: a caller may use a target when it holds the admin role or owns
// the target (me forms are the caller's own); identities that cannot be read get 401.
func TestAuthorisationMatrix(t *testing.T) {
	type caller struct {
		name   string
		claims Claims
		oid    string // "" when the claims must be refused
		admin  bool
		reason string // 401 reason when oid == ""
	}
	callers := []caller{
		{name: "alice-upn", claims: aliceClaims(), oid: aliceOID},
		{name: "alice-preferred-username", claims: Claims{"oid": strings.ToUpper(aliceOID), "preferred_username": "Alice@Contoso.COM"}, oid: aliceOID},
		{name: "bob-other-roles", claims: Claims{"oid": bobOID, "upn": "bob@contoso.com", "roles": "[Photos.Read Directory.Read]"}, oid: bobOID},
		{name: "admin-flat-roles", claims: Claims{"oid": doraOID, "upn": "dora@contoso.com", "roles": "[Other.Role Photos.ReadWrite.All]"}, oid: doraOID, admin: true},
		{name: "admin-json-roles", claims: Claims{"oid": doraOID, "roles": `["Photos.ReadWrite.All","Other.Role"]`}, oid: doraOID, admin: true},
		{name: "no-claims", claims: nil, reason: ReasonNoIdentity},
		{name: "empty-claims", claims: Claims{}, reason: ReasonNoIdentity},
		{name: "malformed-oid", claims: Claims{"oid": "alice", "upn": "alice@contoso.com"}, reason: ReasonBadClaims},
		{name: "malformed-roles", claims: Claims{"oid": doraOID, "roles": "[Photos.ReadWrite.All"}, reason: ReasonBadClaims},
		{name: "malformed-json-roles", claims: Claims{"oid": doraOID, "roles": `["Photos.ReadWrite.All",]`}, reason: ReasonBadClaims},
		{name: "malformed-upn", claims: Claims{"oid": aliceOID, "upn": "alice@contoso.com/../bob"}, reason: ReasonBadClaims},
	}
	type target struct {
		name  string
		path  string
		owner string // oid of the user whose data it is; "me" for the caller; "" for a group
		kind  string // user, contact, group
		// photo is the emulator's key for the stored photo, with OWNER replaced by the owner's oid.
		photo string
		// viaOID: for its owner the request must reach Graph by oid, not by name.
		viaOID bool
		// mailbox is whose mailbox holds a contact: through "me", other callers name a contact
		// they do not have.
		mailbox string
	}
	targets := []target{
		{name: "self-by-oid", path: "users/" + aliceOID, owner: aliceOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "self-by-upn", path: "users/alice@contoso.com", owner: aliceOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "self-by-upn-other-case", path: "users/ALICE%40Contoso.com", owner: aliceOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "me", path: "me", owner: "me", kind: "user", photo: "users/OWNER"},
		{name: "me-contact", path: "me/contacts/" + aliceContact, owner: "me", kind: "contact", photo: "users/OWNER/contacts/" + aliceContact,
			mailbox: aliceOID},
		{name: "me-folder-contact", path: "me/contactfolders/" + aliceFolder + "/contacts/" + aliceContact, owner: "me", kind: "contact",
			photo: "users/OWNER/contacts/" + aliceContact, mailbox: aliceOID},
		{name: "own-contact-by-upn", path: "users/alice@contoso.com/contacts/" + aliceContact, owner: aliceOID, kind: "contact",
			photo: "users/OWNER/contacts/" + aliceContact, viaOID: true, mailbox: aliceOID},
		{name: "other-user", path: "users/bob@contoso.com", owner: bobOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "other-users-contact", path: "users/" + bobOID + "/contacts/" + bobContact, owner: bobOID, kind: "contact",
			photo: "users/OWNER/contacts/" + bobContact, viaOID: true, mailbox: bobOID},
		{name: "group", path: "groups/" + groupID, kind: "group", photo: "groups/" + groupID},
	}
	src := sourceJPEG(300, 200)

	for _, c := range callers {
		for _, tg := range targets {
			t.Run(c.name+"/"+tg.name, func(t *testing.T) {
				f := newFixture(t, clientSecret, nil)
				value := "/v1.0/" + tg.path + "/photo/$value"
				meta := "/v1.0/" + tg.path + "/photo"
				jpeg := map[string]string{"Content-Type": "image/jpeg"}
				requests := []struct{ method, path string }{
					{http.MethodGet, meta}, {http.MethodPut, value}, {http.MethodGet, value}, {http.MethodPatch, value}, {http.MethodDelete, value},
				}

				if c.oid == "" {
					for _, rq := range requests {
						rec := f.do(t, c.claims, rq.method, rq.path, src, jpeg)
						if rec.Code != http.StatusUnauthorized {
							t.Fatalf("%s %s = %d, want 401: %s", rq.method, rq.path, rec.Code, rec.Body)
						}
						if env := graphError(t, rec); env.Error.InnerError.Reason != c.reason || env.Error.Code != "InvalidAuthenticationToken" {
							t.Errorf("%s %s: code %q reason %q, want InvalidAuthenticationToken %q", rq.method, rq.path, env.Error.Code, env.Error.InnerError.Reason, c.reason)
						}
					}
					assertNoGraphCalls(t, f)
					return
				}

				owner := tg.owner
				if owner == "me" {
					owner = c.oid
				}
				allowed := c.admin || (owner != "" && owner == c.oid)
				if !allowed {
					for _, rq := range requests {
						rec := f.do(t, c.claims, rq.method, rq.path, src, jpeg)
						if rec.Code != http.StatusForbidden {
							t.Fatalf("%s %s = %d, want 403: %s", rq.method, rq.path, rec.Code, rec.Body)
						}
						if env := graphError(t, rec); env.Error.InnerError.Reason != ReasonForbidden {
							t.Errorf("reason %q, want %q", env.Error.InnerError.Reason, ReasonForbidden)
						}
					}
					assertNoGraphCalls(t, f)
					return
				}

				if tg.mailbox != "" && tg.mailbox != owner {
					// Allowed, but the caller's mailbox has no such contact: Graph's 404 passes through.
					for _, rq := range requests {
						rec := f.do(t, c.claims, rq.method, rq.path, src, jpeg)
						want, reason := http.StatusNotFound, "target_not_found"
						if rq.method == http.MethodDelete {
							want, reason = http.StatusMethodNotAllowed, ReasonDeleteContact
						}
						if rec.Code != want || graphError(t, rec).Error.InnerError.Reason != reason {
							t.Fatalf("%s %s = %d %s, want %d %s", rq.method, rq.path, rec.Code, rec.Body, want, reason)
						}
					}
					return
				}

				photoKey := strings.ReplaceAll(tg.photo, "OWNER", owner)
				// Before any write the target has no photo.
				if rec := f.do(t, c.claims, http.MethodGet, meta, nil, nil); rec.Code != http.StatusNotFound {
					t.Fatalf("GET photo before a write = %d, want 404: %s", rec.Code, rec.Body)
				}
				// PUT: normalised and stored.
				rec := f.do(t, c.claims, http.MethodPut, value, src, jpeg)
				if rec.Code != http.StatusOK {
					t.Fatalf("PUT = %d, want 200: %s", rec.Code, rec.Body)
				}
				var put PutResult
				if err := json.Unmarshal(rec.Body.Bytes(), &put); err != nil {
					t.Fatalf("PUT body: %v: %s", err, rec.Body)
				}
				stored, ok := f.graph.Photo(tenantID, photoKey)
				if !ok {
					t.Fatalf("no photo stored at %s", photoKey)
				}
				if put.Width != 200 || put.Height != 200 || put.Bytes != len(stored.Data) || put.Quality != 85 {
					t.Errorf("PUT answered %+v; stored %d bytes %dx%d", put, len(stored.Data), stored.Width, stored.Height)
				}
				if tg.viaOID && owner == c.oid {
					if put.Target != strings.ReplaceAll(tg.photo, "OWNER", c.oid) {
						t.Errorf("target = %q, want the caller's own addressed by oid", put.Target)
					}
					if p := lastGraphPath(f, http.MethodPut); !strings.Contains(p, "/users/"+c.oid) {
						t.Errorf("Graph was called at %s, want the caller's oid in the path", p)
					}
				}
				// GET value: the stored bytes.
				rec = f.do(t, c.claims, http.MethodGet, value, nil, nil)
				if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/jpeg" || !bytes.Equal(rec.Body.Bytes(), stored.Data) {
					t.Fatalf("GET value = %d %q, %d bytes; want 200 image/jpeg with the %d stored bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(stored.Data))
				}
				// GET meta: Graph's profilePhoto.
				rec = f.do(t, c.claims, http.MethodGet, meta, nil, nil)
				var m PhotoMeta
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil || m.Width == 0 || m.ETag != stored.ETag {
					t.Fatalf("GET meta = %d %s; want 200 with the stored photo's etag %q", rec.Code, rec.Body, stored.ETag)
				}
				// PATCH: Graph's other write method.
				if rec = f.do(t, c.claims, http.MethodPatch, value, sourceJPEG(240, 240), jpeg); rec.Code != http.StatusOK {
					t.Fatalf("PATCH = %d: %s", rec.Code, rec.Body)
				}
				if again, _ := f.graph.Photo(tenantID, photoKey); again.Width != 240 {
					t.Errorf("after PATCH the stored photo is %dx%d, want 240x240", again.Width, again.Height)
				}
				// DELETE: users only; Graph refuses apps a group's, and has none for contacts.
				rec = f.do(t, c.claims, http.MethodDelete, value, nil, nil)
				switch tg.kind {
				case "user":
					if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
						t.Fatalf("DELETE = %d %q, want 200 with no body, as Graph answers: %s", rec.Code, rec.Body, rec.Body)
					}
					if _, ok := f.graph.Photo(tenantID, photoKey); ok {
						t.Error("photo still stored after DELETE")
					}
					if rec = f.do(t, c.claims, http.MethodGet, value, nil, nil); rec.Code != http.StatusNotFound {
						t.Errorf("GET after DELETE = %d, want 404", rec.Code)
					}
				case "group":
					if rec.Code != http.StatusForbidden || graphError(t, rec).Error.InnerError.Reason != "access_denied" {
						t.Fatalf("DELETE group = %d %s, want 403 access_denied (Graph refuses apps)", rec.Code, rec.Body)
					}
				case "contact":
					if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, PUT, PATCH" {
						t.Fatalf("DELETE contact = %d Allow %q, want 405 GET, PUT, PATCH", rec.Code, rec.Header().Get("Allow"))
					}
					if graphError(t, rec).Error.InnerError.Reason != ReasonDeleteContact {
						t.Errorf("DELETE contact reason, want %s", ReasonDeleteContact)
					}
				}
			})
		}
	}
}

func assertNoGraphCalls(t *testing.T, f *fixture) {
	t.Helper()
	for _, e := range f.graph.Requests() {
		if e.Kind == "graph" {
			t.Errorf("refused request reached Graph: %s %s", e.Method, e.Path)
		}
	}
}

func lastGraphPath(f *fixture, method string) string {
	reqs := f.graph.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Kind == "graph" && reqs[i].Method == method {
			return reqs[i].Path
		}
	}
	return ""
}
