// Package config reads the functions' configuration from the environment (docs/architecture.md §7).
// Every value is checked at start, so a bad deployment fails once with one clear line instead of
// on every event.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
)

// Config is everything the two functions read from their environment.
type Config struct {
	// Graph
	SecretID  string // GRAPH_SECRET_ID: Secrets Manager secret with the app's credentials
	Cloud     string // GRAPH_CLOUD: global, usgov, usgovdod, china ("" = the secret's, else global)
	Endpoint  string // GRAPH_ENDPOINT: Graph base URL override (emulators)
	Authority string // GRAPH_AUTHORITY: token authority override (emulators)

	// Photo
	Photo          imageproc.Options // PHOTO_SIZE, PHOTO_CROP, PHOTO_QUALITY, PHOTO_MAX_BYTES, SOURCE_MAX_PIXELS
	SourceMaxBytes int               // SOURCE_MAX_BYTES

	// S3 path
	TargetMetadataKey string // TARGET_METADATA_KEY: user metadata naming the target
	TargetKeyPrefix   string // TARGET_KEY_PREFIX: key prefix before {target}/{file}
	// TargetMetadataPrefixes (TARGET_METADATA_PREFIXES, comma-separated) are the key prefixes
	// under which the metadata target is honoured; empty honours it on every key. Elsewhere only
	// the key layout names a target, so a writer confined by IAM to users/alice@…/ cannot name
	// another target through metadata.
	TargetMetadataPrefixes []string
	// S3ForcePathStyle (S3_FORCE_PATH_STYLE) addresses buckets as http://host/bucket/key, for an
	// S3-compatible server at AWS_ENDPOINT_URL_S3 (local stack, tests) whose host name cannot take
	// a bucket sub-domain. aws-sdk-go-v2 reads the endpoint variable but has no variable for this.
	S3ForcePathStyle bool

	// API path
	AdminRole string // API_ADMIN_ROLE: app role that may write anyone's photo
	// UserScope (API_USER_SCOPE) is the delegated scope (scp) a signed-in user's token needs for
	// writes and deletes through the API, their own photo included.
	UserScope string
	// GatewayID (API_GATEWAY_ID) is the HTTP API whose events the API function answers; events
	// naming another requestContext.apiId are refused. Empty: not checked.
	GatewayID    string
	UploadBucket string        // UPLOAD_BUCKET: bucket presigned uploads go to ("" disables them)
	UploadPrefix string        // UPLOAD_PREFIX: key prefix of presigned uploads
	UploadURLTTL time.Duration // UPLOAD_URL_TTL: lifetime of a presigned URL

	// Both paths: a photo Graph already holds is not written again (internal/photostate).
	// SkipUnchanged (SKIP_UNCHANGED, default true) turns the check on; it keeps its records in
	// StateBucket (STATE_BUCKET), a bucket that must not be the upload bucket (a record written
	// there would trigger the S3 path).
	SkipUnchanged bool
	StateBucket   string

	LogLevel slog.Level // LOG_LEVEL: debug, info, warn, error
}

// Defaults, as documented in the README's configuration table.
const (
	DefaultSourceMaxBytes    = 52_428_800
	DefaultTargetMetadataKey = "graph-target"
	DefaultAdminRole         = "Photos.ReadWrite.All"
	DefaultUserScope         = "Photos.Write"
	DefaultUploadPrefix      = "uploads/"
	DefaultUploadURLTTL      = 15 * time.Minute
)

// Variables lists every environment variable Load reads, for the template check and the README.
var Variables = []string{
	"GRAPH_SECRET_ID", "GRAPH_CLOUD", "GRAPH_ENDPOINT", "GRAPH_AUTHORITY",
	"PHOTO_SIZE", "PHOTO_CROP", "PHOTO_QUALITY", "PHOTO_MAX_BYTES", "SOURCE_MAX_BYTES", "SOURCE_MAX_PIXELS",
	"TARGET_METADATA_KEY", "TARGET_KEY_PREFIX", "TARGET_METADATA_PREFIXES", "S3_FORCE_PATH_STYLE",
	"API_ADMIN_ROLE", "API_USER_SCOPE", "API_GATEWAY_ID", "UPLOAD_BUCKET", "UPLOAD_PREFIX", "UPLOAD_URL_TTL",
	"SKIP_UNCHANGED", "STATE_BUCKET", "LOG_LEVEL",
}

