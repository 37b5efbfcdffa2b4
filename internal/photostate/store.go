package photostate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// S3 is the part of the S3 API the store calls; *s3.Client implements it. IAM: s3:GetObject and
// s3:PutObject on the records, and s3:ListBucket on the bucket so that a missing record is a 404
// rather than a 403.
type S3 interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Graph is the part of the Graph client the store reads: the media ETag of a target's photo.
type Graph interface {
	GetPhotoMeta(ctx context.Context, t graph.Target) (graph.PhotoMeta, error)
}

// Defaults of Options.
const (
	DefaultPrefix = "records/"
	// DefaultLease is how long a marker says a write may be in flight: Lambda's longest
	// invocation, so a writer has ended before its marker is taken as abandoned.
	DefaultLease = 15 * time.Minute
)

// maxRecordBytes bounds what is read of a record; one is a few hundred bytes.
const maxRecordBytes = 64 << 10

// Options configure a Store.
type Options struct {
	Bucket string // the state bucket (STATE_BUCKET); required
	Prefix string // key prefix of the records; default DefaultPrefix
	Lease  time.Duration
	// Now is the clock of markers; default time.Now.
	Now func() time.Time
}

// Store reads and writes the records. Build one per process with New; it is safe for
// concurrent use.
type Store struct {
	s3    S3
	graph Graph
	opts  Options
}

// New returns a store over an S3 client and a Graph client.
func New(client S3, g Graph, opts Options) (*Store, error) {
	if client == nil || g == nil {
		return nil, errors.New("photostate: an S3 client and a Graph client are required")
	}
	if strings.TrimSpace(opts.Bucket) == "" {
		return nil, errors.New("photostate: no state bucket")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Lease < 0 {
		return nil, errors.New("photostate: negative lease")
	}
	if opts.Lease == 0 {
		opts.Lease = DefaultLease
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{s3: client, graph: g, opts: opts}, nil
}

// Bucket is the state bucket.
func (s *Store) Bucket() string { return s.opts.Bucket }

// Fingerprint says what would be written: digests of the normalised JPEG and of the options
// that made it ("sha256:" and hex).
type Fingerprint struct {
	Photo   string
	Options string
}

// NewFingerprint digests a normalised photo and a canonical text of its normalising options.
func NewFingerprint(jpeg []byte, options string) Fingerprint {
	return Fingerprint{Photo: digest(jpeg), Options: digest([]byte(options))}
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Key is the object key of a target's record. User and group ids (object ids and UPNs) are
// compared by Entra without regard to case, so they are lower-cased; a contact is the same
// contact whether it is named through its folder or not.
func (s *Store) Key(t graph.Target) string {
	var name string
	switch t.Kind() {
	case graph.KindGroup:
		name = "groups/" + strings.ToLower(t.Group())
	case graph.KindContact:
		name = "users/" + strings.ToLower(t.User()) + "/contacts/" + t.Contact()
	default:
		name = "users/" + strings.ToLower(t.User())
	}
	sum := sha256.Sum256([]byte(name))
	return s.opts.Prefix + hex.EncodeToString(sum[:]) + ".json"
}

// Record states.
const (
	stateWritten = "written"
	stateWriting = "writing"
)

// recordFormat is the record layout's version; a record of another format is unreadable here.
const recordFormat = 1

// Record is what the store keeps for a target.
type Record struct {
	Format    int       `json:"format"`
	State     string    `json:"state"`  // written or writing
	Target    string    `json:"target"` // as written, for people reading the bucket
	Photo     string    `json:"photo"`  // the photo's digest (being) written
	Options   string    `json:"options"`
	MediaETag string    `json:"mediaEtag,omitempty"` // written only: Graph's version after the write
	Writer    string    `json:"writer"`              // random per write: no two records are the same bytes
	At        time.Time `json:"at"`
}

// DecodeRecord parses a record, refusing anything this code did not write: another format, an
// unknown state, missing digests or writer, a written record without a media ETag.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("record is not JSON of this format: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("record has data after its JSON")
	}
	switch {
	case r.Format != recordFormat:
		return Record{}, fmt.Errorf("record format %d, want %d", r.Format, recordFormat)
	case r.State != stateWritten && r.State != stateWriting:
		return Record{}, fmt.Errorf("record state %q", r.State)
	case !strings.HasPrefix(r.Photo, "sha256:") || !strings.HasPrefix(r.Options, "sha256:"):
		return Record{}, errors.New("record without digests")
	case r.Writer == "" || r.At.IsZero():
		return Record{}, errors.New("record without writer or time")
	case r.State == stateWritten && r.MediaETag == "":
		return Record{}, errors.New("written record without a media ETag")
	}
	return r, nil
}

// read returns the target's record and its S3 ETag; found is false when there is none.
func (s *Store) read(ctx context.Context, key string) (rec Record, etag string, found bool, err error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key)})
	if err != nil {
		se := classify("GetObject", err)
		if se.missing {
			return Record{}, "", false, nil
		}
		return Record{}, "", false, se
	}
	defer out.Body.Close()
	etag = aws.ToString(out.ETag)
	b, err := io.ReadAll(io.LimitReader(out.Body, maxRecordBytes+1))
	if err != nil {
		return Record{}, etag, true, classify("GetObject", fmt.Errorf("read body: %w", err))
	}
	if len(b) > maxRecordBytes {
		return Record{}, etag, true, &decodeError{errors.New("record over 64 KiB")}
	}
	rec, err = DecodeRecord(b)
	if err != nil {
		return Record{}, etag, true, &decodeError{err}
	}
	return rec, etag, true, nil
}

// write puts a record; ifMatch and ifNoneMatch make it conditional.
func (s *Store) write(ctx context.Context, key string, r Record, ifMatch, ifNoneMatch string) (string, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("photostate: encode record: %w", err)
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(ifNoneMatch)
	}
	out, err := s.s3.PutObject(ctx, in)
	if err != nil {
		return "", classify("PutObject", err)
	}
	return aws.ToString(out.ETag), nil
}

// newWriter is a random writer id.
func newWriter() string { return rand.Text() }

// decodeError is a record that exists but cannot be used.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "unreadable record: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }
