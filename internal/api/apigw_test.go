package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/graphphoto/graphphoto/internal/graph"
)

func httpEvent(method, rawPath string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: rawPath,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", RequestID: "req-1", DomainName: "api.example.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath, SourceIP: "198.51.100.7"},
		},
	}
}

func TestDecodeEventClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims string // the JSON of requestContext.authorizer.jwt.claims
		want   Claims
		roles  []string
	}{
		{"API Gateway strings", `{"oid":"` + doraOID + `","roles":"[Photos.ReadWrite.All Other]","iat":"1700000000"}`,
			Claims{"oid": doraOID, "roles": "[Photos.ReadWrite.All Other]", "iat": "1700000000"}, []string{"Photos.ReadWrite.All", "Other"}},
		{"JSON array and numbers", `{"oid":"` + doraOID + `","roles":["Photos.ReadWrite.All","Other"],"iat":1700000000,"email_verified":true}`,
			Claims{"oid": doraOID, "roles": `["Photos.ReadWrite.All","Other"]`, "iat": "1700000000", "email_verified": "true"}, []string{"Photos.ReadWrite.All", "Other"}},
		{"JSON array inside a string", `{"oid":"` + doraOID + `","roles":"[\"Photos.ReadWrite.All\"]"}`,
			Claims{"oid": doraOID, "roles": `["Photos.ReadWrite.All"]`}, []string{"Photos.ReadWrite.All"}},
		{"empty array", `{"oid":"` + doraOID + `","roles":[]}`, Claims{"oid": doraOID, "roles": "[]"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := `{"version":"2.0","rawPath":"/v1.0/me/photo","requestContext":{"requestId":"r","http":{"method":"GET","path":"/v1.0/me/photo"},` +
				`"authorizer":{"jwt":{"claims":` + tt.claims + `,"scopes":["Photos.Upload"]}}}}`
			ev, err := DecodeEvent([]byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			jwt := ev.RequestContext.Authorizer.JWT
			if !reflect.DeepEqual(Claims(jwt.Claims), tt.want) || !reflect.DeepEqual(jwt.Scopes, []string{"Photos.Upload"}) {
				t.Errorf("claims %v scopes %v, want %v", jwt.Claims, jwt.Scopes, tt.want)
			}
			caller, aerr := callerFrom(Claims(jwt.Claims), true)
			if aerr != nil || !reflect.DeepEqual(caller.Roles, tt.roles) {
				t.Errorf("roles %v (%v), want %v", caller.Roles, aerr, tt.roles)
			}
			if ev.RequestContext.HTTP.Method != "GET" || ev.RawPath != "/v1.0/me/photo" || ev.RequestContext.RequestID != "r" {
				t.Errorf("rest of the event lost: %+v", ev)
			}
		})
	}
	for _, bad := range []string{
		``, `[]`, `{"version":"1.0","httpMethod":"GET","path":"/"}`,
		`{"Records":[{"eventSource":"aws:s3"}]}`,
		`{"version":"2.0","requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":"not an object"}}}}`,
	} {
		if _, err := DecodeEvent([]byte(bad)); err == nil {
			t.Errorf("DecodeEvent(%q) accepted it", bad)
		}
	}
}

