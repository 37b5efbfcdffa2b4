package devstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Invoker calls a Lambda function with a JSON payload and returns its JSON result.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Front stands in for API Gateway's HTTP API in front of the API function: it checks the
// bearer token as the JWT authoriser would, builds a payload 2.0 event (binary bodies base64,
// claims under requestContext.authorizer.jwt), invokes the function and writes its response.
type Front struct {
	fn       Invoker
	tokens   *Issuer
	maxBody  int64
	log      *slog.Logger
	stage    string
	apiID    string
	accounts string
}

// FrontAPIID is the requestContext.apiId the front door puts in its events (the stack sets the
// API function's API_GATEWAY_ID to it).
const FrontAPIID = "devstack01"

// MaxPayloadBytes is Lambda's synchronous request payload limit; API Gateway refuses larger
// requests before the function sees them.
const MaxPayloadBytes = 6 * 1024 * 1024

// NewFront builds the front door.
func NewFront(fn Invoker, tokens *Issuer, log *slog.Logger) *Front {
	return &Front{fn: fn, tokens: tokens, maxBody: MaxPayloadBytes, log: log, stage: "$default", apiID: FrontAPIID, accounts: "000000000000"}
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("Apigw-Requestid", reqID)
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		// The JWT authoriser answers 401 without calling the function.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	claims, err := f.tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		f.log.Info("front: token refused", "request_id", reqID, "error", err)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, f.maxBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Bad Request"})
		return
	}
	// base64 grows the body by 4/3 and the event wraps it: API Gateway refuses what would not fit.
	if int64(base64.StdEncoding.EncodedLen(len(body))) > f.maxBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Entity Too Large"})
		return
	}
	ev := f.event(r, reqID, claims, body)
	payload, err := json.Marshal(ev)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	out, err := f.fn.Invoke(ctx, payload)
	if err != nil {
		f.log.Error("front: invoke failed", "request_id", reqID, "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		f.log.Error("front: function answered no HTTP response", "request_id", reqID, "bytes", len(out))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return
	}
	f.write(w, resp)
}

func (f *Front) event(r *http.Request, reqID string, claims map[string]string, body []byte) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, v := range r.Header {
		// API Gateway lower-cases header names and joins repeated ones with commas.
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	now := time.Now()
	path := r.URL.EscapedPath()
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               path,
		RawQueryString:        r.URL.RawQuery,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    f.accounts,
			APIID:        f.apiID,
			Stage:        f.stage,
			RequestID:    reqID,
			DomainName:   r.Host,
			DomainPrefix: strings.SplitN(r.Host, ".", 2)[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: path, Protocol: r.Proto, SourceIP: strings.Split(r.RemoteAddr, ":")[0], UserAgent: r.UserAgent(),
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: nil},
			},
		},
	}
	if len(body) > 0 {
		// HTTP APIs base64 every body whose content type is not text; a photo never is.
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func (f *Front) write(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"message": "Internal Server Error"})
			return
		}
		body = b
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func newRequestID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}
