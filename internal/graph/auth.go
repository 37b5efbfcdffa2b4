package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// Endpoints are the URLs a client uses for one set of credentials.
type Endpoints struct {
	Authority         string // token authority with tenant, e.g. https://login.microsoftonline.com/{tenant}
	Graph             string // Graph base without version, e.g. https://graph.microsoft.com
	Scope             string // {graph resource}/.default
	InstanceDiscovery bool   // MSAL authority validation; off for overridden (emulator) authorities
}

// ResolveEndpoints picks the authority, Graph endpoint and scope for credentials: the cloud's
// (Credentials.Cloud, docs/graph-photo-api.md#national-clouds), with Options.Authority and
// Options.Endpoint overriding the hosts (emulators, private clouds). The scope always names the
// cloud's Graph resource, since that is the audience Graph checks, wherever the requests are
// routed.
func ResolveEndpoints(c Credentials, o Options) (Endpoints, error) {
	cloud, ok := LookupCloud(c.Cloud)
	if !ok {
		return Endpoints{}, fmt.Errorf("unknown cloud %q (want global, usgov, usgovdod or china)", c.Cloud)
	}
	if c.TenantID == "" || strings.ContainsAny(c.TenantID, "/?#%\\ ") {
		return Endpoints{}, errors.New("tenant id is empty or not one path segment")
	}
	ep := Endpoints{Graph: cloud.Graph, Scope: cloud.Graph + "/.default", InstanceDiscovery: true}
	authority := cloud.Authority
	if o.Authority != "" {
		authority, ep.InstanceDiscovery = o.Authority, false
	}
	if o.Endpoint != "" {
		ep.Graph = o.Endpoint
	}
	for _, u := range []string{authority, ep.Graph} {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "https" || pu.Host == "" {
			return Endpoints{}, fmt.Errorf("endpoint %q is not an https URL", u)
		}
	}
	ep.Authority = strings.TrimRight(authority, "/") + "/" + c.TenantID
	ep.Graph = strings.TrimRight(ep.Graph, "/")
	return ep, nil
}

// PhotoURL is the URL of a target's photo: …/photo/$value, or …/photo for metadata.
func (ep Endpoints) PhotoURL(t Target, meta bool) string {
	u := ep.Graph + "/v1.0/" + t.Path() + "/photo"
	if !meta {
		u += "/$value"
	}
	return u
}

// tokenSource holds the one MSAL confidential client of a container and the credentials it was
// built from. MSAL caches tokens in memory and renews them 5 minutes before they expire.
type tokenSource struct {
	src  CredentialsSource
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	creds Credentials
	ep    Endpoints
	app   *confidential.Client
}

// token returns a bearer token and the endpoints. force drops MSAL's cache first (Graph refused
// the cached token). When the token endpoint refuses the credentials, the source is asked once
// more with fresh=true (a rotated secret) before the refusal becomes credentials_invalid.
func (s *tokenSource) token(ctx context.Context, force bool) (string, Endpoints, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.app == nil:
		if err := s.build(ctx, false, true); err != nil {
			return "", Endpoints{}, err
		}
	case force:
		// A new MSAL client has an empty cache: the next token is a new one.
		if err := s.build(ctx, false, false); err != nil {
			return "", Endpoints{}, err
		}
	}
	tok, err := s.acquire(ctx)
	if err == nil {
		return tok, s.ep, nil
	}
	var gerr *Error
	if !errors.As(err, &gerr) || gerr.Reason() != ReasonCredentialsInvalid {
		return "", Endpoints{}, err
	}
	s.log.WarnContext(ctx, "token endpoint refused the credentials; re-reading them once", "code", gerr.Code, "client_id", s.creds.ClientID)
	if berr := s.build(ctx, true, true); berr != nil {
		return "", Endpoints{}, berr
	}
	tok, err = s.acquire(ctx)
	if err != nil {
		return "", Endpoints{}, err
	}
	return tok, s.ep, nil
}

