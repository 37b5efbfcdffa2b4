package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/config"
)

// Row is one line of the demo's table.
type Row struct {
	Path   string // "s3" or "api"
	Input  string // object key or request
	Sample string
	Target string
	Status string // synced, rejected, failed, or the HTTP status for the API
	Reason string
	Bytes  int // the photo Graph holds now for the target, when synced
	Expect string
}

// Demo uploads the samples through both paths and waits for every outcome.
func (st *Stack) Demo(ctx context.Context) ([]Row, error) {
	samples, err := Samples()
	if err != nil {
		return nil, err
	}
	byName := map[string]Sample{}
	for _, s := range samples {
		byName[s.Name] = s
	}
	s3c := st.S3.Client()
	type upload struct {
		key, sample, target string
		metadata            bool
	}
	uploads := []upload{
		{"hr-export/alice.jpg", "portrait-exif6.jpg", "users/alice@contoso.com", true},
		{"hr-export/marketing.png", "logo-alpha.png", "groups/" + GroupID, true},
		{"hr-export/alice-contact.jpg", "print-cmyk.jpg", "users/alice@contoso.com/contacts/" + ContactID, true},
		{"users/carol@contoso.com/portrait.jpg", "portrait-exif6.jpg", "users/carol@contoso.com", false},
		{"hr-export/bob-huge.png", "huge-900mp.png", "users/bob@contoso.com", true},
		{"hr-export/bob-cv.pdf", "resume.pdf", "users/bob@contoso.com", true},
	}
	var rows []Row
	for _, u := range uploads {
		in := &s3.PutObjectInput{Bucket: aws.String(Bucket), Key: aws.String(u.key), Body: bytes.NewReader(byName[u.sample].Data)}
		if u.metadata {
			in.Metadata = map[string]string{config.DefaultTargetMetadataKey: u.target}
		}
		if _, err := s3c.PutObject(ctx, in); err != nil {
			return nil, fmt.Errorf("demo: put %s: %w", u.key, err)
		}
		input := u.key
		if u.metadata {
			input += " (metadata)"
		} else {
			input += " (key layout)"
		}
		rows = append(rows, Row{Path: "s3", Input: input, Sample: u.sample, Target: u.target, Expect: byName[u.sample].Expect})
	}

	bob, err := st.UserToken(BobID, "bob@contoso.com")
	if err != nil {
		return nil, err
	}
	admin, err := st.AdminToken()
	if err != nil {
		return nil, err
	}
	app, err := st.AppToken("Photos.ReadWrite.All")
	if err != nil {
		return nil, err
	}
	calls := []struct {
		desc, token, path, sample, target, expect string
	}{
		{"PUT me (bob)", bob, "/v1.0/me/photo/$value", "portrait-exif6.jpg", "users/bob@contoso.com", "200"},
		{"PUT alice as bob", bob, "/v1.0/users/alice@contoso.com/photo/$value", "logo-alpha.png", "users/alice@contoso.com", "403"},
		{"PUT a PDF as admin", admin, "/v1.0/users/carol@contoso.com/photo/$value", "resume.pdf", "users/carol@contoso.com", "415"},
		{"PUT me with an app's own token", app, "/v1.0/me/photo/$value", "portrait-exif6.jpg", "me", "403"},
	}
	for _, c := range calls {
		status, reason, err := st.apiPut(ctx, c.token, c.path, byName[c.sample].Data)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row{Path: "api", Input: c.desc, Sample: c.sample, Target: c.target, Status: status, Reason: reason, Expect: c.expect})
	}

	// A presigned upload (a large original): one PUT of the signed size lands and goes the S3
	// path's way; the same grant again is refused by S3.
	first, again, key, err := st.grantTwice(ctx, bob, byName["portrait-exif6.jpg"].Data)
	if err != nil {
		return nil, err
	}
	if first != http.StatusOK {
		return nil, fmt.Errorf("demo: upload through the grant: %d", first)
	}
	rows = append(rows,
		Row{Path: "s3", Input: key + " (presigned, bob)", Sample: "portrait-exif6.jpg", Target: "users/bob@contoso.com", Expect: "synced"},
		Row{Path: "api", Input: "the same grant again", Sample: "portrait-exif6.jpg", Target: "users/bob@contoso.com",
			Status: fmt.Sprint(again), Reason: http.StatusText(again), Expect: "412"})

	// Wait for the S3 outcomes, which the functions record as object tags.
	deadline := time.Now().Add(3 * time.Minute)
	for i := range rows {
		if rows[i].Path != "s3" {
			continue
		}
		key := strings.Fields(rows[i].Input)[0]
		for {
			status, reason, err := st.ObjectOutcome(ctx, key)
			if err != nil {
				return nil, err
			}
			if status != "" {
				rows[i].Status, rows[i].Reason = status, reason
				break
			}
			if dead := st.deadLettered(key); dead {
				rows[i].Status, rows[i].Reason = "dead-lettered", "see "+st.DLQDir
				break
			}
			if time.Now().After(deadline) {
				rows[i].Status = "no outcome after 3 minutes"
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	for i := range rows {
		if p, ok := st.Graph.Photo(TenantID, canonical(rows[i].Target)); ok && (rows[i].Status == "synced" || rows[i].Status == "200") {
			rows[i].Bytes = len(p.Data)
		}
	}
	return rows, nil
}

// canonical maps the demo's targets to the emulator's canonical form (object ids).
func canonical(target string) string {
	r := strings.NewReplacer("alice@contoso.com", AliceID, "bob@contoso.com", BobID, "carol@contoso.com", CarolID)
	return r.Replace(target)
}

// ObjectOutcome reads graph-photo-status and graph-photo-reason from an object's tags.
func (st *Stack) ObjectOutcome(ctx context.Context, key string) (status, reason string, err error) {
	out, err := st.S3.Client().GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(Bucket), Key: aws.String(key)})
	if err != nil {
		return "", "", fmt.Errorf("demo: tags of %s: %w", key, err)
	}
	for _, t := range out.TagSet {
		switch aws.ToString(t.Key) {
		case "graph-photo-status":
			status = aws.ToString(t.Value)
		case "graph-photo-reason":
			reason = aws.ToString(t.Value)
		}
	}
	return status, reason, nil
}

