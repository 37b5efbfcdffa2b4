package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/graphphoto/graphphoto/internal/imageproc"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := imageproc.Options{}.WithDefaults()
	if c.Photo.WithDefaults() != want || c.SourceMaxBytes != 52_428_800 || c.TargetMetadataKey != "graph-target" ||
		c.AdminRole != "Photos.ReadWrite.All" || c.UploadURLTTL != 15*time.Minute || c.LogLevel != slog.LevelInfo {
		t.Errorf("defaults: %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"GRAPH_SECRET_ID": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:graph-abc123",
		"GRAPH_CLOUD":     "usgov", "GRAPH_ENDPOINT": "https://127.0.0.1:9443/", "PHOTO_SIZE": "504",
		"PHOTO_CROP": "centre", "PHOTO_QUALITY": "80", "PHOTO_MAX_BYTES": "100_000", "SOURCE_MAX_BYTES": "1048576",
		"TARGET_METADATA_KEY": "Graph-Target", "TARGET_KEY_PREFIX": "photos/", "LOG_LEVEL": "debug", "UPLOAD_URL_TTL": "5m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Photo.Size != 504 || c.Photo.Crop != imageproc.CropCentre || c.Photo.Quality != 80 || c.Photo.MaxBytes != 100_000 ||
		c.Endpoint != "https://127.0.0.1:9443" || c.TargetMetadataKey != "graph-target" || c.TargetKeyPrefix != "photos/" ||
		c.LogLevel != slog.LevelDebug || c.UploadURLTTL != 5*time.Minute || c.Cloud != "usgov" {
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
	}
	for name, value := range tests {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err = %v", name, value, err)
		}
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
