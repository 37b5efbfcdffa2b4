package devstack

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	iss, err := NewIssuer("https://devstack.local")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue("oid-1", "alice@contoso.com", []string{"Photos.ReadWrite.All", "Other"}, []string{"Photos.Write", "User.Read"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims["oid"] != "oid-1" || claims["upn"] != "alice@contoso.com" || claims["roles"] != "[Photos.ReadWrite.All Other]" ||
		claims["scp"] != "Photos.Write User.Read" || claims["idtyp"] != "" {
		t.Errorf("claims %v", claims)
	}
	// An app's own token: no user, no scp, idtyp app.
	app, _ := iss.Issue("oid-app", "", []string{"Photos.ReadWrite.All"}, nil, time.Hour)
	if claims, err := iss.Verify(app); err != nil || claims["scp"] != "" || claims["idtyp"] != "app" || claims["upn"] != "" {
		t.Errorf("app token claims %v, %v", claims, err)
	}

	other, _ := NewIssuer("https://devstack.local")
	forged, _ := other.Issue("oid-1", "alice@contoso.com", nil, []string{UserScope}, time.Hour)
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + b64(`{"oid":"admin","iss":"https://devstack.local","aud":"api://graphphoto-devstack","exp":9999999999}`) + "." + parts[2]
	expired, _ := iss.Issue("oid-1", "", nil, nil, -time.Minute)
	noOID, _ := iss.Issue("", "x@y", nil, []string{UserScope}, time.Hour)
	for name, bad := range map[string]string{
		"other key": forged, "tampered": tampered, "expired": expired, "no oid": noOID,
		"garbage": "a.b", "empty": "", "alg none": b64(`{"alg":"none"}`) + "." + parts[1] + ".",
	} {
		if _, err := iss.Verify(bad); !errors.Is(err, ErrToken) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
