package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/graph/graphtest"
	"github.com/graphphoto/graphphoto/internal/imagetest"
	"github.com/graphphoto/graphphoto/internal/onupload"
	"github.com/graphphoto/graphphoto/internal/rietest"
	"github.com/graphphoto/graphphoto/internal/s3test"
	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
	"github.com/graphphoto/graphphoto/internal/tool"
)

const (
	tenantID   = "7a1b2c3d-0000-4000-8000-00000000c0de"
	clientID   = "11111111-2222-4333-8444-555555555555"
	appSecret  = "bootstrap-test-client-secret-value"
	secretName = "graphphoto/onupload"
	bucket     = "hr-photo-uploads" // the bucket the events/ samples name
	stateBkt   = "hr-photo-state"   // the photo records (STATE_BUCKET)
	eventsDir  = "../../events"
	// sampleVersion is the version id in eventbridge-object-created.json, replaced by the real one.
	sampleVersion = "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
)

// samples are the S3 path's files in events/, one per trigger (the apigw-* ones are the API's).
var samples = []string{
	"s3-put-metadata-target.json", "s3-put-key-target.json", "sqs-batch.json",
	"s3-batch-ops-1.0.json", "s3-batch-ops-2.0.json", "eventbridge-object-created.json",
}

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}

// TestBootstrapUnderTheEmulator runs the real bootstrap under aws-lambda-rie with versitygw, the
// Graph emulator and the Secrets Manager emulator, feeds it every file in events/, and checks the
// answer, the photo in Graph, the tags, and the log and metric lines. It also measures INIT against
// the echo function built and run the same way.
func TestBootstrapUnderTheEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bootstrap := rietest.BuildBootstrap(t, ".")

	s3srv := s3test.MustStart(t, s3test.Options{Versioning: true})
	for _, b := range []string{bucket, stateBkt} {
		if err := s3srv.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s3srv.EnableVersioning(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	var dir []graphtest.User
	for i, u := range users {
		dir = append(dir, graphtest.User{ID: fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", i+1), UPN: u + "@contoso.com"})
	}
	gsrv := graphtest.New(graphtest.Options{Tenants: []graphtest.Tenant{{
		ID: tenantID, Apps: []graphtest.App{{ClientID: clientID, Secrets: []string{appSecret}}}, Users: dir,
	}}})
	defer gsrv.Close()
	caFile := filepath.Join(t.TempDir(), "graph-ca.pem")
	if err := gsrv.WriteCA(caFile); err != nil {
		t.Fatal(err)
	}
	sm := secretstest.New(secretstest.WithCredentials(s3srv.AccessKey, s3srv.SecretKey))
	defer sm.Close()
	value, _ := json.Marshal(map[string]string{"tenantId": tenantID, "clientId": clientID, "clientSecret": appSecret})
	if _, err := sm.Put(secretName, string(value)); err != nil {
		t.Fatal(err)
	}

	// Only libvips' HEIF module, as the Lambda image ships (see tool.VipsHome).
	vipsHome, err := tool.VipsHome(t.TempDir(), "heif")
	if err != nil {
		t.Fatal(err)
	}
	emu := rietest.MustStart(t, bootstrap, rietest.Options{FunctionName: "onupload", Timeout: 30 * time.Second, Env: map[string]string{
		"VIPSHOME":                         vipsHome,
		"GRAPH_SECRET_ID":                  secretName,
		"GRAPH_ENDPOINT":                   gsrv.GraphURL(),
		"GRAPH_AUTHORITY":                  gsrv.AuthorityURL(),
		"SSL_CERT_FILE":                    caFile,
		"AWS_ENDPOINT_URL_S3":              s3srv.Endpoint,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL,
		"S3_FORCE_PATH_STYLE":              "true",
		"AWS_ACCESS_KEY_ID":                s3srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY":            s3srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED":        "true",
		"TARGET_KEY_PREFIX":                "photos/",
		"SOURCE_MAX_BYTES":                 "10485760",
		"STATE_BUCKET":                     stateBkt,
	}})

	client := s3srv.Client()
	images := []string{"portrait_o0.jpg", "portrait_o3.jpg", "portrait_o5.jpg", "portrait_o6.jpg", "portrait_o8.jpg", "portrait_o2.jpg", "portrait_o7.jpg"}
	for i, name := range samples {
		payload, err := os.ReadFile(filepath.Join(eventsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := onupload.Decode(payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Create the objects the sample names; a key outside photos/ gets its target in metadata.
		var targets, keys []string
		for _, item := range ev.Items {
			for _, o := range item.Objects {
				in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key), Body: bytes.NewReader(corpus(t, images[i%len(images)]))}
				target := targetOf(o.Key)
				if target == "" {
					target = "users/alice@contoso.com"
					in.Metadata = map[string]string{"graph-target": target}
				}
				out, err := client.PutObject(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				if o.VersionID != "" {
					payload = bytes.ReplaceAll(payload, []byte(o.VersionID), []byte(aws.ToString(out.VersionId)))
				}
				if o.ETag != "" {
					// The function skips an event whose object the key no longer holds: the
					// sample names the ETag of what was just put, as S3 would.
					payload = bytes.ReplaceAll(payload, []byte(o.ETag), []byte(strings.Trim(aws.ToString(out.ETag), `"`)))
				}
				targets, keys = append(targets, target), append(keys, o.Key)
			}
		}
		if len(keys) == 0 {
			t.Fatalf("%s names no object", name)
		}

		res, err := emu.InvokeResult(ctx, payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.FunctionError != nil {
			t.Fatalf("%s: function error %v\n%s", name, res.FunctionError, emu.Output())
		}
		checkAnswer(t, name, ev, res.Payload)
		for j, key := range keys {
			if _, ok := gsrv.Photo(tenantID, targets[j]); !ok {
				t.Errorf("%s: no photo in Graph for %s", name, targets[j])
			}
			tags, err := client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != onupload.TagStatus || aws.ToString(tags.TagSet[0].Value) != "synced" {
				t.Errorf("%s: tags of %s: %v %v", name, key, tags, err)
			}
		}
		checkLines(t, name, res, len(keys))
	}

	// INIT against a reference measured the same way in the same run.
	initOnUpload, err := emu.InitDuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	echo := rietest.MustStart(t, rietest.BuildBootstrap(t, "../../internal/rietest/testdata/echo"), rietest.Options{})
	if _, err := echo.Invoke(ctx, []byte(`{"hello":"init"}`)); err != nil {
		t.Fatal(err)
	}
	initEcho, err := echo.InitDuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The same binary with every module Debian's libvips ships (ImageMagick, poppler, OpenSlide,
	// JPEG XL, HEIF), to show what the curated module folder saves.
	full := rietest.MustStart(t, bootstrap, rietest.Options{FunctionName: "onupload", Env: map[string]string{"GRAPH_SECRET_ID": secretName, "STATE_BUCKET": stateBkt}})
	full.Invoke(ctx, []byte(`{}`))
	initFull, err := full.InitDuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	t.Logf("INIT under aws-lambda-rie: onupload %v (HEIF module only) / %v (all Debian modules), echo reference %v; ratio to echo %.1fx / %.1fx (goal <= 60ms)",
		r(initOnUpload), r(initFull), r(initEcho), float64(initOnUpload)/float64(initEcho), float64(initFull)/float64(initEcho))
	if strings.Contains(emu.Output(), appSecret) {
		t.Error("the client secret reached the function's output")
	}
}

// targetOf reads the key layout photos/{target}/{file} the way the samples use it.
func targetOf(key string) string {
	rest, ok := strings.CutPrefix(key, "photos/")
	if !ok {
		return ""
	}
	return rest[:strings.LastIndex(rest, "/")]
}

func checkAnswer(t *testing.T, name string, ev onupload.Event, payload []byte) {
	t.Helper()
	switch ev.Trigger {
	case onupload.TriggerS3, onupload.TriggerEventBridge:
		if string(payload) != "null" {
			t.Errorf("%s: answer %s, want null", name, payload)
		}
	case onupload.TriggerSQS:
		var resp events.SQSEventResponse
		if err := json.Unmarshal(payload, &resp); err != nil || string(payload) != `{"batchItemFailures":[]}` {
			t.Errorf("%s: answer %s (%v), want no batch item failures", name, payload, err)
		}
	case onupload.TriggerBatch:
		var resp events.S3BatchJobResponse
		if err := json.Unmarshal(payload, &resp); err != nil {
			t.Fatalf("%s: answer %s: %v", name, payload, err)
		}
		if resp.InvocationSchemaVersion != ev.SchemaVersion || resp.InvocationID != ev.InvocationID || len(resp.Results) != len(ev.Items) {
			t.Errorf("%s: answer %s", name, payload)
		}
		for i, r := range resp.Results {
			if r.TaskID != ev.Items[i].ID || r.ResultCode != onupload.BatchSucceeded {
				t.Errorf("%s: task %+v", name, r)
			}
		}
	}
}

// checkLines finds, among the invocation's lines, one JSON log line and one EMF line per object,
// each with the invocation's request id.
func checkLines(t *testing.T, name string, res rietest.Result, objects int) {
	t.Helper()
	logs, emf := 0, 0
	for _, l := range res.Logs {
		var m map[string]any
		if json.Unmarshal([]byte(l.Text), &m) != nil {
			continue
		}
		if m["requestId"] != res.RequestID {
			continue
		}
		if m["message"] == "photo synced" && m["status"] == "synced" && m["graph_request_id"] != "" {
			logs++
		}
		if aws, ok := m["_aws"].(map[string]any); ok && aws["CloudWatchMetrics"] != nil && m["PhotosSynced"] == 1.0 && m["FunctionName"] == "onupload" {
			emf++
		}
	}
	if logs != objects || emf != objects {
		t.Errorf("%s: %d log lines and %d EMF lines with the request id, want %d of each; lines:\n%v", name, logs, emf, objects, res.Logs)
	}
}

// TestBadConfigurationStopsAtStart runs the bootstrap with bad settings: it must exit 1 before
// asking the runtime for work, with one line naming every bad variable.
func TestBadConfigurationStopsAtStart(t *testing.T) {
	bootstrap := rietest.BuildBootstrap(t, ".")
	tests := map[string]struct {
		env  []string
		want []string
	}{
		"bad values":   {[]string{"GRAPH_SECRET_ID=s", "PHOTO_CROP=entropy", "SOURCE_MAX_BYTES=lots", "S3_FORCE_PATH_STYLE=maybe", "STATE_BUCKET=s3://x"}, []string{"PHOTO_CROP", "SOURCE_MAX_BYTES", "S3_FORCE_PATH_STYLE", "STATE_BUCKET"}},
		"no secret id": {[]string{"PHOTO_CROP=centre", "STATE_BUCKET=" + stateBkt}, []string{"GRAPH_SECRET_ID"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bootstrap)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1"}, tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1", err)
			}
			out := strings.TrimRight(stderr.String(), "\n")
			if strings.Count(out, "\n") != 0 || !strings.HasPrefix(out, "onupload: ") {
				t.Errorf("want one line starting onupload:, got %q", out)
			}
			for _, v := range tc.want {
				if !strings.Contains(out, v) {
					t.Errorf("%q does not name %s", out, v)
				}
			}
		})
	}
}

// corpus reads a test image (internal/imagetest).
func corpus(t testing.TB, name string) []byte {
	t.Helper()
	return imagetest.Read(t, name)
}
