package secrets

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	testTenant       = "11111111-2222-3333-4444-555555555555"
	testClient       = "66666666-7777-8888-9999-000000000000"
	testClientSecret = "cs~Sup3rS3cretValue.DoNotLog_0123456789"
)

func TestParseCredentials(t *testing.T) {
	fx := testFixtures(t)
	secretFields := func(extra map[string]any) map[string]any {
		m := map[string]any{"tenantId": testTenant, "clientId": testClient, "clientSecret": testClientSecret}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	certFields := func(extra map[string]any) map[string]any {
		m := map[string]any{"tenantId": testTenant, "clientId": testClient, "certificate": fx.certPEM, "privateKey": fx.pkcs8PEM}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	encryptedPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("ciphertext")}))

	for _, tc := range []struct {
		name    string
		value   string // used when fields is nil
		fields  map[string]any
		wantErr string // "" for success
		cert    bool
		cloud   string
	}{
		{name: "client secret", fields: secretFields(nil)},
		{name: "client secret, extra members kept by operators", fields: secretFields(map[string]any{"expires": "2027-01-01", "owner": "it"})},
		{name: "cloud global", fields: secretFields(map[string]any{"cloud": "global"}), cloud: "global"},
		{name: "cloud usgov", fields: secretFields(map[string]any{"cloud": "usgov"}), cloud: "usgov"},
		{name: "cloud usgovdod", fields: secretFields(map[string]any{"cloud": "usgovdod"}), cloud: "usgovdod"},
		{name: "cloud china", fields: secretFields(map[string]any{"cloud": "china"}), cloud: "china"},
		{name: "certificate with PKCS#8 key", fields: certFields(nil), cert: true},
		{name: "certificate with PKCS#1 key", fields: certFields(map[string]any{"privateKey": fx.pkcs1PEM}), cert: true},
		{name: "certificate chain, leaf second", fields: certFields(map[string]any{"certificate": fx.otherCertPEM + fx.certPEM}), cert: true},
		{name: "certificate, cloud china", fields: certFields(map[string]any{"cloud": "china"}), cert: true, cloud: "china"},

		{name: "missing tenantId", fields: secretFields(map[string]any{"tenantId": nil}), wantErr: "tenantId is empty"},
		{name: "empty tenantId", fields: secretFields(map[string]any{"tenantId": ""}), wantErr: "tenantId is empty"},
		{name: "null tenantId", value: `{"tenantId":null,"clientId":"c","clientSecret":"` + testClientSecret + `"}`, wantErr: "tenantId is empty"},
		{name: "missing clientId", fields: secretFields(map[string]any{"clientId": nil}), wantErr: "clientId is empty"},
		{name: "missing clientSecret and certificate", fields: secretFields(map[string]any{"clientSecret": nil}), wantErr: "neither clientSecret nor certificate"},
		{name: "both clientSecret and certificate", fields: certFields(map[string]any{"clientSecret": testClientSecret}), wantErr: "both clientSecret and certificate"},
		{name: "certificate without privateKey", fields: certFields(map[string]any{"privateKey": nil}), wantErr: "certificate is set without privateKey"},
		{name: "privateKey without certificate", fields: secretFields(map[string]any{"privateKey": fx.pkcs8PEM}), wantErr: "privateKey is set without certificate"},
		{name: "unknown cloud", fields: secretFields(map[string]any{"cloud": "mars"}), wantErr: `unknown cloud "mars"`},
		{name: "cloud in capitals", fields: secretFields(map[string]any{"cloud": "USGov"}), wantErr: "unknown cloud"},

		{name: "empty value", value: "", wantErr: "secret value is empty"},
		{name: "blank value", value: " \n", wantErr: "secret value is empty"},
		{name: "plain string, not JSON", value: testClientSecret, wantErr: "not valid JSON (syntax error at byte"},
		{name: "truncated JSON", value: `{"tenantId":"` + testTenant + `","clientSecret":"` + testClientSecret, wantErr: "not valid JSON"},
		{name: "JSON array", value: `["` + testClientSecret + `"]`, wantErr: "secret value is a JSON array, want an object"},
		{name: "JSON string", value: `"` + testClientSecret + `"`, wantErr: "secret value is a JSON string, want an object"},
		{name: "tenantId a number", value: `{"tenantId":42,"clientId":"c","clientSecret":"` + testClientSecret + `"}`, wantErr: "tenantId is a JSON number, want a string"},
		{name: "clientSecret an object", value: `{"tenantId":"t","clientId":"c","clientSecret":{"v":"` + testClientSecret + `"}}`, wantErr: "clientSecret is a JSON object, want a string"},

		{name: "certificate not PEM", fields: certFields(map[string]any{"certificate": "MIIB-not-pem"}), wantErr: "certificate is not PEM"},
		{name: "certificate block not X.509", fields: certFields(map[string]any{"certificate": pemString("CERTIFICATE", []byte("garbage"))}), wantErr: "certificate block 1 is not an X.509 certificate"},
		{name: "certificate holds the key too", fields: certFields(map[string]any{"certificate": fx.certPEM + fx.pkcs8PEM}), wantErr: "certificate holds a private key block"},
		{name: "certificate holds a CSR", fields: certFields(map[string]any{"certificate": pemString("CERTIFICATE REQUEST", []byte("x"))}), wantErr: `PEM block of type "CERTIFICATE REQUEST", want CERTIFICATE`},
		{name: "privateKey not PEM", fields: certFields(map[string]any{"privateKey": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"}), wantErr: "privateKey is not PEM"},
		{name: "privateKey PKCS#8 garbage", fields: certFields(map[string]any{"privateKey": pemString("PRIVATE KEY", []byte("garbage-key-bytes"))}), wantErr: "privateKey block PRIVATE KEY is not a PKCS#8 key"},
		{name: "privateKey PKCS#1 garbage", fields: certFields(map[string]any{"privateKey": pemString("RSA PRIVATE KEY", []byte("garbage-key-bytes"))}), wantErr: "not a PKCS#1 key"},
		{name: "privateKey EC garbage", fields: certFields(map[string]any{"privateKey": pemString("EC PRIVATE KEY", []byte("garbage-key-bytes"))}), wantErr: "not a SEC 1 EC key"},
		{name: "privateKey encrypted (PKCS#8)", fields: certFields(map[string]any{"privateKey": pemString("ENCRYPTED PRIVATE KEY", []byte("x"))}), wantErr: "privateKey is encrypted"},
		{name: "privateKey encrypted (legacy DEK-Info)", fields: certFields(map[string]any{"privateKey": encryptedPEM}), wantErr: "privateKey is encrypted"},
		{name: "privateKey is a certificate", fields: certFields(map[string]any{"privateKey": fx.certPEM}), wantErr: "privateKey holds a PEM block that is not a private key"},
		{name: "privateKey OpenSSH", fields: certFields(map[string]any{"privateKey": pemString("OPENSSH PRIVATE KEY", []byte("x"))}), wantErr: "privateKey block type is not supported"},
		{name: "two private keys", fields: certFields(map[string]any{"privateKey": fx.pkcs8PEM + fx.pkcs1PEM}), wantErr: "more than one key"},
		{name: "EC key (SEC 1)", fields: certFields(map[string]any{"privateKey": fx.ecSEC1PEM, "certificate": fx.otherCertPEM}), wantErr: "privateKey is an ECDSA key; Entra ID certificate credentials need RSA"},
		{name: "EC key (PKCS#8)", fields: certFields(map[string]any{"privateKey": fx.ecPKCS8PEM}), wantErr: "ECDSA key"},
		{name: "Ed25519 key", fields: certFields(map[string]any{"privateKey": fx.ed25519PEM}), wantErr: "Ed25519 key"},
		{name: "key of another certificate", fields: certFields(map[string]any{"privateKey": fx.otherPKCS8}), wantErr: "privateKey does not belong to any certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			value := tc.value
			if tc.fields != nil {
				value = secretJSONOf(t, tc.fields)
			}
			c, err := ParseCredentials([]byte(value))
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("accepted; want error %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want it to contain %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "credentials: ") {
					t.Errorf("error %q does not start with the package's lower-case prefix", err)
				}
				assertNoSecret(t, err.Error(), fx)
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if c.TenantID != testTenant || c.ClientID != testClient || c.Cloud != tc.cloud {
				t.Errorf("got %v", c)
			}
			if tc.cert {
				if c.ClientSecret != "" || len(c.CertificatePEM) == 0 || len(c.PrivateKeyPEM) == 0 {
					t.Errorf("certificate credentials: %v", c)
				}
				if !bytes.Equal(c.PrivateKeyPEM, []byte(tc.fields["privateKey"].(string))) {
					t.Error("PrivateKeyPEM is not the secret's privateKey")
				}
			} else if c.ClientSecret != testClientSecret || c.CertificatePEM != nil || c.PrivateKeyPEM != nil {
				t.Errorf("secret credentials: %v", c)
			}
		})
	}
}

// assertNoSecret fails when text holds the client secret or a line of any private key.
func assertNoSecret(t testing.TB, text string, fx fixtures) {
	t.Helper()
	if strings.Contains(text, testClientSecret) || strings.Contains(text, "Sup3rS3cret") {
		t.Fatalf("client secret in %q", text)
	}
	for _, key := range []string{fx.pkcs8PEM, fx.pkcs1PEM, fx.otherPKCS8, fx.ecSEC1PEM, fx.ecPKCS8PEM, fx.ed25519PEM} {
		for _, line := range strings.Split(key, "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
				t.Fatalf("private key material %q in %q", line, text)
			}
		}
	}
}

