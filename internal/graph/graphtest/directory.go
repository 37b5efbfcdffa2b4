package graphtest

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Photo-related application permissions (app roles) the emulator understands.
const (
	RoleProfilePhotoReadWriteAll = "ProfilePhoto.ReadWrite.All"
	RoleProfilePhotoReadAll      = "ProfilePhoto.Read.All"
	RoleUserReadWriteAll         = "User.ReadWrite.All"
	RoleUserReadAll              = "User.Read.All"
	RoleGroupReadWriteAll        = "Group.ReadWrite.All"
	RoleGroupReadAll             = "Group.Read.All"
	RoleContactsReadWrite        = "Contacts.ReadWrite"
	RoleContactsRead             = "Contacts.Read"
)

// defaultRoles are granted to an App that lists no roles: what a photo sync app is consented to.
func defaultRoles() []string { return []string{RoleProfilePhotoReadWriteAll, RoleContactsReadWrite} }

// Tenant is one Entra ID directory.
type Tenant struct {
	ID      string   `json:"id"`      // tenant id (a GUID in Entra)
	Domains []string `json:"domains"` // verified domains, usable in place of the id in authority URLs
	Apps    []App    `json:"apps"`
	Users   []User   `json:"users"`
	Groups  []Group  `json:"groups"`
}

// App is an app registration with its client credentials and consented application permissions.
type App struct {
	ClientID string   `json:"clientId"`
	Secrets  []string `json:"secrets,omitempty"`
	// Certificates are PEM certificates whose keys may sign client assertions. In a seed file
	// the JSON field certificateFiles lists PEM paths instead (relative to the seed file).
	Certificates     [][]byte `json:"-"`
	CertificateFiles []string `json:"certificateFiles,omitempty"`
	// Roles are the consented application permissions; nil means ProfilePhoto.ReadWrite.All and
	// Contacts.ReadWrite.
	Roles []string `json:"roles,omitempty"`
}

// User is a directory user. Contacts are the Outlook contacts in the user's mailbox.
type User struct {
	ID       string    `json:"id"`
	UPN      string    `json:"userPrincipalName"`
	Contacts []Contact `json:"contacts,omitempty"`
}

// Contact is an Outlook contact; FolderID is the contact folder holding it ("" for the default).
type Contact struct {
	ID       string `json:"id"`
	FolderID string `json:"folderId,omitempty"`
}

// Group is a directory group. Unified groups (Microsoft 365 groups) have a mailbox and a photo;
// security groups do not, and the emulator refuses their photo writes (see the package doc).
type Group struct {
	ID      string `json:"id"`
	Unified bool   `json:"unified"`
}

// Seed is the JSON file cmd/graphemu reads: the tenants to serve and, optionally, the Graph
// resource the tokens are for.
type Seed struct {
	Tenants       []Tenant `json:"tenants"`
	GraphResource string   `json:"graphResource,omitempty"`
}

// LoadSeed reads a seed file and the certificate files it names (paths relative to the file).
func LoadSeed(path string) (Seed, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("read seed: %w", err)
	}
	var s Seed
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Seed{}, fmt.Errorf("parse seed %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for ti := range s.Tenants {
		for ai := range s.Tenants[ti].Apps {
			app := &s.Tenants[ti].Apps[ai]
			for _, f := range app.CertificateFiles {
				if !filepath.IsAbs(f) {
					f = filepath.Join(dir, f)
				}
				pemBytes, err := os.ReadFile(f)
				if err != nil {
					return Seed{}, fmt.Errorf("seed app %s: read certificate: %w", app.ClientID, err)
				}
				app.Certificates = append(app.Certificates, pemBytes)
			}
		}
	}
	return s, nil
}

// directory is the emulator's indexed view of one tenant.
type directory struct {
	tenant   Tenant
	apps     map[string]*appState // by client id (lower case)
	users    map[string]*User     // by object id (lower case)
	upns     map[string]*User     // by UPN (lower case)
	groups   map[string]*Group    // by id (lower case)
	contacts map[string]*Contact  // by user id + "\x00" + contact id
}