func TestNewRequest(t *testing.T) {
	ev := httpEvent("PUT", "/prod/v1.0/users/alice_contoso.com#EXT#@fabrikam.onmicrosoft.com/photo/$value")
	ev.RequestContext.Stage = "prod"
	ev.RawQueryString = "a=1&b=two%20words"
	ev.Cookies = []string{"c1=v1", "c2=v2"}
	ev.Headers = map[string]string{"content-type": "image/jpeg", "host": "photos.contoso.com", "x-multi": "a,b"}
	ev.Body = base64.StdEncoding.EncodeToString([]byte{0xFF, 0xD8, 0xFF, 0x00, 0x01})
	ev.IsBase64Encoded = true
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"oid": aliceOID}}}

	r, err := NewRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "PUT" || r.Host != "photos.contoso.com" || r.RemoteAddr != "198.51.100.7" {
		t.Errorf("method %s host %s remote %s", r.Method, r.Host, r.RemoteAddr)
	}
	// The stage prefix is gone and the decoded "#" is escaped again, so the guest UPN stays one id.
	if got := r.URL.EscapedPath(); got != "/v1.0/users/alice_contoso.com%23EXT%23@fabrikam.onmicrosoft.com/photo/$value" {
		t.Errorf("escaped path %q", got)
	}
	kind, tp := match(r.URL.EscapedPath())
	tg, err := graph.ParseTarget(tp)
	if kind != routeValue || err != nil || tg.User() != "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com" {
		t.Errorf("route %v target %v %v", kind, tg, err)
	}
	if r.URL.Query().Get("b") != "two words" || r.Header.Get("Cookie") != "c1=v1; c2=v2" || r.Header.Get("X-Multi") != "a,b" {
		t.Errorf("query %v cookie %q", r.URL.Query(), r.Header.Get("Cookie"))
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "\xFF\xD8\xFF\x00\x01" || r.ContentLength != 5 {
		t.Errorf("body %x length %d", body, r.ContentLength)
	}
	if c, ok := ClaimsFromContext(r.Context()); !ok || c["oid"] != aliceOID {
		t.Errorf("claims %v", c)
	}
	if RequestIDFromContext(r.Context()) != "req-1" {
		t.Errorf("request id %q", RequestIDFromContext(r.Context()))
	}

	// No authoriser: no claims. No API Gateway id: the invocation's.
	ev2 := httpEvent("GET", "/v1.0/me/photo")
	ev2.RequestContext.RequestID = ""
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-9"})
	r2, err := NewRequest(ctx, ev2)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ClaimsFromContext(r2.Context()); ok {
		t.Error("claims without an authoriser")
	}
	if RequestIDFromContext(r2.Context()) != "lambda-req-9" {
		t.Errorf("request id %q, want the invocation's", RequestIDFromContext(r2.Context()))
	}
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1.0/me/photo/$value":             "/v1.0/me/photo/$value",
		"/users/a%23EXT%23@b.com/photo":     "/users/a%23EXT%23@b.com/photo", // already escaped: kept
		"/users/a#EXT#@b.com/photo":         "/users/a%23EXT%23@b.com/photo", // decoded by API Gateway
		"/users/Zoë Ünal@b.com/photo":       "/users/Zo%C3%AB%20%C3%9Cnal@b.com/photo",
		"/users/100%/photo":                 "/users/100%25/photo",
		"/users/%zz/photo":                  "/users/%25zz/photo",
		"/users/a?b/photo":                  "/users/a%3Fb/photo",
		"/users('$bob@contoso.com')/photo":  "/users('$bob@contoso.com')/photo",
		"/users/tab\there/photo":            "/users/tab%09here/photo",
		"/users/quote\"and<angle>/photo":    "/users/quote%22and%3Cangle%3E/photo",
		"/users/back\\slash/photo/%24value": "/users/back%5Cslash/photo/%24value",
		"/users/percent-at-end%":            "/users/percent-at-end%25",
		"/users/percent-one-digit%4":        "/users/percent-one-digit%254",
		"/users/" + strings.Repeat("x", 10): "/users/" + strings.Repeat("x", 10),
	} {
		got := escapePath(in)
		if got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
		if _, err := url.PathUnescape(got); err != nil {
			t.Errorf("escapePath(%q) = %q does not unescape: %v", in, got, err)
		}
	}
}