func (st *Stack) deadLettered(key string) bool {
	for _, d := range st.Queue.Deliveries() {
		if d.Dead && decodeKey(d.Key) == key {
			return true
		}
	}
	return false
}

func decodeKey(k string) string {
	s, err := url.QueryUnescape(k)
	if err != nil {
		return k
	}
	return s
}

func (st *Stack) apiPut(ctx context.Context, token, path string, body []byte) (string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, st.APIURL+path, bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := st.APIClient().Do(req)
	if err != nil {
		return "", "", fmt.Errorf("demo: %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	reason := ""
	if resp.StatusCode != http.StatusOK {
		reason = errorCode(b)
	}
	return fmt.Sprint(resp.StatusCode), reason, nil
}

// grantTwice asks the API for an upload grant for the caller's own photo, PUTs body through it,
// then PUTs it again; it returns both S3 statuses and the object's key.
func (st *Stack) grantTwice(ctx context.Context, token string, body []byte) (int, int, string, error) {
	ask, _ := json.Marshal(map[string]any{"target": "me", "size": len(body), "fileName": "original.jpg"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.APIURL+"/v1.0/uploads", bytes.NewReader(ask))
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := st.APIClient().Do(req)
	if err != nil {
		return 0, 0, "", fmt.Errorf("demo: POST /v1.0/uploads: %w", err)
	}
	defer resp.Body.Close()
	var grant struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
		Key     string            `json:"key"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&grant); err != nil || resp.StatusCode != http.StatusOK {
		return 0, 0, "", fmt.Errorf("demo: POST /v1.0/uploads: %d %v", resp.StatusCode, err)
	}
	put := func() (int, error) {
		req, err := http.NewRequestWithContext(ctx, grant.Method, grant.URL, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		for k, v := range grant.Headers {
			if !strings.EqualFold(k, "content-length") { // net/http sends the body's
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, fmt.Errorf("demo: upload through the grant: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	first, err := put()
	if err != nil {
		return 0, 0, "", err
	}
	again, err := put()
	return first, again, grant.Key, err
}

// errorCode is the code of a Graph-style error envelope.
func errorCode(b []byte) string {
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return ""
	}
	return env.Error.Code
}

// PrintTable writes the rows as an aligned table, with whether each matched what the demo
// expects.
func PrintTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tINPUT\tSAMPLE\tTARGET\tSTATUS\tREASON\tPHOTO BYTES\tAS EXPECTED")
	var bad []string
	for _, r := range rows {
		ok := matches(r)
		if !ok {
			bad = append(bad, r.Input)
		}
		size := ""
		if r.Bytes > 0 {
			size = fmt.Sprint(r.Bytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Path, r.Input, r.Sample, r.Target, r.Status, r.Reason, size, yesNo(ok))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return errors.New("demo: unexpected outcome for " + strings.Join(bad, ", "))
	}
	return nil
}

func matches(r Row) bool {
	want := r.Expect
	if status, reason, ok := strings.Cut(want, ": "); ok {
		return r.Status == status && r.Reason == reason
	}
	return r.Status == want
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