// Load reads the configuration through getenv (os.Getenv in main). All problems are reported
// together, each naming its variable. GRAPH_SECRET_ID is required: both functions write with the
// credentials it names.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		SecretID:  r.secretID("GRAPH_SECRET_ID"),
		Cloud:     strings.TrimSpace(getenv("GRAPH_CLOUD")),
		Endpoint:  r.url("GRAPH_ENDPOINT"),
		Authority: r.url("GRAPH_AUTHORITY"),
		Photo: imageproc.Options{
			Size:      r.int("PHOTO_SIZE", imageproc.DefaultSize),
			Crop:      r.crop("PHOTO_CROP"),
			Quality:   r.int("PHOTO_QUALITY", imageproc.DefaultQuality),
			MaxBytes:  r.int("PHOTO_MAX_BYTES", imageproc.DefaultMaxBytes),
			MaxPixels: r.int("SOURCE_MAX_PIXELS", imageproc.DefaultMaxPixels),
		},
		SourceMaxBytes:         r.int("SOURCE_MAX_BYTES", DefaultSourceMaxBytes),
		TargetMetadataKey:      strings.ToLower(r.metadataKey("TARGET_METADATA_KEY", DefaultTargetMetadataKey)),
		TargetKeyPrefix:        r.keyPrefix("TARGET_KEY_PREFIX", ""),
		TargetMetadataPrefixes: r.prefixes("TARGET_METADATA_PREFIXES"),
		S3ForcePathStyle:       r.bool("S3_FORCE_PATH_STYLE"),
		AdminRole:              r.claimName("API_ADMIN_ROLE", DefaultAdminRole),
		UserScope:              r.claimName("API_USER_SCOPE", DefaultUserScope),
		GatewayID:              r.gatewayID("API_GATEWAY_ID"),
		UploadBucket:           r.bucket("UPLOAD_BUCKET"),
		UploadPrefix:           r.keyPrefix("UPLOAD_PREFIX", DefaultUploadPrefix),
		UploadURLTTL:           r.duration("UPLOAD_URL_TTL", DefaultUploadURLTTL),
		SkipUnchanged:          r.boolOr("SKIP_UNCHANGED", true),
		StateBucket:            r.bucket("STATE_BUCKET"),
		LogLevel:               r.level("LOG_LEVEL"),
	}
	if c.Cloud != "" {
		if _, ok := graph.LookupCloud(c.Cloud); !ok {
			r.fail("GRAPH_CLOUD", c.Cloud, "want global, usgov, usgovdod or china")
		}
	}
	r.photo(c.Photo)
	if c.Photo.MaxBytes > graph.MaxPhotoBytes {
		r.fail("PHOTO_MAX_BYTES", strconv.Itoa(c.Photo.MaxBytes), fmt.Sprintf("Graph accepts at most %d bytes", graph.MaxPhotoBytes))
	}
	if c.SourceMaxBytes < 1 {
		r.fail("SOURCE_MAX_BYTES", strconv.Itoa(c.SourceMaxBytes), "want at least 1")
	}
	if c.UploadURLTTL < time.Minute || c.UploadURLTTL > 7*24*time.Hour {
		r.fail("UPLOAD_URL_TTL", c.UploadURLTTL.String(), "want 1m to 168h (SigV4's limit)")
	}
	if len(c.TargetMetadataPrefixes) > 0 && !underAny(c.UploadPrefix, c.TargetMetadataPrefixes) {
		// The API's presigned uploads name their target in metadata only.
		r.fail("TARGET_METADATA_PREFIXES", strings.Join(c.TargetMetadataPrefixes, ","),
			fmt.Sprintf("must include UPLOAD_PREFIX %q (or a prefix of it): presigned uploads name their target in metadata", c.UploadPrefix))
	}
	switch {
	case c.SkipUnchanged && c.StateBucket == "" && r.getenv("STATE_BUCKET") == "":
		r.fail("STATE_BUCKET", "", "name the bucket of the photo records, or set SKIP_UNCHANGED=false")
	case c.StateBucket != "" && c.StateBucket == c.UploadBucket:
		r.fail("STATE_BUCKET", c.StateBucket, "must not be UPLOAD_BUCKET: a record written there would trigger the S3 path")
	}
	if len(r.errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(r.errs...))
	}
	return c, nil
}

type reader struct {
	getenv func(string) string
	errs   []error
}

// photoVariables names the variable of each photo option.
var photoVariables = map[string]string{
	"Size": "PHOTO_SIZE", "Crop": "PHOTO_CROP", "Quality": "PHOTO_QUALITY", "MaxBytes": "PHOTO_MAX_BYTES", "MaxPixels": "SOURCE_MAX_PIXELS",
}

// photo checks the photo options as imageproc does, and names the variable of each one out of
// range.
func (r *reader) photo(o imageproc.Options) {
	err := o.Validate()
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var oe *imageproc.OptionError
		if name, ok := photoVariables[optionField(e, &oe)]; ok {
			r.fail(name, strings.TrimSpace(r.getenv(name)), "want "+oe.Want)
			continue
		}
		r.errs = append(r.errs, fmt.Errorf("photo options: %w", e)) // an option no variable sets
	}
}