func TestLambdaServeResponses(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Add("Vary", "Accept")
			w.Header().Add("Vary", "Origin")
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
			http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/jpeg":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write([]byte{0xFF, 0xD8, 0xFF, 0xE0})
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/implicit":
			_, _ = w.Write([]byte("plain"))
		}
	})
	l := NewLambda(h, nil)
	res := l.Serve(context.Background(), httpEvent("GET", "/json"))
	if res.StatusCode != 201 || res.Body != `{"ok":true}` || res.IsBase64Encoded || res.Headers["vary"] != "Accept,Origin" ||
		!reflect.DeepEqual(res.Cookies, []string{"a=1", "b=2"}) || res.Headers["set-cookie"] != "" {
		t.Errorf("json: %+v", res)
	}
	res = l.Serve(context.Background(), httpEvent("GET", "/jpeg"))
	if res.StatusCode != 200 || !res.IsBase64Encoded || res.Body != base64.StdEncoding.EncodeToString([]byte{0xFF, 0xD8, 0xFF, 0xE0}) {
		t.Errorf("jpeg: %+v", res)
	}
	res = l.Serve(context.Background(), httpEvent("DELETE", "/empty"))
	if res.StatusCode != 204 || res.Body != "" || res.IsBase64Encoded {
		t.Errorf("empty: %+v", res)
	}
	// No Content-Type: not known to be text, so base64 keeps the bytes exact.
	res = l.Serve(context.Background(), httpEvent("GET", "/implicit"))
	if res.StatusCode != 200 || !res.IsBase64Encoded || res.Body != base64.StdEncoding.EncodeToString([]byte("plain")) {
		t.Errorf("implicit: %+v", res)
	}

	// A body that is not base64 is answered 400 in Graph's envelope with the event's request id.
	bad := httpEvent("PUT", "/v1.0/me/photo/$value")
	bad.Body, bad.IsBase64Encoded = "***not base64***", true
	res = l.Serve(context.Background(), bad)
	var env envelope
	if res.StatusCode != 400 || json.Unmarshal([]byte(res.Body), &env) != nil || env.Error.InnerError.RequestID != "req-1" ||
		res.Headers["request-id"] != "req-1" || strings.Contains(res.Body, "illegal base64") {
		t.Errorf("bad base64: %+v", res)
	}
}

func TestInvokeRefusesOtherEvents(t *testing.T) {
	l := NewLambda(http.NotFoundHandler(), nil)
	if _, err := l.Invoke(context.Background(), []byte(`{"Records":[{"eventSource":"aws:s3","s3":{}}]}`)); err == nil {
		t.Error("an S3 event was answered as an HTTP request")
	}
	out, err := l.Invoke(context.Background(), mustJSON(t, httpEvent("GET", "/x")))
	var res events.APIGatewayV2HTTPResponse
	if err != nil || json.Unmarshal(out, &res) != nil || res.StatusCode != 404 {
		t.Errorf("invoke: %v %s", err, out)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseNames(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"[]", nil, true},
		{"[Photos.ReadWrite.All]", []string{"Photos.ReadWrite.All"}, true},
		{"[A B  C]", []string{"A", "B", "C"}, true},
		{`["A","B"]`, []string{"A", "B"}, true},
		{"Photos.ReadWrite.All", []string{"Photos.ReadWrite.All"}, true},
		{"A B", []string{"A", "B"}, true},
		{"[A", nil, false},
		{`["A",]`, nil, false},
		{`["A",1]`, nil, false},
		{`["A B"]`, nil, false},
		{`["[A]"]`, nil, false},
		{"A]", nil, false},
		{`A"B`, nil, false},
		{"[A,B]", nil, false},
	}
	for _, tt := range tests {
		got, err := parseNames(tt.in)
		if (err == nil) != tt.ok || (tt.ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("parseNames(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzParseNames: any input either fails or yields plain role or scope names only.
func FuzzParseNames(f *testing.F) {
	for _, s := range []string{"", "[a b]", `["a","b"]`, "a b", "[a", `["a",]`, "[\x00]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roles, err := parseNames(s)
		if err != nil {
			return
		}
		for _, r := range roles {
			if r == "" || strings.ContainsAny(r, "[]\", \t\n/\\") {
				t.Fatalf("parseNames(%q) gave role %q", s, r)
			}
		}
	})
}

// FuzzEscapePath: the result always unescapes, never holds bytes an escaped path cannot, and an
// already escaped path comes back unchanged.
func FuzzEscapePath(f *testing.F) {
	for _, s := range []string{"/v1.0/me/photo/$value", "/users/a#EXT#@b/photo", "/%zz", "/100%", "/é", "/a%2Fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escapePath(s)
		if _, err := url.PathUnescape(e); err != nil {
			t.Fatalf("escapePath(%q) = %q: %v", s, e, err)
		}
		for i := 0; i < len(e); i++ {
			if c := e[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("#?\"<>\\^`{|}", c) >= 0 {
				t.Fatalf("escapePath(%q) = %q holds %q", s, e, c)
			}
		}
		if again := escapePath(e); again != e {
			t.Fatalf("not idempotent: %q → %q → %q", s, e, again)
		}
	})
}

// FuzzDecodeEvent: no payload panics the decoder or the request builder.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"version":"2.0","rawPath":"/v1.0/me/photo","requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{"roles":["a"]}}}}}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/%","body":"@@","isBase64Encoded":true,"requestContext":{"stage":"x","http":{"method":"PUT"}}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := DecodeEvent(payload)
		if err != nil {
			return
		}
		r, err := NewRequest(context.Background(), ev)
		if err != nil {
			return
		}
		match(r.URL.EscapedPath())
	})
}

