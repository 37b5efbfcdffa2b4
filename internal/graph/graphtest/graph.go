package graphtest

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// photoSizes are the square sizes Graph serves (profilephoto-get).
var photoSizes = [...]int{48, 64, 96, 120, 240, 360, 432, 504, 648}

// imageContentTypes are the Content-Type values Graph accepts on an image upload (the list in its
// own Request_BadRequest message), plus application/octet-stream, which Graph's SDKs send for
// photos and which Graph accepts by sniffing the bytes.
var imageContentTypes = [...]string{"image/bmp", "image/emf", "image/wmf", "image/jpg", "image/jpeg", "image/gif", "image/ico",
	"image/png", "image/exif", "image/tif", "image/tiff", "image/*", "images/*"}

// graphReq is one parsed Graph photo request.
type graphReq struct {
	w           http.ResponseWriter
	r           *http.Request
	reqID       string
	clientReqID string
	tok         *token
}

func (g *graphReq) fail(e *emulator, status int, code, msg string) {
	writeGraphError(g.w, status, code, msg, g.reqID, g.clientReqID, e.now())
}

// photoObject is the resolved owner of a photo.
type photoObject struct {
	kind    string // user, group, contact
	key     string // tenant id + "|" + canonical path
	path    string // canonical path with object ids, e.g. users/{id}/contacts/{cid}
	userID  string // owner user id for users and contacts
	group   *Group
	context string // OData context entity path
}