// build makes a new MSAL client; reload asks the source for credentials (fresh as given).
func (s *tokenSource) build(ctx context.Context, fresh, reload bool) error {
	if reload || s.creds.ClientID == "" {
		c, err := s.src.Credentials(ctx, fresh)
		if err != nil {
			s.app = nil
			// The source decides whether its failure is transient; keep its error in the chain.
			e := &Error{Op: "read credentials", reason: ReasonCredentialsInvalid, Err: err}
			var tr interface{ Transient() bool }
			if errors.As(err, &tr) && tr.Transient() {
				e.reason = ReasonUnavailable
			}
			// A refused redirect keeps its own reason, whichever endpoint answered it.
			var rr interface{ Reason() reason.Reason }
			if errors.As(err, &rr) && rr.Reason() == ReasonRedirect {
				e.reason = ReasonRedirect
			}
			return e
		}
		if err := c.Validate(); err != nil {
			s.app = nil
			return &Error{Op: "token", reason: ReasonCredentialsInvalid, Message: err.Error()}
		}
		s.creds = c
	}
	ep, err := ResolveEndpoints(s.creds, s.opts)
	if err != nil {
		s.app = nil
		return &Error{Op: "token", reason: ReasonCredentialsInvalid, Message: err.Error()}
	}
	var cred confidential.Credential
	if s.creds.ClientSecret != "" {
		cred, err = confidential.NewCredFromSecret(s.creds.ClientSecret)
	} else {
		pemData := append(append(append([]byte(nil), s.creds.CertificatePEM...), '\n'), s.creds.PrivateKeyPEM...)
		certs, key, perr := confidential.CertFromPEM(pemData, "")
		if perr != nil {
			err = fmt.Errorf("certificate or private key PEM: %w", perr)
		} else {
			cred, err = confidential.NewCredFromCert(certs, key)
		}
	}
	if err != nil {
		s.app = nil
		return &Error{Op: "token", reason: ReasonCredentialsInvalid, Message: s.redact(err.Error())}
	}
	// Always our client: MSAL's own default follows redirects, and would post the secret or
	// assertion again to wherever a 307 from the authority points.
	app, err := confidential.New(ep.Authority, s.creds.ClientID, cred,
		confidential.WithInstanceDiscovery(ep.InstanceDiscovery), confidential.WithHTTPClient(s.opts.HTTPClient))
	if err != nil {
		s.app = nil
		return &Error{Op: "token", reason: ReasonCredentialsInvalid, Message: s.redact(err.Error())}
	}
	s.app, s.ep = &app, ep
	kind := "secret"
	if s.creds.ClientSecret == "" {
		kind = "certificate"
	}
	s.log.InfoContext(ctx, "graph token client ready", "authority", ep.Authority, "graph", ep.Graph, "client_id", s.creds.ClientID, "credential", kind, "instance_discovery", ep.InstanceDiscovery)
	return nil
}

func (s *tokenSource) acquire(ctx context.Context) (string, error) {
	res, err := s.app.AcquireTokenByCredential(ctx, []string{s.ep.Scope})
	if err == nil {
		return res.AccessToken, nil
	}
	return "", s.tokenError(ctx, err)
}

// tokenError turns an MSAL failure into an *Error: refusals (4xx from the token or metadata
// endpoint) are permanent credentials_invalid, a redirect is permanent redirect_refused;
// 429/5xx and network failures are transient. Only the endpoint's error code, AADSTS number
// and first sentence survive, never MSAL's text (which quotes the whole response) and never a
// credential.
func (s *tokenSource) tokenError(ctx context.Context, err error) error {
	e := &Error{Op: "token"}
	var call msalerrors.CallErr
	switch {
	case errors.As(err, &call) && call.Resp != nil && isRedirect(call.Resp.StatusCode):
		e.Status, e.reason = call.Resp.StatusCode, ReasonRedirect
		e.Message = s.redact(DescribeRedirect("the token authority", call.Resp.Header.Get("Location")))
	case errors.As(err, &call) && call.Resp != nil:
		e.Status = call.Resp.StatusCode
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Codes       []int  `json:"error_codes"`
			TraceID     string `json:"trace_id"`
		}
		if call.Resp.Body != nil {
			raw, _ := io.ReadAll(io.LimitReader(call.Resp.Body, 64<<10))
			_ = json.Unmarshal(raw, &body)
		}
		e.Code = body.Error
		if len(body.Codes) > 0 {
			e.Code = fmt.Sprintf("%s AADSTS%d", body.Error, body.Codes[0])
		}
		e.Message = s.redact(clip(firstSentence(body.Description), 240))
		e.RequestID = body.TraceID
		e.RetryAfter = parseRetryAfter(call.Resp.Header.Get("Retry-After"), s.opts.Clock.Now())
		switch {
		case e.Status == http.StatusTooManyRequests:
			e.reason = ReasonThrottled
		case e.Status >= 500:
			e.reason = ReasonUnavailable
		default:
			e.reason = ReasonCredentialsInvalid
		}
	case ctx.Err() != nil:
		e.reason, e.Err = ReasonNetwork, ctx.Err()
	case isNetworkError(err):
		e.reason = ReasonNetwork
		e.Err = errors.New(s.redact(clip(networkCause(err), 200)))
	default:
		e.reason = ReasonCredentialsInvalid
		e.Message = s.redact(clip(firstSentence(err.Error()), 200))
	}
	return e
}

func isNetworkError(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// networkCause is the innermost error text (MSAL prefixes it with the request).
func networkCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Op + " " + redactURL(ue.URL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// redact removes the credentials' secret parts from a text, in case a server echoes them.
func (s *tokenSource) redact(text string) string {
	for _, secret := range []string{s.creds.ClientSecret, string(s.creds.PrivateKeyPEM)} {
		if len(secret) >= 4 {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	return text
}
