package onupload

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// eventsDir is the repository's events/ folder: the SAM samples are also these tests' fixtures.
const eventsDir = "../../events"

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEventFilesRoundTrip decodes each sample into aws-lambda-go's type for its trigger,
// encodes it again and compares, as aws-lambda-go's own event tests do: a sample that does not
// survive has a field in the wrong place or of the wrong type.
func TestEventFilesRoundTrip(t *testing.T) {
	tests := []struct {
		file string
		into func() any
		// fields the Go type adds when encoding (zero values, or URLDecodedKey)
		added []string
	}{
		{"s3-put-metadata-target.json", func() any { return &events.S3Event{} }, []string{"urlDecodedKey"}},
		{"s3-put-key-target.json", func() any { return &events.S3Event{} }, []string{"urlDecodedKey"}},
		{"sqs-batch.json", func() any { return &events.SQSEvent{} }, []string{"md5OfMessageAttributes", "stringListValues", "binaryListValues"}},
		{"s3-batch-ops-1.0.json", func() any { return &events.S3BatchJobEvent{} }, nil},
		{"s3-batch-ops-2.0.json", func() any { return &events.S3BatchJobEventV2{} }, nil},
		{"eventbridge-object-created.json", func() any { return &events.EventBridgeEvent{} }, nil},
	}
	entries, err := os.ReadDir(eventsDir)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			in := readEvent(t, tc.file)
			v := tc.into()
			dec := json.NewDecoder(strings.NewReader(string(in)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Fatalf("decode into %T: %v", v, err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, want := normaliseJSON(t, out, tc.added), normaliseJSON(t, in, nil)
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("round trip through %T changed the event:\n got %s\nwant %s", v, g, w)
			}
			// An SQS message body is itself an event: round-trip it as one too.
			if sqs, ok := v.(*events.SQSEvent); ok {
				for _, m := range sqs.Records {
					var body map[string]any
					if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
						t.Errorf("message %s: body is not JSON: %v", m.MessageId, err)
						continue
					}
					if body["Event"] == testEvent {
						var te events.S3TestEvent
						roundTripEqual(t, []byte(m.Body), &te, nil)
					} else {
						var s3e events.S3Event
						roundTripEqual(t, []byte(m.Body), &s3e, []string{"urlDecodedKey"})
					}
				}
			}
		})
	}
	for _, e := range entries {
		// apigw-* samples belong to the API function (functions/api) and are tested there;
		// env.json is sam local's environment file, checked against the template in internal/deploy.
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), "apigw-") && e.Name() != "env.json" && !covered[e.Name()] {
			t.Errorf("events/%s has no round-trip test", e.Name())
		}
	}
}