// FuzzParseCredentials checks that any value either parses into credentials that validate, or
// fails with an error that echoes nothing from clientSecret or privateKey. The marker "§"
// placed in those members must not reach the error unless it also sits where errors may quote
// (member names, cloud, certificate).
func FuzzParseCredentials(f *testing.F) {
	fx := testFixtures(f)
	f.Add([]byte(`{"tenantId":"t","clientId":"c","clientSecret":"s§cret"}`))
	f.Add([]byte(`{"tenantId":"t","clientId":"c","clientSecret":"s§cret","cloud":"usgov"}`))
	f.Add([]byte(`{"tenantId":"t","clientId":"c","certificate":` + jsonString(fx.certPEM) + `,"privateKey":` + jsonString(fx.pkcs8PEM) + `}`))
	f.Add([]byte(`{"tenantId":"t","clientId":"c","certificate":` + jsonString(fx.certPEM) + `,"privateKey":"-----BEGIN §§ PRIVATE KEY-----\n§§§§\n-----END §§ PRIVATE KEY-----\n"}`))
	f.Add([]byte(`{"tenantId":"t","clientId":"c","clientSecret":§}`))
	f.Add([]byte(`"§"`))
	f.Add([]byte(`{"tenantId":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCredentials(data)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("parsed credentials do not validate: %v", verr)
			}
			return
		}
		msg := err.Error()
		if !utf8.ValidString(msg) && utf8.Valid(data) {
			t.Fatalf("error is not UTF-8: %q", msg)
		}
		if !strings.Contains(msg, "§") {
			return
		}
		// The error holds the marker: allowed only if the marker sits outside the two secret
		// members, or the input is not JSON we can attribute.
		outside := bytes.ReplaceAll(data, []byte("§"), nil)
		if len(outside) == len(data) {
			return
		}
		var probe struct{ ClientSecret, PrivateKey *string }
		if jsonUnmarshal(data, &probe) != nil {
			t.Fatalf("error %q quotes the marker from a value that is not JSON", msg)
		}
		inSecrets := 0
		for _, v := range []*string{probe.ClientSecret, probe.PrivateKey} {
			if v != nil {
				inSecrets += strings.Count(*v, "§")
			}
		}
		if inSecrets > 0 && inSecrets == bytes.Count(data, []byte("§")) {
			t.Fatalf("error %q quotes clientSecret or privateKey", msg)
		}
	})
}
