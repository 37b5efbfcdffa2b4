package s3test

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
)

// Request is one line of the server's access log: an S3 request as the server saw it.
type Request struct {
	Operation string // versitygw's action name: s3_GetObject, s3_PutObjectTagging, …
	Bucket    string // "" for a request that names none
	Key       string // as the log writes it; "" for a bucket request
	Status    int
}

// Requests reads the access log (Options.AccessLog): every request the server has answered so
// far, in order. The log is written after the answer: a caller that counts a request it has
// just made may have to read again. versitygw writes S3's server access log format, whose first fields are the
// bucket owner, the bucket, the time in brackets (two fields), the remote address, the requester,
// the request id, the operation, the key and the request URI (three fields: method, path,
// protocol), then the HTTP status; a field with no value is "-".
func (s *Server) Requests() ([]Request, error) {
	if s.accessLog == "" {
		return nil, errors.New("s3test: the server was started without Options.AccessLog")
	}
	f, err := os.Open(s.accessLog)
	if err != nil {
		return nil, errorf("read the access log: %w", err)
	}
	defer f.Close()
	var out []Request
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		r, ok := parseAccessLine(sc.Text())
		if ok {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, errorf("read the access log: %w", err)
	}
	return out, nil
}

// parseAccessLine reads one line; ok is false for the log's banner and anything else that is not
// a request.
func parseAccessLine(line string) (Request, bool) {
	f := strings.Fields(line)
	if len(f) < 11 || !strings.HasPrefix(f[2], "[") || !strings.HasSuffix(f[3], "]") {
		return Request{}, false
	}
	dash := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	// The request URI is one field in versitygw's log and three ("GET /b/k HTTP/1.1") in S3's:
	// the status is the first number of three digits after it.
	for i := 10; i < len(f) && i <= 12; i++ {
		if n, err := strconv.Atoi(f[i]); err == nil && len(f[i]) == 3 {
			return Request{Operation: f[7], Bucket: dash(f[1]), Key: dash(f[8]), Status: n}, true
		}
	}
	return Request{}, false
}
