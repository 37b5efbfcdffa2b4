package s3notify

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// versitygwRecord is a body shaped like versitygw v1.8.0's s3event.EventSchema, with fields
// replaced by the test cases.
func versitygwRecord(edit func(map[string]any)) []byte {
	rec := map[string]any{
		"eventVersion": "2.2",
		"eventSource":  "aws:s3",
		"awsRegion":    "eu-west-1",
		"eventTime":    "2026-11-29T04:01:58+01:00",
		"eventName":    "s3:ObjectCreated:Put",
		"userIdentity": map[string]any{"PrincipalId": "AKIAROOT"},
		"requestParameters": map[string]any{
			"sourceIPAddress": "127.0.0.1",
		},
		"responseElements": map[string]any{"x-amz-request-id": "REQ1", "x-amz-id-2": "HOST1"},
		"s3": map[string]any{
			"s3SchemaVersion": "1.0",
			"configurationId": "webhook-global",
			"bucket": map[string]any{
				"name":          "photos",
				"ownerIdentity": map[string]any{"PrincipalId": "AKIAROOT"},
				"arn":           "arn:aws:s3:::/photos/a b.jpg",
			},
			"object": map[string]any{
				"key":       "a b.jpg",
				"size":      1234,
				"eTag":      `"0123456789abcdef0123456789abcdef"`,
				"versionId": nil,
				"sequencer": "1A",
			},
		},
		"glacierEventData": map[string]any{"restoreEventData": map[string]any{}},
	}
	if edit != nil {
		edit(rec)
	}
	b, err := json.Marshal(map[string]any{"Records": []any{rec}})
	if err != nil {
		panic(err)
	}
	return b
}

func object(rec map[string]any) map[string]any {
	return rec["s3"].(map[string]any)["object"].(map[string]any)
}

