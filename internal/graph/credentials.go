package graph

import (
	"context"
	"fmt"
)

// Credentials are an Entra ID application's client credentials: a client secret, or a
// certificate with its private key (PEM). They are secret: String and the error texts of this
// package never include ClientSecret or PrivateKeyPEM.
type Credentials struct {
	TenantID       string
	ClientID       string
	ClientSecret   string
	CertificatePEM []byte
	PrivateKeyPEM  []byte
	// Cloud is one of the names of Clouds ("global" when empty).
	Cloud string
}

// CredentialsSource supplies the app's credentials. The client asks with fresh=true once after
// the token endpoint rejected the credentials it had, so a rotated secret is picked up without
// a restart; a source that caches must bypass its cache then.
type CredentialsSource interface {
	Credentials(ctx context.Context, fresh bool) (Credentials, error)
}

// StaticCredentials is a CredentialsSource that always answers with the same credentials.
type StaticCredentials Credentials

// Credentials implements CredentialsSource.
func (s StaticCredentials) Credentials(context.Context, bool) (Credentials, error) {
	return Credentials(s), nil
}

// Validate reports the first missing or contradictory field, naming the field but never its value.
func (c Credentials) Validate() error {
	switch {
	case c.TenantID == "":
		return fmt.Errorf("credentials: tenantId is empty")
	case c.ClientID == "":
		return fmt.Errorf("credentials: clientId is empty")
	case c.ClientSecret == "" && len(c.CertificatePEM) == 0:
		return fmt.Errorf("credentials: neither clientSecret nor certificate is set")
	case c.ClientSecret != "" && len(c.CertificatePEM) > 0:
		return fmt.Errorf("credentials: both clientSecret and certificate are set; keep one")
	case len(c.CertificatePEM) > 0 && len(c.PrivateKeyPEM) == 0:
		return fmt.Errorf("credentials: certificate is set without privateKey")
	}
	if _, ok := LookupCloud(c.Cloud); !ok {
		return fmt.Errorf("credentials: unknown cloud %q (want global, usgov, usgovdod or china)", c.Cloud)
	}
	return nil
}

func (c Credentials) cloudName() string {
	if c.Cloud == "" {
		return "global"
	}
	return c.Cloud
}

// String keeps secrets out of logs that print a Credentials value by accident.
func (c Credentials) String() string {
	kind := "secret"
	if len(c.CertificatePEM) > 0 {
		kind = "certificate"
	}
	return fmt.Sprintf("Credentials{tenant=%s client=%s kind=%s cloud=%s}", c.TenantID, c.ClientID, kind, c.cloudName())
}

// GoString keeps secrets out of %#v.
func (c Credentials) GoString() string { return c.String() }

// Cloud holds the two endpoints of one Microsoft cloud.
type Cloud struct {
	Authority string // token authority host, without tenant
	Graph     string // Graph endpoint, without version
}

// LookupCloud returns the endpoints of a national cloud by its name
// (docs/graph-photo-api.md#national-clouds); "" is global.
func LookupCloud(name string) (Cloud, bool) {
	switch name {
	case "", "global":
		return Cloud{Authority: "https://login.microsoftonline.com", Graph: "https://graph.microsoft.com"}, true
	case "usgov":
		return Cloud{Authority: "https://login.microsoftonline.us", Graph: "https://graph.microsoft.us"}, true
	case "usgovdod":
		return Cloud{Authority: "https://login.microsoftonline.us", Graph: "https://dod-graph.microsoft.us"}, true
	case "china":
		return Cloud{Authority: "https://login.partner.microsoftonline.cn", Graph: "https://microsoftgraph.chinacloudapi.cn"}, true
	}
	return Cloud{}, false
}

// WithCloud makes src's credentials use cloud (GRAPH_CLOUD), whatever cloud they name
// themselves; an empty cloud returns src unchanged.
func WithCloud(src CredentialsSource, cloud string) CredentialsSource {
	if cloud == "" {
		return src
	}
	return cloudOverride{src: src, cloud: cloud}
}

type cloudOverride struct {
	src   CredentialsSource
	cloud string
}

func (o cloudOverride) Credentials(ctx context.Context, fresh bool) (Credentials, error) {
	c, err := o.src.Credentials(ctx, fresh)
	if err == nil {
		c.Cloud = o.cloud
	}
	return c, err
}
