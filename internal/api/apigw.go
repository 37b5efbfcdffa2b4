package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Lambda adapts an http.Handler to API Gateway HTTP API payload 2.0 events: the request is
// built by NewRequest, the response collected and turned into an APIGatewayV2HTTPResponse
// (binary bodies base64-encoded). It implements lambda.Handler, so main passes it to
// lambda.Start. It is ours rather than aws-lambda-go-api-proxy's because it must also carry
// the JWT claims and the request id into the request, and read claims that are JSON arrays.
type Lambda struct {
	handler http.Handler
	log     *slog.Logger
	apiID   string
}

// NewLambda returns the adapter for h; logger (nil: discard) gets a line for events that are
// not HTTP API requests.
func NewLambda(h http.Handler, logger *slog.Logger) *Lambda {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Lambda{handler: h, log: logger}
}

// RequireAPI makes Serve refuse, with 403 ReasonWrongAPI, every event whose
// requestContext.apiId is not id (config API_GATEWAY_ID); "" checks nothing. It returns l.
//
// API Gateway puts the claims it verified in the event, so whatever invokes the function
// speaks for its caller. The function's resource policy lets only this API invoke it; the check
// also stops events of another API that was given invoke rights, or a test event sent by hand
// to the live function. It cannot stop a principal allowed lambda:InvokeFunction that writes
// the right id into a forged event: keep that permission as narrow as the admin role.
func (l *Lambda) RequireAPI(id string) *Lambda {
	l.apiID = id
	return l
}

// Invoke decodes one event and answers it. An event that is not an HTTP API payload 2.0
// request is a function error: the integration is misconfigured and no answer fits.
func (l *Lambda) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := DecodeEvent(payload)
	if err != nil {
		l.log.ErrorContext(ctx, "not an HTTP API event", slog.String("error", err.Error()))
		return nil, err
	}
	return json.Marshal(l.Serve(ctx, ev))
}

// Serve answers one event through the handler. It never fails: a request that cannot be built
// (bad base64) is answered 400 in Graph's envelope.
func (l *Lambda) Serve(ctx context.Context, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	rw := newResponseBuffer()
	if l.apiID != "" && ev.RequestContext.APIID != l.apiID {
		id := RequestIDFromContext(requestContext(ctx, ev))
		if id == "" {
			id = newRequestID()
		}
		e := &Error{why: ReasonWrongAPI,
			Message: "this function answers only the HTTP API it is deployed behind"}
		rw.Header().Set("request-id", id)
		e.write(rw, id, "", timeOf(ev))
		l.log.ErrorContext(ctx, "api request", slog.String("request_id", id), slog.Int("http_status", e.Status()),
			slog.String("reason", e.why.String()), slog.String("api_id", clip(ev.RequestContext.APIID, 64)), slog.String("want_api_id", l.apiID))
		return rw.response()
	}
	req, err := NewRequest(ctx, ev)
	if err != nil {
		id := RequestIDFromContext(requestContext(ctx, ev))
		if id == "" {
			id = newRequestID()
		}
		e := &Error{why: ReasonBadBody, Message: "the request could not be read"}
		rw.Header().Set("request-id", id)
		e.write(rw, id, "", timeOf(ev))
		l.log.WarnContext(ctx, "api request", slog.String("request_id", id), slog.Int("http_status", e.Status()),
			slog.String("reason", e.why.String()), slog.String("error", err.Error()))
		return rw.response()
	}
	l.handler.ServeHTTP(rw, req)
	return rw.response()
}

// timeOf is when API Gateway received the request, for the error date.
func timeOf(ev events.APIGatewayV2HTTPRequest) time.Time {
	if ev.RequestContext.TimeEpoch > 0 {
		return time.UnixMilli(ev.RequestContext.TimeEpoch)
	}
	return time.Now()
}

// requestContext adds the request id: API Gateway's, else the Lambda invocation's.
func requestContext(ctx context.Context, ev events.APIGatewayV2HTTPRequest) context.Context {
	id := ev.RequestContext.RequestID
	if id == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			id = lc.AwsRequestID
		}
	}
	if id == "" {
		return ctx
	}
	return WithRequestID(ctx, id)
}