func roundTripEqual(t *testing.T, in []byte, v any, added []string) {
	t.Helper()
	if err := json.Unmarshal(in, v); err != nil {
		t.Fatalf("decode into %T: %v", v, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := normaliseJSON(t, out, added), normaliseJSON(t, in, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip through %T changed:\n got %v\nwant %v", v, got, want)
	}
}

// normaliseJSON decodes b and drops null members and the named added members, so that a null in
// a sample and the empty string the Go type writes back compare equal.
func normaliseJSON(t *testing.T, b []byte, added []string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	drop := map[string]bool{}
	for _, k := range added {
		drop[k] = true
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if e == nil || drop[k] || (e == "" && isNullable(k)) {
					delete(x, k)
					continue
				}
				x[k] = walk(e)
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	return walk(v)
}

// isNullable lists members that samples write as null and Go types as "".
func isNullable(k string) bool { return k == "s3VersionId" || k == "versionId" }

func TestDecodeEventFiles(t *testing.T) {
	obj := func(key, raw, version string, size int64, etag string) Object {
		return Object{Bucket: "hr-photo-uploads", Key: key, RawKey: raw, VersionID: version, Size: size, ETag: etag}
	}
	tests := []struct {
		file string
		want Event
	}{
		{"s3-put-metadata-target.json", Event{Trigger: TriggerS3, Items: []Item{{Objects: []Object{
			obj("incoming/2026-05/Alice Smith (portrait).jpg", "incoming/2026-05/Alice+Smith+%28portrait%29.jpg", "", 248531, "0d6b2f4d1c8e4e6a9d1f5b3a7c2e9f10")}}}}},
		{"s3-put-key-target.json", Event{Trigger: TriggerS3, Items: []Item{{Objects: []Object{
			obj("photos/users/bob@contoso.com/badge 2026.jpg", "photos/users/bob%40contoso.com/badge+2026.jpg", "", 251800, "5f2c6a1e9b0d4c8f7a3e1d2b6c9f0a84")}}}}},
		{"sqs-batch.json", Event{Trigger: TriggerSQS, Items: []Item{
			{ID: "5f0b2a3c-1d4e-4f6a-8b9c-0d1e2f3a4b5c", Skip: testEvent},
			{ID: "19dd0b57-b21e-4ac1-bd88-01bbb068cb78", Objects: []Object{
				obj("photos/users/carol@contoso.com/carol.jpg", "photos/users/carol%40contoso.com/carol.jpg", "", 246554, "9a8b7c6d5e4f30211f2e3d4c5b6a7980")}},
			{ID: "2e1f4c6d-8a0b-4c2d-9e3f-5a6b7c8d9e0f", Objects: []Object{
				obj("photos/users/dave@contoso.com/dave at desk.jpg", "photos/users/dave%40contoso.com/dave+at+desk.jpg", "", 247276, "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f")}},
		}}},
		{"s3-batch-ops-1.0.json", Event{Trigger: TriggerBatch, SchemaVersion: "1.0", InvocationID: "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
			Items: []Item{{ID: "dGFza2lkZ29lc2hlcmUK", Objects: []Object{
				obj("photos/users/erin@contoso.com/erin.jpg", "photos/users/erin%40contoso.com/erin.jpg", "", 0, "")}}}}},
		{"s3-batch-ops-2.0.json", Event{Trigger: TriggerBatch, SchemaVersion: "2.0", InvocationID: "Z3JhcGhwaG90by1iYWNrZmlsbC0yMDI2LTA1LTA0Cg",
			Items: []Item{{ID: "ZnJhbmstdGFzay0wMDAxCg", Objects: []Object{
				obj("photos/users/frank@contoso.com/frank 2.jpg", "photos/users/frank%40contoso.com/frank+2.jpg", "", 0, "")}}}}},
		{"eventbridge-object-created.json", Event{Trigger: TriggerEventBridge, Items: []Item{{Objects: []Object{
			obj("photos/users/grace@contoso.com/grace.jpg", "photos/users/grace%40contoso.com/grace.jpg", "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", 250892, "b1946ac92492d2347c6235b4d2611184")}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Decode(readEvent(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeOddEvents(t *testing.T) {
	s3rec := func(name, key string) string {
		return `{"eventSource":"aws:s3","eventName":"` + name + `","eventTime":"2026-05-04T09:15:02.318Z","s3":{"bucket":{"name":"b"},"object":{"key":"` + key + `"}}}`
	}
	tests := []struct {
		name    string
		payload string
		reason  reason.Reason // error reason of Decode, zero for none
		check   func(t *testing.T, ev Event)
	}{
		{"not JSON", `hello`, ReasonUnrecognisedEvent, nil},
		{"an array", `[1,2]`, ReasonUnrecognisedEvent, nil},
		{"empty object", `{}`, ReasonUnrecognisedEvent, nil},
		{"API Gateway", `{"version":"2.0","routeKey":"$default","rawPath":"/"}`, ReasonUnrecognisedEvent, nil},
		{"DynamoDB records", `{"Records":[{"eventSource":"aws:dynamodb"}]}`, ReasonUnrecognisedEvent, nil},
		{"batch schema 3.0", `{"invocationSchemaVersion":"3.0","tasks":[]}`, ReasonUnrecognisedEvent, nil},
		{"batch tasks not a list", `{"invocationSchemaVersion":"1.0","tasks":{}}`, ReasonMalformedEvent, nil},
		{"direct test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`, reason.Reason{}, func(t *testing.T, ev Event) {
			if ev.Skip != testEvent || len(ev.Items) != 0 {
				t.Errorf("%+v", ev)
			}
		}},
		{"records independent", `{"Records":[` + s3rec("ObjectCreated:Put", "a%ZZ.jpg") + `,` + s3rec("ObjectCreated:Copy", "ok+key.jpg") + `,` +
			s3rec("ObjectRemoved:Delete", "gone.jpg") + `,` + s3rec("s3:ObjectCreated:Put", "prefixed.jpg") + `,` +
			`{"eventSource":"aws:s3","eventTime":"not a time","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}` + `,` +
			s3rec("ObjectCreated:Put", "") + `]}`, reason.Reason{}, func(t *testing.T, ev Event) {
			if len(ev.Items) != 6 {
				t.Fatalf("%d items, want 6", len(ev.Items))
			}
			o := func(i int) Object { return ev.Items[i].Objects[0] }
			var de *DecodeError
			if !errors.As(o(0).Err, &de) || de.Reason() != ReasonBadKey {
				t.Errorf("bad key: %+v", o(0))
			}
			if o(1).Err != nil || o(1).Key != "ok key.jpg" || o(1).Skip != "" {
				t.Errorf("copy: %+v", o(1))
			}
			if o(2).Skip == "" || o(2).Err != nil {
				t.Errorf("delete not skipped: %+v", o(2))
			}
			if o(3).Skip != "" || o(3).Key != "prefixed.jpg" {
				t.Errorf("s3:-prefixed event name: %+v", o(3))
			}
			if !errors.As(o(4).Err, &de) || de.Reason() != ReasonMalformedEvent {
				t.Errorf("bad time: %+v", o(4))
			}
			if !errors.As(o(5).Err, &de) || de.Reason() != ReasonMalformedEvent {
				t.Errorf("empty key: %+v", o(5))
			}
		}},
		{"SQS bodies", `{"Records":[` +
			`{"messageId":"m1","eventSource":"aws:sqs","body":"not json"},` +
			`{"messageId":"m2","eventSource":"aws:sqs","body":"{\"hello\":1}"},` +
			`{"messageId":"m3","eventSource":"aws:sqs","body":` + jsonString(`{"Records":[`+s3rec("ObjectCreated:Put", "x.jpg")+`,`+s3rec("ObjectCreated:Put", "y.jpg")+`]}`) + `},` +
			`{"messageId":"m4","eventSource":"aws:sqs","body":` + jsonString(`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"z+1.png","size":3}}}`) + `},` +
			`{"messageId":"m5","eventSource":"aws:sqs","body":` + jsonString(`{"source":"aws.s3","detail-type":"Object Deleted","detail":{"bucket":{"name":"b"},"object":{"key":"z.png"}}}`) + `}` +
			`]}`, reason.Reason{}, func(t *testing.T, ev Event) {
			if ev.Trigger != TriggerSQS || len(ev.Items) != 5 {
				t.Fatalf("%+v", ev)
			}
			var de *DecodeError
			if !errors.As(ev.Items[0].Err, &de) || de.Reason() != ReasonMalformedEvent || ev.Items[0].ID != "m1" {
				t.Errorf("m1: %+v", ev.Items[0])
			}
			if !errors.As(ev.Items[1].Err, &de) || de.Reason() != ReasonUnrecognisedEvent {
				t.Errorf("m2: %+v", ev.Items[1])
			}
			if objs := ev.Items[2].Objects; len(objs) != 2 || objs[0].Key != "x.jpg" || objs[1].Key != "y.jpg" {
				t.Errorf("m3: %+v", ev.Items[2])
			}
			if objs := ev.Items[3].Objects; len(objs) != 1 || objs[0].Key != "z 1.png" || objs[0].Size != 3 || objs[0].Skip != "" {
				t.Errorf("m4: %+v", ev.Items[3])
			}
			if objs := ev.Items[4].Objects; len(objs) != 1 || objs[0].Skip == "" {
				t.Errorf("m5: %+v", ev.Items[4])
			}
		}},
		{"batch bucket ARNs", `{"invocationSchemaVersion":"1.0","invocationId":"i","job":{"id":"j"},"tasks":[` +
			`{"taskId":"t1","s3Key":"a.jpg","s3BucketArn":"arn:aws:s3:::bkt"},` +
			`{"taskId":"t2","s3Key":"a.jpg","s3BucketArn":"not an arn"},` +
			`{"taskId":"t3","s3Key":"a%2Bb.jpg","s3VersionId":"v7","s3BucketArn":"arn:aws-cn:s3:::cn-bkt"}]}`, reason.Reason{}, func(t *testing.T, ev Event) {
			if len(ev.Items) != 3 {
				t.Fatalf("%+v", ev)
			}
			if o := ev.Items[0].Objects[0]; o.Bucket != "bkt" || o.Err != nil {
				t.Errorf("t1: %+v", o)
			}
			if o := ev.Items[1].Objects[0]; o.Err == nil {
				t.Errorf("t2: a task without a bucket was accepted: %+v", o)
			}
			if o := ev.Items[2].Objects[0]; o.Bucket != "cn-bkt" || o.Key != "a+b.jpg" || o.VersionID != "v7" {
				t.Errorf("t3: %+v", o)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode([]byte(tc.payload))
			if !tc.reason.IsZero() {
				var de *DecodeError
				if !errors.As(err, &de) || de.Reason() != tc.reason || de.Transient() {
					t.Fatalf("err = %v, want a permanent %s", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, ev)
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDecodeKey(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"photos/users/alice%40contoso.com/me.jpg", "photos/users/alice@contoso.com/me.jpg"},
		{"red+flower.jpg", "red flower.jpg"},
		{"c%2B%2B.png", "c++.png"},
		{"a%20b", "a b"},
		{"guest%23EXT%23%40contoso.onmicrosoft.com", "guest#EXT#@contoso.onmicrosoft.com"},
		{"%E2%82%AC.jpg", "€.jpg"},
		{"plain/key.jpg", "plain/key.jpg"},
	}
	for _, tc := range tests {
		if got, err := DecodeKey(tc.raw); err != nil || got != tc.want {
			t.Errorf("DecodeKey(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
	for _, bad := range []string{"%", "a%2", "%zz.jpg"} {
		var de *DecodeError
		if _, err := DecodeKey(bad); !errors.As(err, &de) || de.Reason() != ReasonBadKey {
			t.Errorf("DecodeKey(%q) err = %v, want bad_key", bad, err)
		}
	}
}

// FuzzDecode: no payload makes Decode panic, and every object it yields has a bucket and a key
// unless it carries an error or a reason to skip.
func FuzzDecode(f *testing.F) {
	entries, _ := os.ReadDir(eventsDir)
	for _, e := range entries { // every sample, the API's too: Decode must refuse those cleanly
		if b, err := os.ReadFile(filepath.Join(eventsDir, e.Name())); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Records":[{"eventSource":"aws:s3","s3":{"object":{"key":"%"}}}]}`))
	f.Add([]byte(`{"invocationSchemaVersion":"2.0","tasks":[{"taskId":"t","s3Key":"+","s3Bucket":"b"}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := Decode(payload)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, it := range ev.Items {
			for _, o := range it.Objects {
				if o.Err == nil && o.Skip == "" && (o.Bucket == "" || o.Key == "") {
					t.Fatalf("object without bucket or key and no error: %+v", o)
				}
			}
		}
	})
}
