package config

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/imageproc"
)

// env is an environment of m, with the variables that have no default set unless m sets them:
// GRAPH_SECRET_ID, which every function needs, and STATE_BUCKET, while SKIP_UNCHANGED is on.
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		switch k {
		case "GRAPH_SECRET_ID":
			return "graphphoto/graph-app"
		case "STATE_BUCKET":
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

// TestEveryVariable: for every variable Load reads, each bad value stops the configuration with
// an error that names that variable (and no other), and a good value passes.
func TestEveryVariable(t *testing.T) {
	cases := []struct {
		name string
		bad  []string
		good string
	}{
		{"GRAPH_SECRET_ID", []string{"", "graph app", "arn:aws:s3:::bucket/key"}, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:graph-abc123"},
		{"GRAPH_CLOUD", []string{"mars", "GLOBAL "}, "usgovdod"},
		{"GRAPH_ENDPOINT", []string{"http://graph.example", "graph.microsoft.com"}, "https://127.0.0.1:9443/"},
		{"GRAPH_AUTHORITY", []string{"ftp://login.example"}, "https://127.0.0.1:9443"},
		{"PHOTO_SIZE", []string{"big", "20000", "-1"}, "504"},
		{"PHOTO_CROP", []string{"entropy"}, "none"},
		{"PHOTO_QUALITY", []string{"101", "0x55", "-5"}, "80"},
		{"PHOTO_MAX_BYTES", []string{"9999", "5000000", "4MB"}, "100_000"},
		{"SOURCE_MAX_BYTES", []string{"-1", "50MiB"}, "1048576"},
		{"SOURCE_MAX_PIXELS", []string{"-5", "lots"}, "25_000_000"},
		{"TARGET_METADATA_KEY", []string{"graph target", "graph:target"}, "Graph-Target"},
		{"TARGET_KEY_PREFIX", []string{"photos/\n", "\xff/"}, "photos/"},
		{"TARGET_METADATA_PREFIXES", []string{"uploads/,,hr/", "hr-export/"}, "uploads/,hr-export/"},
		{"S3_FORCE_PATH_STYLE", []string{"yes please"}, "true"},
		{"API_ADMIN_ROLE", []string{"[Photos.ReadWrite.All]", "Photos Admin"}, "Photos.Admin"},
		{"API_USER_SCOPE", []string{"Photos.Write Photos.Read"}, "Photo.Upload"},
		{"API_GATEWAY_ID", []string{"https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "A1B2C3D4E5"}, "a1b2c3d4e5"},
		{"UPLOAD_BUCKET", []string{"s3://photos", "arn:aws:s3:::photos", "ab", "hr photos"}, "hr-photo-uploads"},
		{"UPLOAD_PREFIX", []string{"up\nloads/"}, "uploads/"},
		{"UPLOAD_URL_TTL", []string{"30d", "30s", "200h"}, "5m"},
		{"SKIP_UNCHANGED", []string{"maybe"}, "false"},
		{"STATE_BUCKET", []string{"", "s3://graphphoto-state", "Graph_State"}, "hr-photo-state"},
		{"LOG_LEVEL", []string{"loud"}, "debug"},
	}
	var covered []string
	for _, tc := range cases {
		covered = append(covered, tc.name)
		for _, bad := range tc.bad {
			_, err := Load(env(map[string]string{tc.name: bad}))
			if err == nil || !strings.Contains(err.Error(), tc.name+`="`) {
				t.Errorf("%s=%q: err = %v, want one naming %s", tc.name, bad, err, tc.name)
				continue
			}
			for _, other := range Variables {
				if other != tc.name && strings.Contains(err.Error(), other+`="`) {
					t.Errorf("%s=%q: the error names %s too: %v", tc.name, bad, other, err)
				}
			}
		}
		if _, err := Load(env(map[string]string{tc.name: tc.good})); err != nil {
			t.Errorf("%s=%q: %v", tc.name, tc.good, err)
		}
	}
	slices.Sort(covered)
	want := slices.Sorted(slices.Values(Variables))
	if !slices.Equal(covered, want) {
		t.Errorf("the table covers %v, Load reads %v", covered, want)
	}
}