func optionField(err error, oe **imageproc.OptionError) string {
	if errors.As(err, oe) {
		return (*oe).Field
	}
	return ""
}

func (r *reader) fail(name, value, why string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

// secretID reads a Secrets Manager secret's name or ARN: required, and either an ARN or a name
// of the characters Secrets Manager allows.
func (r *reader) secretID(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	switch {
	case v == "":
		r.fail(name, v, "name the Secrets Manager secret with the Graph app's credentials (its name or ARN)")
	case strings.HasPrefix(v, "arn:"):
		if parts := strings.SplitN(v, ":", 7); len(parts) != 7 || parts[2] != "secretsmanager" || parts[5] != "secret" {
			r.fail(name, v, "want a Secrets Manager secret ARN, arn:aws:secretsmanager:{region}:{account}:secret:{name}")
		}
	case len(v) > 512 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-") != "":
		r.fail(name, v, "want a secret name (letters, digits and /_+=.@-, at most 512) or its ARN")
	}
	return v
}

// metadataKey reads the name of a user metadata entry: it travels as the header
// x-amz-meta-{name}, so it must be a header token.
func (r *reader) metadataKey(name, def string) string {
	v := r.str(name, def)
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			r.fail(name, v, "want a metadata name that can be an HTTP header, such as "+def)
			return def
		}
	}
	return v
}

// keyPrefix reads an S3 key prefix: UTF-8, at most S3's 1024 bytes of a key.
func (r *reader) keyPrefix(name, def string) string {
	v := r.getenv(name)
	if strings.TrimSpace(v) == "" {
		return def
	}
	if !utf8.ValidString(v) || len(v) > 1024 || strings.ContainsAny(v, "\r\n") {
		r.fail(name, v, "want an S3 key prefix such as photos/ (UTF-8, one line, at most 1024 bytes)")
		return def
	}
	return v
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) int(name string, def int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n < 0 {
		r.fail(name, v, "want a whole number")
		return def
	}
	return n
}

// claimName reads an app role or scope name as Entra issues them: no spaces (scp is a
// space-separated list), no brackets, quotes or commas (API Gateway's flattened arrays).
func (r *reader) claimName(name, def string) string {
	v := r.str(name, def)
	if len(v) > 120 || strings.ContainsAny(v, " \t\n\r[]\",") {
		r.fail(name, v, "want one role or scope name, such as "+def)
	}
	return v
}

// gatewayID reads an API Gateway API id: lower-case letters and digits (AWS makes ten).
func (r *reader) gatewayID(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	ok := len(v) <= 64
	for _, c := range v {
		ok = ok && ('a' <= c && c <= 'z' || '0' <= c && c <= '9')
	}
	if !ok {
		r.fail(name, v, "want the HTTP API's id (such as a1b2c3d4e5), not its URL or ARN")
		return ""
	}
	return v
}

// prefixes reads a comma-separated list of key prefixes; empty entries are refused, so a
// stray comma cannot turn into "every key".
func (r *reader) prefixes(name string) []string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" || len(p) > 1024 {
			r.fail(name, v, "want comma-separated key prefixes such as uploads/,hr-export/ (no empty entry)")
			return nil
		}
		out = append(out, p)
	}
	return out
}

// underAny reports whether key starts with one of prefixes.
func underAny(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (r *reader) bool(name string) bool { return r.boolOr(name, false) }

func (r *reader) boolOr(name string, def bool) bool {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, "want true or false")
		return def
	}
	return b
}

// bucket reads an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting
// and ending with a letter or digit (S3's rules for general purpose buckets).
func (r *reader) bucket(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return ""
	}
	ok := len(v) >= 3 && len(v) <= 63 && !strings.Contains(v, "..")
	for i, c := range v {
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		ok = ok && (alnum || (c == '-' || c == '.') && i > 0 && i < len(v)-1)
	}
	if !ok {
		r.fail(name, v, "want a bucket name (3 to 63 lower-case letters, digits, dots and hyphens), not an ARN or URL")
		return ""
	}
	return v
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, v, "want a duration such as 15m")
		return def
	}
	return d
}

func (r *reader) crop(name string) imageproc.Crop {
	v := strings.TrimSpace(r.getenv(name))
	c, err := imageproc.ParseCrop(v)
	if err != nil {
		r.fail(name, v, "want attention, centre or none")
	}
	return c
}

func (r *reader) url(name string) string {
	v := strings.TrimRight(strings.TrimSpace(r.getenv(name)), "/")
	if v != "" && !strings.HasPrefix(v, "https://") {
		// MSAL refuses an authority that is not https, and Graph tokens must not cross plain HTTP.
		r.fail(name, v, "want an https:// URL")
	}
	return v
}

func (r *reader) level(name string) slog.Level {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return slog.LevelInfo
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, v, "want debug, info, warn or error")
		return slog.LevelInfo
	}
	return l
}