type appState struct {
	clientID string
	secrets  []string
	certs    []*x509.Certificate
	roles    map[string]bool
}

func newDirectory(t Tenant) (*directory, error) {
	if t.ID == "" {
		return nil, fmt.Errorf("tenant without id")
	}
	d := &directory{
		tenant:   t,
		apps:     map[string]*appState{},
		users:    map[string]*User{},
		upns:     map[string]*User{},
		groups:   map[string]*Group{},
		contacts: map[string]*Contact{},
	}
	for _, a := range t.Apps {
		st := &appState{clientID: a.ClientID, secrets: a.Secrets, roles: map[string]bool{}}
		roles := a.Roles
		if roles == nil {
			roles = defaultRoles()
		}
		for _, r := range roles {
			st.roles[r] = true
		}
		for _, p := range a.Certificates {
			certs, err := parseCerts(p)
			if err != nil {
				return nil, fmt.Errorf("tenant %s app %s: %w", t.ID, a.ClientID, err)
			}
			st.certs = append(st.certs, certs...)
		}
		d.apps[strings.ToLower(a.ClientID)] = st
	}
	for i := range t.Users {
		u := &t.Users[i]
		d.users[strings.ToLower(u.ID)] = u
		if u.UPN != "" {
			d.upns[strings.ToLower(u.UPN)] = u
		}
		for j := range u.Contacts {
			c := &u.Contacts[j]
			d.contacts[strings.ToLower(u.ID)+"\x00"+c.ID] = c
		}
	}
	for i := range t.Groups {
		g := &t.Groups[i]
		d.groups[strings.ToLower(g.ID)] = g
	}
	return d, nil
}

func parseCerts(p []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, p = pem.Decode(p)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE block in certificate PEM")
	}
	return out, nil
}

// user finds a user by object id or UPN, case-insensitively, as Graph does.
func (d *directory) user(idOrUPN string) *User {
	k := strings.ToLower(idOrUPN)
	if u := d.users[k]; u != nil {
		return u
	}
	return d.upns[k]
}

func (d *directory) matches(tenant string) bool {
	if strings.EqualFold(tenant, d.tenant.ID) {
		return true
	}
	for _, dom := range d.tenant.Domains {
		if strings.EqualFold(tenant, dom) {
			return true
		}
	}
	return false
}

// canonical resolves a target path (users/{id|upn}[/contacts/{id} | /contactfolders/{f}/contacts/{id}]
// or groups/{id}) to the canonical path photos are kept under, as the request routes do: object
// ids, contacts without their folder.
func (d *directory) canonical(target string) (string, error) {
	segs := strings.Split(strings.Trim(target, "/"), "/")
	switch {
	case len(segs) == 2 && strings.EqualFold(segs[0], "groups"):
		g := d.groups[strings.ToLower(segs[1])]
		if g == nil {
			return "", fmt.Errorf("no group %q", segs[1])
		}
		return "groups/" + g.ID, nil
	case len(segs) >= 2 && strings.EqualFold(segs[0], "users"):
		u := d.user(segs[1])
		if u == nil {
			return "", fmt.Errorf("no user %q", segs[1])
		}
		var folder, contact string
		switch rest := segs[2:]; {
		case len(rest) == 0:
			return "users/" + u.ID, nil
		case len(rest) == 2 && strings.EqualFold(rest[0], "contacts"):
			contact = rest[1]
		case len(rest) == 4 && strings.EqualFold(rest[0], "contactfolders") && strings.EqualFold(rest[2], "contacts"):
			folder, contact = rest[1], rest[3]
		default:
			return "", fmt.Errorf("not a photo owner's path")
		}
		c := d.contacts[strings.ToLower(u.ID)+"\x00"+contact]
		if c == nil || (folder != "" && c.FolderID != folder) {
			return "", fmt.Errorf("no contact %q of user %q", contact, u.ID)
		}
		return "users/" + u.ID + "/contacts/" + c.ID, nil
	}
	return "", fmt.Errorf("not a photo owner's path")
}