// TestRequireAPI: with API_GATEWAY_ID set, an event from another HTTP API (or one naming none,
// as a hand-made test event does) is refused in Graph's envelope before the handler sees it,
// and logged as an error; the configured API's events pass.
func TestRequireAPI(t *testing.T) {
	reached := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(http.StatusNoContent) })
	logs := &syncBuffer{}
	l := NewLambda(h, slog.New(slog.NewJSONHandler(logs, nil))).RequireAPI("a1b2c3d4e5")
	for _, id := range []string{"zz9y8x7w6v", "", "A1B2C3D4E5"} {
		ev := httpEvent("PUT", "/v1.0/users/"+bobOID+"/photo/$value")
		ev.RequestContext.APIID = id
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"oid": doraOID, "roles": "[Photos.ReadWrite.All]"}},
		}
		res := l.Serve(context.Background(), ev)
		var env envelope
		if res.StatusCode != http.StatusForbidden || json.Unmarshal([]byte(res.Body), &env) != nil ||
			env.Error.InnerError.Reason != ReasonWrongAPI.String() || env.Error.InnerError.RequestID != "req-1" {
			t.Errorf("apiId %q: %d %s, want 403 %s", id, res.StatusCode, res.Body, ReasonWrongAPI)
		}
	}
	if reached != 0 {
		t.Fatalf("the handler saw %d events of another API", reached)
	}
	if lines := logs.lines(t); len(lines) != 3 || lines[0]["level"] != "ERROR" || lines[0]["reason"] != ReasonWrongAPI.String() || lines[0]["api_id"] != "zz9y8x7w6v" {
		t.Errorf("log lines %v", lines)
	}
	ev := httpEvent("GET", "/x")
	ev.RequestContext.APIID = "a1b2c3d4e5"
	if res := l.Serve(context.Background(), ev); res.StatusCode != http.StatusNoContent || reached != 1 {
		t.Errorf("own API: %d, handler reached %d times", res.StatusCode, reached)
	}
	// Unset, nothing is checked (the default, and the local stack before it sets one).
	if res := NewLambda(h, nil).Serve(context.Background(), httpEvent("GET", "/x")); res.StatusCode != http.StatusNoContent {
		t.Errorf("no API id configured: %d", res.StatusCode)
	}
}
