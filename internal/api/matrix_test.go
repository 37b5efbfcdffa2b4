package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// TestAuthorisationMatrix is the one statement of who may do what through the API. It runs
// every kind of caller against every target form with every method, the presigned-upload grant
// included, through the handler, the real normaliser and the Graph emulator. The expectation is
// restated here independently of authorise:
//
//   - identities that cannot be read get 401;
//   - "me" needs a signed-in user: an app-only token gets 403 app_only_me;
//   - a signed-in user may read their own photo and their own contacts' photos (me forms, or
//     their oid, upn or preferred_username); the admin app role reads anyone's;
//   - writing (PUT, PATCH, DELETE, POST /v1.0/uploads) needs the same plus, in a signed-in
//     user's token, the write scope (403 scope_required without it, admins included); an
//     app-only token writes with the admin role alone;
//   - anything else is 403 forbidden, and a refused request never reaches Graph.
func TestAuthorisationMatrix(t *testing.T) {
	const appOID = "e7e70000-0000-4000-8000-0000000000a9" // a client app's service principal
	type caller struct {
		name   string
		claims Claims
		oid    string // "" when the claims must be refused
		user   bool   // a signed-in user (delegated token); false: app-only
		admin  bool   // holds the admin app role
		write  bool   // a user's token carries the write scope
		reason string // 401 reason when oid == ""
	}
	callers := []caller{
		{name: "alice-upn", claims: aliceClaims(), oid: aliceOID, user: true, write: true},
		{name: "alice-preferred-username", claims: Claims{"oid": strings.ToUpper(aliceOID), "preferred_username": "Alice@Contoso.COM", "scp": "User.Read Photos.Write"},
			oid: aliceOID, user: true, write: true},
		{name: "alice-read-scope-only", claims: Claims{"oid": aliceOID, "upn": "alice@contoso.com", "scp": "Photos.Read"}, oid: aliceOID, user: true},
		{name: "alice-scope-of-another-case", claims: Claims{"oid": aliceOID, "upn": "alice@contoso.com", "scp": "photos.write"}, oid: aliceOID, user: true},
		{name: "bob-other-roles", claims: Claims{"oid": bobOID, "upn": "bob@contoso.com", "roles": "[Photos.Read Directory.Read]", "scp": "Photos.Write"},
			oid: bobOID, user: true, write: true},
		{name: "admin-flat-roles", claims: Claims{"oid": doraOID, "upn": "dora@contoso.com", "roles": "[Other.Role Photos.ReadWrite.All]", "scp": "Photos.Write"},
			oid: doraOID, user: true, admin: true, write: true},
		{name: "admin-json-roles-and-scopes", claims: Claims{"oid": doraOID, "roles": `["Photos.ReadWrite.All","Other.Role"]`, "scp": `["User.Read","Photos.Write"]`},
			oid: doraOID, user: true, admin: true, write: true},
		{name: "admin-without-write-scope", claims: Claims{"oid": doraOID, "upn": "dora@contoso.com", "roles": "[Photos.ReadWrite.All]", "scp": "User.Read"},
			oid: doraOID, user: true, admin: true},
		{name: "app-admin", claims: Claims{"oid": appOID, "sub": appOID, "idtyp": "app", "roles": "[Photos.ReadWrite.All]"}, oid: appOID, admin: true},
		{name: "app-admin-without-idtyp", claims: Claims{"oid": appOID, "roles": "[Photos.ReadWrite.All]"}, oid: appOID, admin: true},
		{name: "app-without-role", claims: Claims{"oid": appOID, "idtyp": "app"}, oid: appOID},
		// Name claims in a token without scp speak for nobody: no self-service through them.
		{name: "app-with-user-names", claims: Claims{"oid": appOID, "upn": "alice@contoso.com", "preferred_username": "alice@contoso.com"}, oid: appOID},
		{name: "app-with-alice-oid", claims: Claims{"oid": aliceOID, "upn": "alice@contoso.com", "idtyp": "app", "scp": "Photos.Write"}, oid: aliceOID},
		{name: "no-claims", claims: nil, reason: ReasonNoIdentity.String()},
		{name: "empty-claims", claims: Claims{}, reason: ReasonNoIdentity.String()},
		{name: "malformed-oid", claims: Claims{"oid": "alice", "upn": "alice@contoso.com", "scp": "Photos.Write"}, reason: ReasonBadClaims.String()},
		{name: "malformed-roles", claims: Claims{"oid": doraOID, "roles": "[Photos.ReadWrite.All"}, reason: ReasonBadClaims.String()},
		{name: "malformed-json-roles", claims: Claims{"oid": doraOID, "roles": `["Photos.ReadWrite.All",]`}, reason: ReasonBadClaims.String()},
		{name: "malformed-scopes", claims: Claims{"oid": aliceOID, "upn": "alice@contoso.com", "scp": `["Photos.Write"`}, reason: ReasonBadClaims.String()},
		{name: "malformed-upn", claims: Claims{"oid": aliceOID, "upn": "alice@contoso.com/../bob", "scp": "Photos.Write"}, reason: ReasonBadClaims.String()},
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
		// as is the target the API names for its owner, when it is not photo (a contact in a
		// folder keeps its folder; the emulator stores it by contact).
		as string
	}
	targets := []target{
		{name: "self-by-oid", path: "users/" + aliceOID, owner: aliceOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "self-by-upn", path: "users/alice@contoso.com", owner: aliceOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "self-by-upn-other-case", path: "users/ALICE%40Contoso.com", owner: aliceOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "me", path: "me", owner: "me", kind: "user", photo: "users/OWNER"},
		{name: "me-contact", path: "me/contacts/" + aliceContact, owner: "me", kind: "contact", photo: "users/OWNER/contacts/" + aliceContact,
			mailbox: aliceOID},
		{name: "me-folder-contact", path: "me/contactfolders/" + aliceFolder + "/contacts/" + aliceContact, owner: "me", kind: "contact",
			photo: "users/OWNER/contacts/" + aliceContact, mailbox: aliceOID, as: "users/OWNER/contactfolders/" + aliceFolder + "/contacts/" + aliceContact},
		{name: "own-contact-by-upn", path: "users/alice@contoso.com/contacts/" + aliceContact, owner: aliceOID, kind: "contact",
			photo: "users/OWNER/contacts/" + aliceContact, viaOID: true, mailbox: aliceOID},
		{name: "other-user", path: "users/bob@contoso.com", owner: bobOID, kind: "user", photo: "users/OWNER", viaOID: true},
		{name: "other-users-contact", path: "users/" + bobOID + "/contacts/" + bobContact, owner: bobOID, kind: "contact",
			photo: "users/OWNER/contacts/" + bobContact, viaOID: true, mailbox: bobOID},
		{name: "group", path: "groups/" + groupID, kind: "group", photo: "groups/" + groupID},
	}
	src := sourceJPEG(300, 200)
	presigner := s3.NewPresignClient(s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:9"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAMATRIXTEST", "matrix/test/secret", "")}))

	type request struct {
		method, path string
		body         []byte
		write        bool
	}
	for _, c := range callers {
		for _, tg := range targets {
			t.Run(c.name+"/"+tg.name, func(t *testing.T) {
				f := newFixture(t, clientSecret, func(o *Options) {
					o.Uploads, o.UploadBucket, o.UploadPrefix = presigner, uploadBucket, "uploads/"
				})
				value := "/v1.0/" + tg.path + "/photo/$value"
				meta := "/v1.0/" + tg.path + "/photo"
				jpeg := map[string]string{"Content-Type": "image/jpeg"}
				grant := []byte(`{"target":"` + tg.path + `","size":123456}`)
				requests := []request{
					{http.MethodGet, meta, nil, false}, {http.MethodPut, value, src, true}, {http.MethodGet, value, nil, false},
					{http.MethodPatch, value, src, true}, {http.MethodDelete, value, nil, true}, {http.MethodPost, "/v1.0/uploads", grant, true},
				}
				do := func(rq request) *httptest.ResponseRecorder {
					h := jpeg
					if rq.method == http.MethodPost {
						h = map[string]string{"Content-Type": "application/json"}
					}
					return f.do(t, c.claims, rq.method, rq.path, rq.body, h)
				}
				refused := func(rq request, status int, code, reason string) {
					t.Helper()
					rec := do(rq)
					if rec.Code != status {
						t.Fatalf("%s %s = %d, want %d %s: %s", rq.method, rq.path, rec.Code, status, reason, rec.Body)
					}
					if env := graphError(t, rec); env.Error.InnerError.Reason != reason || env.Error.Code != code {
						t.Errorf("%s %s: code %q reason %q, want %s %s", rq.method, rq.path, env.Error.Code, env.Error.InnerError.Reason, code, reason)
					}
				}

				if c.oid == "" {
					for _, rq := range requests {
						refused(rq, http.StatusUnauthorized, "InvalidAuthenticationToken", c.reason)
					}
					assertNoGraphCalls(t, f)
					return
				}
				if tg.owner == "me" && !c.user {
					for _, rq := range requests {
						refused(rq, http.StatusForbidden, "Authorization_RequestDenied", ReasonAppOnlyMe.String())
					}
					assertNoGraphCalls(t, f)
					return
				}
				owner := tg.owner
				if owner == "me" {
					owner = c.oid
				}
				own := c.user && owner != "" && owner == c.oid
				readOK := own || c.admin
				writeOK := readOK && (!c.user || c.write)
				if !readOK {
					for _, rq := range requests {
						refused(rq, http.StatusForbidden, "Authorization_RequestDenied", ReasonForbidden.String())
					}
					assertNoGraphCalls(t, f)
					return
				}

				if tg.mailbox != "" && tg.mailbox != owner {
					// Allowed, but the caller's mailbox has no such contact: Graph's 404 passes
					// through (a grant is only a signed URL: the S3 path meets the 404 later).
					for _, rq := range requests {
						if rq.write && !writeOK {
							refused(rq, http.StatusForbidden, "Authorization_RequestDenied", ReasonScopeRequired.String())
							continue
						}
						rec := do(rq)
						want, reason := http.StatusNotFound, "target_not_found"
						switch rq.method {
						case http.MethodDelete:
							want, reason = http.StatusMethodNotAllowed, ReasonDeleteContact.String()
						case http.MethodPost:
							want, reason = http.StatusOK, ""
						}
						if rec.Code != want || (reason != "" && graphError(t, rec).Error.InnerError.Reason != reason) {
							t.Fatalf("%s %s = %d %s, want %d %s", rq.method, rq.path, rec.Code, rec.Body, want, reason)
						}
					}
					return
				}

				photoKey := strings.ReplaceAll(tg.photo, "OWNER", owner)
				as := tg.photo
				if tg.as != "" {
					as = tg.as
				}
				wantTarget := strings.ReplaceAll(as, "OWNER", c.oid) // the caller's own, addressed by oid
				if !own {
					parsed, err := graph.ParseTarget(tg.path)
					if err != nil {
						t.Fatal(err)
					}
					wantTarget = parsed.String()
				}

				if !writeOK {
					// Reads work (a photo is put there first, as an admin would); every write is
					// refused for want of the scope and reaches nothing.
					seedTarget, err := graph.ParseTarget(photoKey)
					if err != nil {
						t.Fatal(err)
					}
					if o := f.handler.opts.Photos.Run(t.Context(), photo.Job{Source: seed{seedTarget, src}}); o.Status != photo.StatusSynced {
						t.Fatalf("seeding %s: %+v", photoKey, o)
					}
					seeded, _ := f.graph.Photo(tenantID, photoKey)
					f.graph.ResetRequests()
					for _, rq := range requests {
						if rq.write {
							refused(rq, http.StatusForbidden, "Authorization_RequestDenied", ReasonScopeRequired.String())
						}
					}
					assertNoGraphCalls(t, f)
					if rec := do(requests[2]); rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), seeded.Data) {
						t.Fatalf("GET value = %d, %d bytes; want 200 with the %d stored bytes", rec.Code, rec.Body.Len(), len(seeded.Data))
					}
					var m PhotoMeta
					if rec := do(requests[0]); rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil || m.ETag != seeded.ETag {
						t.Fatalf("GET meta = %d %s; want 200 with etag %q", rec.Code, rec.Body, seeded.ETag)
					}
					if own && tg.viaOID {
						if p := lastGraphPath(f, http.MethodGet); !strings.Contains(p, "/users/"+c.oid) {
							t.Errorf("Graph was read at %s, want the caller's oid in the path", p)
						}
					}
					return
				}

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
					if put.Target != wantTarget {
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
				// POST /v1.0/uploads: a grant to write, for the same resolved target.
				rec = do(requests[5])
				var up Upload
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &up) != nil || up.Target != wantTarget {
					t.Fatalf("POST /v1.0/uploads = %d %s; want 200 for %s", rec.Code, rec.Body, wantTarget)
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
					if graphError(t, rec).Error.InnerError.Reason != ReasonDeleteContact.String() {
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