func TestConvertRepairsVersitygwRecord(t *testing.T) {
	evs, err := Convert(versitygwRecord(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || len(evs[0].Records) != 1 {
		t.Fatalf("got %d events, want one event with one record", len(evs))
	}
	r := evs[0].Records[0]
	checks := []struct{ name, got, want string }{
		{"eventName", r.EventName, "ObjectCreated:Put"},
		{"eventSource", r.EventSource, "aws:s3"},
		{"awsRegion", r.AWSRegion, "eu-west-1"},
		{"eventTime", r.EventTime.Format(S3TimeLayout), "2026-11-29T03:01:58.000Z"},
		{"key", r.S3.Object.Key, "a+b.jpg"},
		{"urlDecodedKey", r.S3.Object.URLDecodedKey, "a b.jpg"},
		{"eTag", r.S3.Object.ETag, "0123456789abcdef0123456789abcdef"},
		{"versionId", r.S3.Object.VersionID, ""},
		{"sequencer", r.S3.Object.Sequencer, "000000000000001A"},
		{"bucket", r.S3.Bucket.Name, "photos"},
		{"arn", r.S3.Bucket.Arn, "arn:aws:s3:::photos"},
		{"principal", r.PrincipalID.PrincipalID, "AKIAROOT"},
		{"request id", r.ResponseElements["x-amz-request-id"], "REQ1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if r.S3.Object.Size != 1234 {
		t.Errorf("size = %d, want 1234", r.S3.Object.Size)
	}
}

func TestConvertRefusesWhatIsNotANotification(t *testing.T) {
	tests := []struct {
		name   string
		body   []byte
		reason string
	}{
		{"not json", []byte("{"), ReasonMalformedJSON},
		{"two values", append(versitygwRecord(nil), []byte(" {}")...), ReasonMalformedJSON},
		{"no records", []byte(`{"Records":[]}`), ReasonNoRecords},
		{"other message", []byte(`{"Service":"S3","Event":"s3:Other"}`), ReasonNoRecords},
		{"no s3 prefix", versitygwRecord(func(r map[string]any) { r["eventName"] = "ObjectCreated:Put" }), ReasonBadEventName},
		{"wildcard name", versitygwRecord(func(r map[string]any) { r["eventName"] = "s3:ObjectCreated:*" }), ReasonBadEventName},
		{"no operation", versitygwRecord(func(r map[string]any) { r["eventName"] = "s3:ObjectCreated" }), ReasonBadEventName},
		{"bad time", versitygwRecord(func(r map[string]any) { r["eventTime"] = "yesterday" }), ReasonBadEventTime},
		{"other source", versitygwRecord(func(r map[string]any) { r["eventSource"] = "minio:s3" }), ReasonBadSource},
		{"no bucket", versitygwRecord(func(r map[string]any) {
			r["s3"].(map[string]any)["bucket"].(map[string]any)["name"] = ""
		}), ReasonBadBucket},
		{"no key", versitygwRecord(func(r map[string]any) { delete(object(r), "key") }), ReasonBadKey},
		{"long key", versitygwRecord(func(r map[string]any) { object(r)["key"] = strings.Repeat("k", 1025) }), ReasonBadKey},
		{"bad sequencer", versitygwRecord(func(r map[string]any) { object(r)["sequencer"] = "12G" }), ReasonBadSequencer},
		{"no sequencer", versitygwRecord(func(r map[string]any) { object(r)["sequencer"] = "" }), ReasonBadSequencer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert(tc.body)
			var e *Error
			if !errors.As(err, &e) || e.Reason != tc.reason {
				t.Fatalf("error %v, want reason %s", err, tc.reason)
			}
		})
	}
}

func TestConvertRecognisesTheTestEvent(t *testing.T) {
	_, err := Convert([]byte(`{"Bucket":"Test-Bucket","Event":"s3:TestEvent","Service":"S3","Time":"2026-11-29T03:01:58Z"}`))
	if !errors.Is(err, ErrTestEvent) {
		t.Fatalf("error %v, want ErrTestEvent", err)
	}
}

func TestConvertEventNames(t *testing.T) {
	tests := map[string]string{
		"s3:ObjectCreated:Put":                     "ObjectCreated:Put",
		"s3:ObjectCreated:Copy":                    "ObjectCreated:Copy",
		"s3:ObjectCreated:CompleteMultipartUpload": "ObjectCreated:CompleteMultipartUpload",
		"s3:ObjectRemoved:Delete":                  "ObjectRemoved:Delete",
		"s3:ObjectRemoved:DeleteObjects":           "ObjectRemoved:Delete",
		"s3:ObjectTagging:Put":                     "ObjectTagging:Put",
	}
	for in, want := range tests {
		evs, err := Convert(versitygwRecord(func(r map[string]any) { r["eventName"] = in }))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := evs[0].Records[0].EventName; got != want {
			t.Errorf("%s → %q, want %q", in, got, want)
		}
	}
}

func TestEncodeKeyLikeS3(t *testing.T) {
	tests := []struct{ key, want string }{
		{"photo.jpg", "photo.jpg"},
		{"my photo.jpg", "my+photo.jpg"},
		{"a+b.jpg", "a%2Bb.jpg"},
		{"users/alice@contoso.com/p.jpg", "users/alice%40contoso.com/p.jpg"},
		{"dt=2018-05-04/_SUCCESS", "dt%3D2018-05-04/_SUCCESS"},
		{"test/10:47:07.log", "test/10%3A47%3A07.log"},
		{"Zoë.png", "Zo%C3%AB.png"},
		{"写真.heic", "%E5%86%99%E7%9C%9F.heic"},
		{"100%.jpg", "100%25.jpg"},
		{"a~b*c(d)", "a%7Eb*c%28d%29"},
	}
	for _, tc := range tests {
		got := EncodeKey(tc.key)
		if got != tc.want {
			t.Errorf("EncodeKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
		back, err := url.QueryUnescape(got)
		if err != nil || back != tc.key {
			t.Errorf("QueryUnescape(%q) = %q, %v; want %q", got, back, err, tc.key)
		}
	}
}

func TestMarshalWritesS3Shape(t *testing.T) {
	evs, err := Convert(versitygwRecord(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"eventTime":"2026-11-29T03:01:58.000Z"`, `"eventName":"ObjectCreated:Put"`, `"key":"a+b.jpg"`,
		`"size":1234`, `"userIdentity":{"principalId":"AKIAROOT"}`, `"arn":"arn:aws:s3:::photos"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("marshalled event lacks %s: %s", want, s)
		}
	}
	for _, unwanted := range []string{"urlDecodedKey", "versionId", "glacierEventData"} {
		if strings.Contains(s, unwanted) {
			t.Errorf("marshalled event has %s: %s", unwanted, s)
		}
	}
	// aws-lambda-go reads it back to the same event.
	var back events.S3Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := back.Records[0].S3.Object.URLDecodedKey, "a b.jpg"; got != want {
		t.Errorf("decoded key %q, want %q", got, want)
	}
	if !back.Records[0].EventTime.Equal(time.Date(2026, 11, 29, 3, 1, 58, 0, time.UTC)) {
		t.Errorf("event time %v", back.Records[0].EventTime)
	}

	// A removal has neither size nor eTag on S3.
	del, err := Convert(versitygwRecord(func(r map[string]any) {
		r["eventName"] = "s3:ObjectRemoved:Delete"
		object(r)["size"] = 0
		object(r)["eTag"] = nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	b, err = Marshal(del[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"size"`) || strings.Contains(string(b), `"eTag"`) {
		t.Errorf("removal event has size or eTag: %s", b)
	}
}

func FuzzEncodeKey(f *testing.F) {
	for _, k := range []string{"a b", "a+b", "写真/x.jpg", "%", "~*()!'"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		enc := EncodeKey(key)
		back, err := url.QueryUnescape(enc)
		if err != nil || back != key {
			t.Fatalf("EncodeKey(%q) = %q does not unescape back (%q, %v)", key, enc, back, err)
		}
		if strings.ContainsRune(enc, ' ') {
			t.Fatalf("encoded key %q has a space", enc)
		}
	})
}

func FuzzConvert(f *testing.F) {
	f.Add(versitygwRecord(nil))
	f.Add([]byte(`{"Service":"S3","Event":"s3:TestEvent"}`))
	f.Add([]byte(`{"Records":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Convert(body)
		if err != nil {
			var e *Error
			if !errors.Is(err, ErrTestEvent) && !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		for _, ev := range evs {
			r := ev.Records[0]
			if strings.HasPrefix(r.EventName, "s3:") || r.S3.Bucket.Arn != "arn:aws:s3:::"+r.S3.Bucket.Name {
				t.Fatalf("unrepaired record: %+v", r)
			}
			if back, err := url.QueryUnescape(r.S3.Object.Key); err != nil || back != r.S3.Object.URLDecodedKey {
				t.Fatalf("key %q does not decode to %q", r.S3.Object.Key, r.S3.Object.URLDecodedKey)
			}
			if _, err := Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}
