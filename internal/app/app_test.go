package app

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// TestBuild: a bad value stops a function at start, naming the variable; a good configuration
// builds without touching the network (credentials are read on the first request).
func TestBuild(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, tt := range []struct {
		env  map[string]string
		want string // in the error; "" for success
	}{
		{map[string]string{"STATE_BUCKET": "state"}, "GRAPH_SECRET_ID"},
		{map[string]string{"GRAPH_SECRET_ID": "s"}, "STATE_BUCKET"},
		{map[string]string{"GRAPH_SECRET_ID": "s", "STATE_BUCKET": "state", "UPLOAD_URL_TTL": "30d"}, "UPLOAD_URL_TTL"},
		{map[string]string{"GRAPH_SECRET_ID": "s", "STATE_BUCKET": "state", "GRAPH_ENDPOINT": "http://plain.example"}, "GRAPH_ENDPOINT"},
		{map[string]string{"GRAPH_SECRET_ID": "s", "STATE_BUCKET": "state", "PHOTO_CROP": "entropy"}, "PHOTO_CROP"},
		{map[string]string{"GRAPH_SECRET_ID": "s", "STATE_BUCKET": "state", "GRAPH_CLOUD": "usgov", "UPLOAD_BUCKET": "photos", "S3_FORCE_PATH_STYLE": "true"}, ""},
		{map[string]string{"GRAPH_SECRET_ID": "s", "SKIP_UNCHANGED": "false"}, ""},
	} {
		var out bytes.Buffer
		l, err := Build(context.Background(), func(k string) string { return tt.env[k] }, &out, graph.Options{})
		switch {
		case tt.want == "" && (err != nil || l == nil || l.Graph == nil || l.Pipeline == nil || l.S3() == nil):
			t.Errorf("%v: %v", tt.env, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: error %v, want one naming %s", tt.env, err, tt.want)
		}
	}
}
