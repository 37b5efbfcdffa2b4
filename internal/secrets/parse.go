package secrets

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// secretJSON is the value of the credentials secret (docs/architecture.md §6). Unknown members are
// allowed so that operators may keep notes (expiry dates, owners) in the same secret.
type secretJSON struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Certificate  string `json:"certificate"`
	PrivateKey   string `json:"privateKey"`
	Cloud        string `json:"cloud"`
}

// ParseCredentials parses and validates the credentials JSON of docs/architecture.md §6:
// {"tenantId","clientId","clientSecret"} or {"tenantId","clientId","certificate","privateKey"}
// (PEM), with an optional "cloud" (global, usgov, usgovdod or china).
//
// A certificate must hold one or more X.509 CERTIFICATE blocks and nothing else; the private
// key must be one unencrypted PKCS#1, PKCS#8 or SEC 1 (EC) block. Because MSAL and Entra ID
// sign client assertions with RSA only, the key must be RSA and match one of the certificates;
// finding that here gives a clear error at the first read instead of an opaque one at the
// token endpoint.
//
// Errors name the field at fault and never include any part of the value: JSON syntax errors
// report the byte offset only, and key parse errors do not wrap the parser's text.
func ParseCredentials(value []byte) (graph.Credentials, error) {
	var s secretJSON
	if err := json.Unmarshal(value, &s); err != nil {
		return graph.Credentials{}, describeJSONError(value, err)
	}
	c := graph.Credentials{
		TenantID:     s.TenantID,
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		Cloud:        s.Cloud,
	}
	if s.Certificate != "" {
		c.CertificatePEM = []byte(s.Certificate)
	}
	if s.PrivateKey != "" {
		c.PrivateKeyPEM = []byte(s.PrivateKey)
	}
	if err := c.Validate(); err != nil {
		return graph.Credentials{}, err
	}
	if len(c.PrivateKeyPEM) > 0 && len(c.CertificatePEM) == 0 {
		return graph.Credentials{}, errors.New("credentials: privateKey is set without certificate")
	}
	if len(c.CertificatePEM) == 0 {
		return c, nil
	}
	certs, err := parseCertificates(c.CertificatePEM)
	if err != nil {
		return graph.Credentials{}, err
	}
	key, err := parsePrivateKey(c.PrivateKeyPEM)
	if err != nil {
		return graph.Credentials{}, err
	}
	if err := matchKey(certs, key); err != nil {
		return graph.Credentials{}, err
	}
	return c, nil
}

// describeJSONError rewrites a decoding error without the offending text: Go's syntax errors
// quote the character they stopped at, which would be a character of the secret.
func describeJSONError(value []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(value)) == 0:
		return errors.New("credentials: secret value is empty")
	case errors.As(err, &syntax):
		return fmt.Errorf("credentials: secret value is not valid JSON (syntax error at byte %d of %d)", syntax.Offset, len(value))
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("credentials: secret value is a JSON %s, want an object", typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("credentials: %s is a JSON %s, want a string", typ.Field, typ.Value)
	}
	return errors.New("credentials: secret value is not a JSON object")
}

func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case strings.Contains(block.Type, "PRIVATE KEY"):
			// Refuse rather than ignore: the certificate is not treated as secret, so a key
			// inside it could reach a log.
			return nil, errors.New("credentials: certificate holds a private key block; put the key in privateKey only")
		case block.Type != "CERTIFICATE":
			return nil, fmt.Errorf("credentials: certificate holds a PEM block of type %q, want CERTIFICATE", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			// The certificate is public, so the parser's text may be shown.
			return nil, fmt.Errorf("credentials: certificate block %d is not an X.509 certificate: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("credentials: certificate is not PEM (no CERTIFICATE block found)")
	}
	return certs, nil
}

func parsePrivateKey(data []byte) (crypto.PrivateKey, error) {
	var key crypto.PrivateKey
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, ok := block.Headers["DEK-Info"]; ok || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("credentials: privateKey is encrypted; store it unencrypted (the secret itself is encrypted by KMS)")
		}
		// Block types are not echoed: every byte of privateKey is treated as secret.
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return nil, errors.New("credentials: privateKey holds a PEM block that is not a private key")
		}
		if key != nil {
			return nil, errors.New("credentials: privateKey holds more than one key")
		}
		// The parsers' error texts are not wrapped: they could describe the key's bytes.
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
				return nil, errors.New("credentials: privateKey block PRIVATE KEY is not a PKCS#8 key")
			}
		case "RSA PRIVATE KEY":
			if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
				return nil, errors.New("credentials: privateKey block RSA PRIVATE KEY is not a PKCS#1 key")
			}
		case "EC PRIVATE KEY":
			if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
				return nil, errors.New("credentials: privateKey block EC PRIVATE KEY is not a SEC 1 EC key")
			}
		default:
			return nil, errors.New("credentials: privateKey block type is not supported (want PRIVATE KEY or RSA PRIVATE KEY)")
		}
	}
	if key == nil {
		return nil, errors.New("credentials: privateKey is not PEM (no PRIVATE KEY block found)")
	}
	return key, nil
}

// matchKey checks that the key is RSA (the only kind MSAL and Entra ID accept for certificate
// credentials) and belongs to one of the certificates.
func matchKey(certs []*x509.Certificate, key crypto.PrivateKey) error {
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("credentials: privateKey is an %s key; Entra ID certificate credentials need RSA", keyKind(key))
	}
	for _, cert := range certs {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && rsaKey.PublicKey.Equal(pub) {
			return nil
		}
	}
	return errors.New("credentials: privateKey does not belong to any certificate in certificate")
}

func keyKind(key crypto.PrivateKey) string {
	switch key.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA"
	case ed25519.PrivateKey:
		return "Ed25519"
	}
	return fmt.Sprintf("unsupported (%T)", key)
}
