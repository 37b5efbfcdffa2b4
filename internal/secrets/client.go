package secrets

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// NewClient is the Secrets Manager client a Source should read with: cfg's, with optFns, except
// that it never follows a redirect. The SDK's own HTTP client lets 307 and 308 through (net/http
// follows them when it can replay the body), and a plain net/http client follows every
// redirect: the signed call, or a GET, would go to wherever Location points, and that server's
// answer would be taken for the app's credentials. A redirect is refused with ReasonRedirect.
func NewClient(cfg aws.Config, optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg, append(optFns, func(o *secretsmanager.Options) {
		o.HTTPClient = withoutRedirects(o.HTTPClient)
	})...)
}

// withoutRedirects keeps c's transport and timeouts and replaces only its redirect policy. The
// SDK's BuildableClient is frozen as it stands (connect, TLS and read timeouts included).
func withoutRedirects(c secretsmanager.HTTPClient) secretsmanager.HTTPClient {
	var hc *http.Client
	switch c := c.(type) {
	case *awshttp.BuildableClient:
		hc, _ = c.Freeze().(*http.Client)
	case *http.Client:
		hc = c
	}
	if hc == nil {
		// A client of another kind cannot be told not to follow: use the SDK's default, which can.
		hc, _ = awshttp.NewBuildableClient().Freeze().(*http.Client)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return graph.NoRedirects(hc)
}
