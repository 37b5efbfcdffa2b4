package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/imageproc"
)

// env is an environment of m, with the one variable that has no default (STATE_BUCKET, while
// SKIP_UNCHANGED is on) set unless m says otherwise.
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		if k == "STATE_BUCKET" {
			return "graphphoto-state"
		}
		return ""
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := imageproc.Options{}.WithDefaults()
	if c.Photo.WithDefaults() != want || c.SourceMaxBytes != 52_428_800 || c.TargetMetadataKey != "graph-target" ||
		c.AdminRole != "Photos.ReadWrite.All" || c.UserScope != "Photos.Write" || c.GatewayID != "" || c.TargetMetadataPrefixes != nil ||
		c.UploadURLTTL != 15*time.Minute || c.LogLevel != slog.LevelInfo || !c.SkipUnchanged || c.StateBucket != "graphphoto-state" {
		t.Errorf("defaults: %+v", c)
	}
}

// TestSkipUnchanged: the check is on by default and then needs its bucket; off, it needs none.
func TestSkipUnchanged(t *testing.T) {
	if _, err := Load(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "STATE_BUCKET") || !strings.Contains(err.Error(), "SKIP_UNCHANGED=false") {
		t.Errorf("nothing set: %v", err)
	}
	for _, c := range []struct {
		skip, bucket string
		want         bool
	}{{"false", "", false}, {"0", "", false}, {"FALSE", "photo-state.example", false}, {"true", "photo-state", true}, {"", "photo-state", true}} {
		cfg, err := Load(env(map[string]string{"SKIP_UNCHANGED": c.skip, "STATE_BUCKET": c.bucket}))
		if err != nil || cfg.SkipUnchanged != c.want || cfg.StateBucket != c.bucket {
			t.Errorf("SKIP_UNCHANGED=%q STATE_BUCKET=%q: %+v %v", c.skip, c.bucket, cfg.SkipUnchanged, err)
		}
	}
	// The upload bucket notifies the S3 path: records there would trigger it.
	if _, err := Load(env(map[string]string{"STATE_BUCKET": "photos", "UPLOAD_BUCKET": "photos"})); err == nil || !strings.Contains(err.Error(), "STATE_BUCKET") || !strings.Contains(err.Error(), "UPLOAD_BUCKET") {
		t.Errorf("state bucket = upload bucket: %v", err)
	}
	for _, bad := range []string{"ab", strings.Repeat("a", 64), "Photos", "arn:aws:s3:::state", "s3://state", "-state", "state-", "st..ate", "state/records"} {
		if _, err := Load(env(map[string]string{"STATE_BUCKET": bad})); err == nil || !strings.Contains(err.Error(), "STATE_BUCKET") {
			t.Errorf("STATE_BUCKET=%q: %v", bad, err)
		}
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"GRAPH_SECRET_ID": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:graph-abc123",
		"GRAPH_CLOUD":     "usgov", "GRAPH_ENDPOINT": "https://127.0.0.1:9443/", "PHOTO_SIZE": "504",
		"PHOTO_CROP": "centre", "PHOTO_QUALITY": "80", "PHOTO_MAX_BYTES": "100_000", "SOURCE_MAX_BYTES": "1048576",
		"TARGET_METADATA_KEY": "Graph-Target", "TARGET_KEY_PREFIX": "photos/", "LOG_LEVEL": "debug", "UPLOAD_URL_TTL": "5m",
		"API_USER_SCOPE": "Photo.Upload", "API_GATEWAY_ID": "a1b2c3d4e5", "TARGET_METADATA_PREFIXES": " hr-export/, uploads/ ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Photo.Size != 504 || c.Photo.Crop != imageproc.CropCentre || c.Photo.Quality != 80 || c.Photo.MaxBytes != 100_000 ||
		c.Endpoint != "https://127.0.0.1:9443" || c.TargetMetadataKey != "graph-target" || c.TargetKeyPrefix != "photos/" ||
		c.LogLevel != slog.LevelDebug || c.UploadURLTTL != 5*time.Minute || c.Cloud != "usgov" ||
		c.UserScope != "Photo.Upload" || c.GatewayID != "a1b2c3d4e5" || strings.Join(c.TargetMetadataPrefixes, "|") != "hr-export/|uploads/" {
		t.Errorf("parsed: %+v", c)
	}
}

func TestS3ForcePathStyle(t *testing.T) {
	for value, want := range map[string]bool{"": false, "true": true, "1": true, "false": false, " TRUE ": true} {
		c, err := Load(env(map[string]string{"S3_FORCE_PATH_STYLE": value}))
		if err != nil || c.S3ForcePathStyle != want {
			t.Errorf("S3_FORCE_PATH_STYLE=%q: %v, %v; want %v", value, c.S3ForcePathStyle, err, want)
		}
	}
}

func TestBadValuesNameTheirVariable(t *testing.T) {
	tests := map[string]string{
		"PHOTO_SIZE": "big", "PHOTO_CROP": "entropy", "PHOTO_QUALITY": "0x55", "GRAPH_CLOUD": "mars",
		"GRAPH_ENDPOINT": "http://graph.example", "PHOTO_MAX_BYTES": "5000000", "LOG_LEVEL": "loud",
		"UPLOAD_URL_TTL": "30d", "SOURCE_MAX_BYTES": "-1", "S3_FORCE_PATH_STYLE": "yes please",
		"API_USER_SCOPE": "Photos.Write Photos.Read", "API_ADMIN_ROLE": "[Photos.ReadWrite.All]",
		"API_GATEWAY_ID":           "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
		"TARGET_METADATA_PREFIXES": "uploads/,,hr/",
		"SKIP_UNCHANGED":           "sometimes", "STATE_BUCKET": "arn:aws:s3:::graphphoto-state",
	}
	for name, value := range tests {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err = %v", name, value, err)
		}
	}
	// Metadata prefixes that leave out the presigned uploads would break them.
	for _, e := range []map[string]string{
		{"TARGET_METADATA_PREFIXES": "hr-export/"},
		{"TARGET_METADATA_PREFIXES": "uploads/x/", "UPLOAD_PREFIX": "uploads/"},
		{"TARGET_METADATA_PREFIXES": "uploads/", "UPLOAD_PREFIX": "incoming/"},
	} {
		if _, err := Load(env(e)); err == nil || !strings.Contains(err.Error(), "TARGET_METADATA_PREFIXES") || !strings.Contains(err.Error(), "UPLOAD_PREFIX") {
			t.Errorf("%v: err = %v", e, err)
		}
	}
	if c, err := Load(env(map[string]string{"TARGET_METADATA_PREFIXES": "hr-export/,up", "UPLOAD_PREFIX": "uploads/"})); err != nil || len(c.TargetMetadataPrefixes) != 2 {
		t.Errorf("a prefix of UPLOAD_PREFIX covers it: %v, %v", c.TargetMetadataPrefixes, err)
	}
	// Everything wrong at once is reported at once.
	_, err := Load(env(map[string]string{"PHOTO_CROP": "x", "LOG_LEVEL": "y"}))
	if err == nil || !strings.Contains(err.Error(), "PHOTO_CROP") || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("joined error: %v", err)
	}
	// A photo option out of range (quality 101) is caught too.
	if _, err := Load(env(map[string]string{"PHOTO_QUALITY": "101"})); err == nil {
		t.Error("quality 101 accepted")
	}
}
