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
	tok, err := iss.Issue("oid-1", "alice@contoso.com", []string{"Photos.ReadWrite.All", "Other"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims["oid"] != "oid-1" || claims["upn"] != "alice@contoso.com" || claims["roles"] != "[Photos.ReadWrite.All Other]" {
		t.Errorf("claims %v", claims)
	}

	other, _ := NewIssuer("https://devstack.local")
	forged, _ := other.Issue("oid-1", "alice@contoso.com", nil, time.Hour)
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + b64(`{"oid":"admin","iss":"https://devstack.local","aud":"api://graphphoto-devstack","exp":9999999999}`) + "." + parts[2]
	expired, _ := iss.Issue("oid-1", "", nil, -time.Minute)
	noOID, _ := iss.Issue("", "x@y", nil, time.Hour)
	for name, bad := range map[string]string{
		"other key": forged, "tampered": tampered, "expired": expired, "no oid": noOID,
		"garbage": "a.b", "empty": "", "alg none": b64(`{"alg":"none"}`) + "." + parts[1] + ".",
	} {
		if _, err := iss.Verify(bad); !errors.Is(err, ErrToken) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
