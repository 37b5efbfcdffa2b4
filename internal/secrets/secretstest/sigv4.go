package secretstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 checks, in the order AWS's front end applies them to the Authorization header of a
// Signature Version 4 request (the error texts are the service's).

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	// maxClockSkew is how far X-Amz-Date may be from the server's clock.
	maxClockSkew = 15 * time.Minute
)

// authorization is the parsed Authorization header of a SigV4 request.
type authorization struct {
	accessKeyID   string
	scopeDate     string
	region        string
	service       string
	terminator    string
	signedHeaders []string
	signature     string
	amzDate       time.Time
	rawAmzDate    string
}

// parseAuthorization checks the presence and shape of the signature: the algorithm, the three
// parameters, the date header and the credential scope (region, service, terminator, date).
func (e *Emulator) parseAuthorization(r *http.Request) (authorization, *apiError) {
	var a authorization
	header := r.Header.Get("Authorization")
	if header == "" || !strings.HasPrefix(strings.TrimSpace(header), "AWS4-") {
		return a, frameworkError("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	algorithm, params, _ := strings.Cut(strings.TrimSpace(header), " ")
	if algorithm != sigV4Algorithm {
		return a, frameworkError("IncompleteSignatureException",
			fmt.Sprintf("Unsupported AWS 'algorithm': '%s' (only AWS4-HMAC-SHA256 for now). ", algorithm))
	}
	values := map[string]string{}
	for _, p := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return a, frameworkError("IncompleteSignatureException",
				fmt.Sprintf("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", strings.TrimSpace(p), header))
		}
		values[k] = v
	}
	var missing strings.Builder
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if values[k] == "" {
			fmt.Fprintf(&missing, "Authorization header requires '%s' parameter. ", k)
		}
	}
	a.rawAmzDate = r.Header.Get("X-Amz-Date")
	if a.rawAmzDate == "" {
		missing.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if missing.Len() > 0 {
		return a, frameworkError("IncompleteSignatureException", missing.String()+"Authorization="+header)
	}
	t, err := time.Parse(amzDateLayout, a.rawAmzDate)
	if err != nil {
		return a, frameworkError("IncompleteSignatureException",
			fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", a.rawAmzDate))
	}
	a.amzDate = t
	now := e.now().UTC()
	switch {
	case t.Before(now.Add(-maxClockSkew)):
		return a, frameworkError("InvalidSignatureException",
			fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
				a.rawAmzDate, now.Add(-maxClockSkew).Format(amzDateLayout), now.Format(amzDateLayout)))
	case t.After(now.Add(maxClockSkew)):
		return a, frameworkError("InvalidSignatureException",
			fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
				a.rawAmzDate, now.Add(maxClockSkew).Format(amzDateLayout), now.Format(amzDateLayout)))
	}

	a.signedHeaders = strings.Split(values["SignedHeaders"], ";")
	if !slices.Contains(a.signedHeaders, "host") {
		return a, frameworkError("InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	a.signature = values["Signature"]

	scope := strings.Split(strings.TrimRight(values["Credential"], "/"), "/")
	if len(scope) != 5 {
		return a, frameworkError("IncompleteSignatureException",
			fmt.Sprintf("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", values["Credential"]))
	}
	a.accessKeyID, a.scopeDate, a.region, a.service, a.terminator = scope[0], scope[1], scope[2], scope[3], scope[4]
	var msg strings.Builder
	if a.region != e.region {
		fmt.Fprintf(&msg, "Credential should be scoped to a valid region, not '%s'. ", a.region)
	}
	if a.service != serviceName {
		fmt.Fprintf(&msg, "Credential should be scoped to correct service: '%s'. ", serviceName)
	}
	if a.terminator != "aws4_request" {
		fmt.Fprintf(&msg, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", a.terminator)
	}
	if a.scopeDate != t.Format(scopeDateLayout) {
		fmt.Fprintf(&msg, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.scopeDate, t.Format(scopeDateLayout), a.rawAmzDate)
	}
	if msg.Len() > 0 {
		return a, frameworkError("InvalidSignatureException", strings.TrimSpace(msg.String()))
	}
	return a, nil
}

// expectedSignature computes the SigV4 signature of r with body, over the headers a names, with the
// given secret access key.
func (a authorization) expectedSignature(r *http.Request, body []byte, secretKey string) string {
	scope := strings.Join([]string{a.scopeDate, a.region, a.service, a.terminator}, "/")
	stringToSign := strings.Join([]string{sigV4Algorithm, a.rawAmzDate, scope, hexSHA256([]byte(canonicalRequest(r, body, a.signedHeaders)))}, "\n")
	key := hmacSHA256([]byte("AWS4"+secretKey), a.scopeDate)
	key = hmacSHA256(key, a.region)
	key = hmacSHA256(key, a.service)
	key = hmacSHA256(key, a.terminator)
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

// canonicalRequest builds the SigV4 canonical request: method, URI, query, headers, signed
// header list and payload hash, one per line.
func canonicalRequest(r *http.Request, body []byte, signedHeaders []string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		switch {
		case name == "host":
			b.WriteString(r.Host)
		case name == "content-length" && len(r.Header.Values(name)) == 0:
			// A server sees the header; a request built in-process may carry only the field.
			b.WriteString(strconv.FormatInt(r.ContentLength, 10))
		default:
			vals := slices.Clone(r.Header.Values(name))
			for i, v := range vals {
				vals[i] = strings.Join(strings.Fields(v), " ")
			}
			b.WriteString(strings.Join(vals, ","))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(hexSHA256(body))
	return b.String()
}

// canonicalURI encodes each path segment again, as SigV4 asks for every service but S3.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segments := strings.Split(p, "/")
	for i, s := range segments {
		segments[i] = uriEncode(s)
	}
	return strings.Join(segments, "/")
}

func canonicalQuery(u *url.URL) string {
	q := u.Query()
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode is SigV4's URI encoding: every byte but the unreserved characters as %XX.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
