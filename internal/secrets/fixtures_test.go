package secrets

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"
)

// fixtures are keys and certificates made once per test binary (RSA key generation is slow).
type fixtures struct {
	certPEM      string // self-signed certificate of rsaKey
	otherCertPEM string // certificate of an ECDSA key, as in a chain
	pkcs8PEM     string // rsaKey
	pkcs1PEM     string // rsaKey
	otherPKCS8   string // a second RSA key, matching no certificate
	ecSEC1PEM    string
	ecPKCS8PEM   string
	ed25519PEM   string
}

var loadFixtures = sync.OnceValues(makeFixtures)

func testFixtures(t testing.TB) fixtures {
	t.Helper()
	f, err := loadFixtures()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func makeFixtures() (fixtures, error) {
	var f fixtures
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, err
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return f, err
	}
	if f.certPEM, err = selfSigned(rsaKey, "graphphoto test app"); err != nil {
		return f, err
	}
	if f.otherCertPEM, err = selfSigned(ecKey, "graphphoto test CA"); err != nil {
		return f, err
	}
	for _, k := range []struct {
		dst *string
		key crypto.PrivateKey
	}{{&f.pkcs8PEM, rsaKey}, {&f.otherPKCS8, other}, {&f.ecPKCS8PEM, ecKey}, {&f.ed25519PEM, edKey}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return f, err
		}
		*k.dst = pemString("PRIVATE KEY", der)
	}
	f.pkcs1PEM = pemString("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		return f, err
	}
	f.ecSEC1PEM = pemString("EC PRIVATE KEY", sec1)
	return f, nil
}

func selfSigned(key crypto.Signer, cn string) (string, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", err
	}
	return pemString("CERTIFICATE", der), nil
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// secretJSONOf encodes fields as the secret's JSON; a nil value is left out.
func secretJSONOf(t testing.TB, fields map[string]any) string {
	t.Helper()
	m := map[string]any{}
	for k, v := range fields {
		if v != nil {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