func (e *emulator) serveGraph(w http.ResponseWriter, r *http.Request, reqID, clientReqID string) {
	g := &graphReq{w: w, r: r, reqID: reqID, clientReqID: clientReqID}
	tok, ok := e.authenticate(g)
	if !ok {
		return
	}
	g.tok = tok
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/v1.0/"), "/")
	obj, rest, ok := e.resolve(g, segs)
	if !ok {
		return
	}
	switch {
	case len(rest) == 1 && strings.EqualFold(rest[0], "photo"):
		if r.Method != http.MethodGet {
			g.fail(e, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
			return
		}
		if !e.authorised(g, obj, false) {
			return
		}
		e.photoMeta(g, obj)
	case len(rest) == 2 && strings.EqualFold(rest[0], "photo") && rest[1] == "$value":
		switch r.Method {
		case http.MethodGet:
			if e.authorised(g, obj, false) {
				e.photoValue(g, obj)
			}
		case http.MethodPut, http.MethodPatch:
			if e.authorised(g, obj, true) {
				e.photoWrite(g, obj)
			}
		case http.MethodDelete:
			if obj.kind == "contact" {
				g.fail(e, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
				return
			}
			if e.authorised(g, obj, true) {
				e.photoDelete(g, obj)
			}
		default:
			g.fail(e, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		}
	case len(rest) == 0:
		g.fail(e, http.StatusBadRequest, "BadRequest", "The emulator serves only photo routes.")
	default:
		seg, _ := url.PathUnescape(rest[0])
		g.fail(e, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
	}
}

// authenticate checks the bearer token as Graph does on every call.
func (e *emulator) authenticate(g *graphReq) (*token, bool) {
	fail := func(msg string) (*token, bool) {
		g.w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		g.fail(e, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return nil, false
	}
	h := g.r.Header.Get("Authorization")
	scheme, raw, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return fail("Access token is empty.")
	}
	if len(g.r.Header.Values("Authorization")) > 1 {
		return fail("Access token validation failure. Invalid audience.")
	}
	e.mu.Lock()
	tok := e.tokens[strings.TrimSpace(raw)]
	e.mu.Unlock()
	switch {
	case tok == nil:
		return fail("CompactToken parsing failed with error code: 80049217")
	case !e.now().Before(tok.expires):
		return fail("Lifetime validation failed, the token is expired.")
	case !strings.EqualFold(tok.resource, e.graphResource) && !strings.EqualFold(tok.resource, e.baseURL) && tok.resource != "00000003-0000-0000-c000-000000000000":
		return fail("Access token validation failure. Invalid audience.")
	}
	return tok, true
}

// resolve walks users|groups|me and an optional contact path, answering 400/404 itself.
func (e *emulator) resolve(g *graphReq, segs []string) (photoObject, []string, bool) {
	d := g.tok.dir
	first := segs[0]
	lower := strings.ToLower(first)
	var obj photoObject
	var rest []string
	unescape := func(s string) (string, bool) {
		v, err := url.PathUnescape(s)
		if err != nil || v == "" {
			g.fail(e, http.StatusBadRequest, "BadRequest", "Invalid object identifier '"+s+"'.")
			return "", false
		}
		return v, true
	}
	notFound := func(id string) (photoObject, []string, bool) {
		g.fail(e, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
		return photoObject{}, nil, false
	}
	var user *User
	switch {
	case lower == "me":
		if g.tok.user == nil {
			g.fail(e, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
			return photoObject{}, nil, false
		}
		user, rest = g.tok.user, segs[1:]
	case strings.HasPrefix(lower, "users(") && strings.HasSuffix(first, ")"):
		inner := first[len("users(") : len(first)-1]
		inner, err := url.PathUnescape(inner)
		if err != nil || len(inner) < 2 || inner[0] != '\'' || inner[len(inner)-1] != '\'' {
			g.fail(e, http.StatusBadRequest, "BadRequest", "Bad Request - Error in query syntax.")
			return photoObject{}, nil, false
		}
		id := strings.ReplaceAll(inner[1:len(inner)-1], "''", "'")
		if user = d.user(id); user == nil {
			return notFound(id)
		}
		rest = segs[1:]
	case lower == "users" && len(segs) >= 2:
		id, ok := unescape(segs[1])
		if !ok {
			return photoObject{}, nil, false
		}
		if strings.HasPrefix(id, "$") {
			// OData reads a segment starting with "$" as a system keyword (user-get docs).
			g.fail(e, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", id))
			return photoObject{}, nil, false
		}
		if user = d.user(id); user == nil {
			return notFound(id)
		}
		rest = segs[2:]
	case lower == "groups" && len(segs) >= 2:
		id, ok := unescape(segs[1])
		if !ok {
			return photoObject{}, nil, false
		}
		grp := d.groups[strings.ToLower(id)]
		if grp == nil {
			return notFound(id)
		}
		path := "groups/" + grp.ID
		return photoObject{kind: "group", key: d.tenant.ID + "|" + path, path: path, group: grp, context: "groups('" + grp.ID + "')/photo"}, segs[2:], true
	default:
		seg, _ := url.PathUnescape(first)
		g.fail(e, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
		return photoObject{}, nil, false
	}
	obj = photoObject{kind: "user", userID: user.ID, path: "users/" + user.ID, context: "users('" + user.ID + "')/photo"}
	folder := ""
	contactID := ""
	switch {
	case len(rest) >= 2 && strings.EqualFold(rest[0], "contacts"):
		id, ok := unescape(rest[1])
		if !ok {
			return photoObject{}, nil, false
		}
		contactID, rest = id, rest[2:]
	case len(rest) >= 4 && strings.EqualFold(rest[0], "contactfolders") && strings.EqualFold(rest[2], "contacts"):
		fid, ok := unescape(rest[1])
		if !ok {
			return photoObject{}, nil, false
		}
		id, ok := unescape(rest[3])
		if !ok {
			return photoObject{}, nil, false
		}
		folder, contactID, rest = fid, id, rest[4:]
		if folder == "" {
			folder = "\x00" // never matches
		}
	}
	if contactID != "" {
		c := d.contacts[strings.ToLower(user.ID)+"\x00"+contactID]
		if c == nil || (folder != "" && c.FolderID != folder) {
			g.fail(e, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			return photoObject{}, nil, false
		}
		obj.kind = "contact"
		obj.path = "users/" + user.ID + "/contacts/" + c.ID
		obj.context = "users('" + user.ID + "')/contacts('" + c.ID + "')/photo"
	}
	obj.key = d.tenant.ID + "|" + obj.path
	return obj, rest, true
}

// authorised checks the token's permissions for the object, answering 403 itself.
func (e *emulator) authorised(g *graphReq, obj photoObject, write bool) bool {
	t := g.tok
	ok := false
	if t.user != nil {
		// Delegated: a user may read any photo and change their own and their contacts'.
		ok = !write || obj.userID == t.user.ID
	} else {
		has := func(roles ...string) bool {
			for _, r := range roles {
				if t.roles[r] {
					return true
				}
			}
			return false
		}
		switch obj.kind {
		case "user":
			ok = has(RoleProfilePhotoReadWriteAll, RoleUserReadWriteAll) || (!write && has(RoleProfilePhotoReadAll, RoleUserReadAll))
		case "group":
			if write && g.r.Method == http.MethodDelete {
				ok = false // profilephoto-delete: application permissions are not supported for groups
			} else {
				ok = has(RoleProfilePhotoReadWriteAll, RoleGroupReadWriteAll) || (!write && has(RoleProfilePhotoReadAll, RoleGroupReadAll))
			}
		case "contact":
			ok = has(RoleContactsReadWrite) || (!write && has(RoleContactsRead))
		}
	}
	if !ok {
		g.fail(e, http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
	}
	return ok
}

func (e *emulator) photoWrite(g *graphReq, obj photoObject) {
	r := g.r
	if r.ContentLength > MaxPhotoBytes {
		g.fail(e, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request size exceeds the maximum limit.")
		return
	}
	var types []string
	for _, v := range r.Header.Values("Content-Type") {
		for _, part := range strings.Split(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				types = append(types, p)
			}
		}
	}
	if !contentTypeAccepted(types) {
		g.fail(e, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Content-Type was %s. Image Content-Type header should be one of the following: [%s].",
			strings.Join(types, ", "), strings.Join(imageContentTypes[:], ", ")))
		return
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		// Graph does not decode compressed uploads (msgraph-sdk-go-core#295): the bytes it sees
		// are not an image.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, MaxPhotoBytes+1))
		g.fail(e, http.StatusInternalServerError, "ErrorInternalServerError", "The file you chose isn't an image. Please choose a different file.")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxPhotoBytes+1))
	if err != nil {
		g.fail(e, http.StatusBadRequest, "BadRequest", "The request body could not be read.")
		return
	}
	if len(data) > MaxPhotoBytes {
		g.fail(e, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request size exceeds the maximum limit.")
		return
	}
	info, err := sniffImage(data)
	if err != nil {
		g.fail(e, http.StatusInternalServerError, "ErrorInternalServerError", "The file you chose isn't an image. Please choose a different file.")
		return
	}
	const badRequestException = "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ProfileBadRequestException' was thrown."
	if info.width < MinPhotoSide {
		g.fail(e, http.StatusBadRequest, "ValidationWidthTooSmall", badRequestException)
		return
	}
	if info.height < MinPhotoSide {
		g.fail(e, http.StatusBadRequest, "ValidationHeightTooSmall", badRequestException)
		return
	}
	if obj.kind == "group" && !obj.group.Unified {
		// A security group has no group mailbox to hold a photo (see the package doc).
		g.fail(e, http.StatusNotFound, "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
		return
	}
	e.store(obj.key, obj.path, data, info)
	g.w.WriteHeader(http.StatusOK)
}

// store keeps a photo as the object's current one, with a new media ETag.
func (e *emulator) store(key, path string, data []byte, info imageInfo) PhotoInfo {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	p := &photo{
		key: key, tenant: strings.SplitN(key, "|", 2)[0], target: path, data: data,
		width: info.width, height: info.height, contentType: info.contentType,
		etag: e.nextETag(), updated: now,
	}
	e.photos[key] = p
	return p.info()
}

// nextETag is the media ETag of the next stored photo. Graph's @odata.mediaEtag is an opaque
// version ("BA09D118" in profilephoto-get's example): it changes with every write, even of the
// same bytes, and says nothing about the content. The emulator numbers its writes and scrambles
// the number with a bijection of 32-bit integers keyed per emulator, so no two writes of one
// emulator share an ETag and no test can predict one or derive it from the bytes. Callers hold
// e.mu.
func (e *emulator) nextETag() string {
	e.writes++
	x := e.writes ^ e.etagKey
	x *= 0x9E3779B1 // odd: multiplication modulo 2^32 is a bijection
	x ^= x >> 16
	x *= 0x85EBCA6B
	x ^= x >> 13
	return fmt.Sprintf("\"%08X\"", x)
}

func (p *photo) info() PhotoInfo {
	return PhotoInfo{Tenant: p.tenant, Target: p.target, Data: append([]byte(nil), p.data...), Width: p.width, Height: p.height,
		ContentType: p.contentType, ETag: p.etag, Updated: p.updated}
}

func contentTypeAccepted(types []string) bool {
	if len(types) != 1 {
		return false
	}
	mt, _, err := mime.ParseMediaType(types[0])
	if err != nil {
		return false
	}
	if mt == "application/octet-stream" {
		return true
	}
	for _, t := range imageContentTypes {
		if mt == t {
			return true
		}
	}
	return false
}

func (e *emulator) stored(obj photoObject) *photo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.photos[obj.key]
}

func (e *emulator) noPhoto(g *graphReq, obj photoObject) {
	if obj.kind == "contact" {
		g.fail(e, http.StatusNotFound, "ErrorItemNotFound", "The photo wasn't found.")
		return
	}
	g.fail(e, http.StatusNotFound, "ImageNotFound", "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.")
}

func (e *emulator) photoValue(g *graphReq, obj photoObject) {
	p := e.stored(obj)
	if p == nil {
		e.noPhoto(g, obj)
		return
	}
	g.w.Header().Set("Content-Type", p.contentType)
	g.w.Header().Set("Content-Length", strconv.Itoa(len(p.data)))
	g.w.Header().Set("ETag", p.etag)
	g.w.WriteHeader(http.StatusOK)
	_, _ = g.w.Write(p.data)
}

// servedSize is the size metadata reports: the largest HD size not larger than the photo.
func servedSize(w, h int) int {
	side := min(w, h)
	best := photoSizes[0]
	for _, s := range photoSizes {
		if s <= side {
			best = s
		}
	}
	return best
}

func (e *emulator) photoMeta(g *graphReq, obj photoObject) {
	p := e.stored(obj)
	if p == nil {
		e.noPhoto(g, obj)
		return
	}
	side := servedSize(p.width, p.height)
	writeJSON(g.w, http.StatusOK, map[string]any{
		"@odata.context":          e.baseURL + "/v1.0/$metadata#" + obj.context + "/$entity",
		"@odata.mediaContentType": "image/jpeg",
		"@odata.mediaEtag":        p.etag,
		"id":                      fmt.Sprintf("%dx%d", side, side),
		"width":                   side,
		"height":                  side,
	})
}

func (e *emulator) photoDelete(g *graphReq, obj photoObject) {
	e.mu.Lock()
	p := e.photos[obj.key]
	delete(e.photos, obj.key)
	e.mu.Unlock()
	if p == nil {
		e.noPhoto(g, obj)
		return
	}
	g.w.WriteHeader(http.StatusOK)
}

// PhotoInfo describes a stored photo, for tests.
type PhotoInfo struct {
	Tenant      string
	Target      string // canonical path with object ids, e.g. users/{id}
	Data        []byte
	Width       int
	Height      int
	ContentType string
	ETag        string
	Updated     time.Time
}

// Photo returns the photo stored for a tenant's object path (users/{id}, groups/{id},
// users/{id}/contacts/{id}); ok is false when there is none. A UPN is resolved to the user's id.
func (s *Server) Photo(tenantID, target string) (PhotoInfo, bool) {
	d := s.emu.directory(tenantID)
	if d == nil {
		return PhotoInfo{}, false
	}
	if rest, ok := strings.CutPrefix(target, "users/"); ok {
		id, tail, _ := strings.Cut(rest, "/")
		if u := d.user(id); u != nil {
			target = "users/" + u.ID
			if tail != "" {
				target += "/" + tail
			}
		}
	}
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	p := s.emu.photos[d.tenant.ID+"|"+target]
	if p == nil {
		return PhotoInfo{}, false
	}
	return p.info(), true
}

// SetPhoto changes a photo "from outside", as a person does in Outlook or Teams or an admin in
// the Microsoft 365 admin center: no request reaches the emulator's log, no token or fault is
// involved, and the photo gets a new media ETag like any write. target is users/{id|upn},
// groups/{id}, users/{id|upn}/contacts/{id} or users/{id|upn}/contactfolders/{folderId}/contacts/{id};
// data is a JPEG, PNG, GIF or BMP of at least 48×48 pixels.
func (s *Server) SetPhoto(tenantID, target string, data []byte) (PhotoInfo, error) {
	d := s.emu.directory(tenantID)
	if d == nil {
		return PhotoInfo{}, fmt.Errorf("graphtest: unknown tenant %q", tenantID)
	}
	path, err := d.canonical(target)
	if err != nil {
		return PhotoInfo{}, fmt.Errorf("graphtest: set photo of %q: %w", target, err)
	}
	info, err := sniffImage(data)
	if err != nil || info.width < MinPhotoSide || info.height < MinPhotoSide {
		return PhotoInfo{}, fmt.Errorf("graphtest: set photo of %q: want an image of at least %dx%d pixels", target, MinPhotoSide, MinPhotoSide)
	}
	return s.emu.store(d.tenant.ID+"|"+path, path, append([]byte(nil), data...), info), nil
}

// SetAppSecrets replaces an app's client secrets, as a rotation in Entra would.
func (s *Server) SetAppSecrets(tenantID, clientID string, secrets ...string) error {
	d := s.emu.directory(tenantID)
	if d == nil {
		return errors.New("unknown tenant")
	}
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	app := d.apps[strings.ToLower(clientID)]
	if app == nil {
		return errors.New("unknown app")
	}
	app.secrets = append([]string(nil), secrets...)
	return nil
}
