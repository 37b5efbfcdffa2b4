package devstack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// echoFunction answers with the event it got, as a JSON body, and a binary body when asked.
type echoFunction struct {
	got events.APIGatewayV2HTTPRequest
}

func (e *echoFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	if err := json.Unmarshal(payload, &e.got); err != nil {
		return nil, err
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/jpeg"},
		Body: base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff binary")), IsBase64Encoded: true}
	return json.Marshal(resp)
}

func TestFront(t *testing.T) {
	iss, err := NewIssuer("https://devstack.local")
	if err != nil {
		t.Fatal(err)
	}
	fn := &echoFunction{}
	srv := httptest.NewServer(NewFront(fn, iss, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	defer srv.Close()
	tok, _ := iss.Issue("oid-alice", "alice@contoso.com", []string{"Photos.ReadWrite.All"}, []string{UserScope}, time.Hour)

	photo := []byte("\xff\xd8\xff\xe0 pretend jpeg")
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v1.0/users/alice%40contoso.com/photo/$value?x=1", bytes.NewReader(photo))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "\xff\xd8\xff binary" || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("response %d %q %v", resp.StatusCode, body, resp.Header)
	}
	ev := fn.got
	got, _ := base64.StdEncoding.DecodeString(ev.Body)
	if !ev.IsBase64Encoded || !bytes.Equal(got, photo) || ev.RawPath != "/v1.0/users/alice%40contoso.com/photo/$value" ||
		ev.RequestContext.HTTP.Method != "PUT" || ev.Headers["content-type"] != "image/jpeg" || ev.RawQueryString != "x=1" ||
		ev.RequestContext.APIID != FrontAPIID {
		t.Errorf("event %+v", ev)
	}
	if c := ev.RequestContext.Authorizer.JWT.Claims; c["oid"] != "oid-alice" || c["roles"] != "[Photos.ReadWrite.All]" || c["scp"] != UserScope {
		t.Errorf("claims %v", c)
	}

	for name, hdr := range map[string]string{"no token": "", "bad token": "Bearer abc.def.ghi", "basic": "Basic dXNlcjpwYXNz"} {
		fn.got = events.APIGatewayV2HTTPRequest{}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1.0/me/photo", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || fn.got.RawPath != "" {
			t.Errorf("%s: status %d, function called: %v", name, resp.StatusCode, fn.got.RawPath != "")
		}
	}

	big := bytes.Repeat([]byte{1}, 5*1024*1024)
	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/v1.0/me/photo/$value", bytes.NewReader(big))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("5 MB body: status %d, want 413 (over Lambda's payload once base64)", resp.StatusCode)
	}
}