// NewRequest builds the http.Request an HTTP API event describes: method, path (HTTP APIs
// deliver rawPath percent-decoded and prefixed with a named stage; both are undone), query,
// headers, cookies, the body (base64-decoded when isBase64Encoded), the JWT claims (WithClaims)
// and the request id (WithRequestID). ctx, the invocation's, keeps its deadline.
func NewRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, errors.New("http api event: no requestContext.http.method")
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded && ev.Body != "" {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("http api event: decode base64 body: %w", err)
		}
	}
	raw := ev.RawPath
	if raw == "" {
		raw = ev.RequestContext.HTTP.Path
	}
	if st := ev.RequestContext.Stage; st != "" && st != "$default" && strings.HasPrefix(raw, "/"+st+"/") {
		raw = raw[len(st)+1:]
	}
	escaped := escapePath(raw)
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, fmt.Errorf("http api event: path: %w", err)
	}
	u := &url.URL{Scheme: "https", Host: ev.RequestContext.DomainName, Path: path, RawPath: escaped, RawQuery: ev.RawQueryString}
	req, err := http.NewRequestWithContext(requestContext(ctx, ev), method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("http api event: %w", err)
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	req.RequestURI = u.RequestURI()
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil && a.JWT.Claims != nil {
		req = req.WithContext(WithClaims(req.Context(), Claims(a.JWT.Claims)))
	}
	return req, nil
}

// escapePath makes rawPath a valid escaped path whether API Gateway decoded it or not: bytes
// that cannot appear literally in an escaped path (a decoded "#", "?", space, non-ASCII) are
// escaped, a "%" not starting an escape becomes "%25", and existing escapes are kept.
func escapePath(p string) string {
	const hexDigits = "0123456789ABCDEF"
	isHex := func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			b.WriteByte(c)
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// DecodeEvent reads an HTTP API payload 2.0 event. Claims are accepted as any JSON value:
// API Gateway sends strings (arrays flattened to "[a b]"), hand-written events and other
// front ends may send arrays or numbers, which become their JSON text.
func DecodeEvent(payload []byte) (events.APIGatewayV2HTTPRequest, error) {
	var ev tolerantEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("decode http api event: %w", err)
	}
	if ev.Version != "2.0" || ev.RequestContext.HTTP.Method == "" {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("decode http api event: version %q, method %q: want an API Gateway HTTP API payload 2.0 request",
			clip(ev.Version, 10), clip(ev.RequestContext.HTTP.Method, 10))
	}
	out := ev.APIGatewayV2HTTPRequest
	out.RequestContext = ev.RequestContext.APIGatewayV2HTTPRequestContext
	if a := ev.RequestContext.Authorizer; a != nil {
		out.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: a.Lambda, IAM: a.IAM}
		if a.JWT != nil {
			jwt := &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Scopes: a.JWT.Scopes}
			if a.JWT.Claims != nil {
				jwt.Claims = make(map[string]string, len(a.JWT.Claims))
				for k, v := range a.JWT.Claims {
					var s string
					if json.Unmarshal(v, &s) != nil {
						s = string(bytes.TrimSpace(v))
					}
					jwt.Claims[k] = s
				}
			}
			out.RequestContext.Authorizer.JWT = jwt
		}
	}
	return out, nil
}

// tolerantEvent decodes like events.APIGatewayV2HTTPRequest except for the claims: the outer
// RequestContext and Authorizer fields shadow the embedded ones (encoding/json picks the less
// nested field), so only they change type.
type tolerantEvent struct {
	events.APIGatewayV2HTTPRequest
	RequestContext tolerantContext `json:"requestContext"`
}

type tolerantContext struct {
	events.APIGatewayV2HTTPRequestContext
	Authorizer *tolerantAuthorizer `json:"authorizer,omitempty"`
}

type tolerantAuthorizer struct {
	JWT *struct {
		Claims map[string]json.RawMessage `json:"claims"`
		Scopes []string                   `json:"scopes,omitempty"`
	} `json:"jwt,omitempty"`
	Lambda map[string]any                                                 `json:"lambda,omitempty"`
	IAM    *events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription `json:"iam,omitempty"`
}

// responseBuffer collects a handler's answer for the Lambda response.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newResponseBuffer() *responseBuffer { return &responseBuffer{header: http.Header{}} }

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// response renders the payload 2.0 answer: headers comma-joined (Set-Cookie as cookies),
// text bodies as they are, everything else base64 with isBase64Encoded.
func (b *responseBuffer) response() events.APIGatewayV2HTTPResponse {
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	res := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range b.header {
		if k == "Set-Cookie" {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		res.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if b.body.Len() == 0 {
		return res
	}
	if isText(b.header.Get("Content-Type")) && utf8.Valid(b.body.Bytes()) {
		res.Body = b.body.String()
		return res
	}
	res.Body = base64.StdEncoding.EncodeToString(b.body.Bytes())
	res.IsBase64Encoded = true
	return res
}

func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || strings.HasSuffix(mt, "+xml") || mt == "application/javascript"
}
