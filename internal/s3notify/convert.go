// Package s3notify turns versitygw's bucket notifications into the events AWS S3 sends, so the
// local stack can feed the S3 path the same records it gets from S3 → SQS → Lambda.
//
// What versitygw v1.8.0 posts to --event-webhook-url (read from its s3event package and seen by
// this package's tests against the real server):
//   - one JSON object {"Records":[record]} per POST, sent in the background, 3 s client timeout,
//     the answer ignored and nothing retried;
//   - at start-up, a test message {"Service":"S3","Event":"s3:TestEvent","Time":…,"Bucket":…};
//   - eventName with the "s3:" prefix ("s3:ObjectCreated:Put"), plus a non-AWS
//     "s3:ObjectRemoved:DeleteObjects" for each key of a multi-object delete;
//   - eventTime in RFC 3339 with whole seconds (time.Now().Format(time.RFC3339), local zone);
//   - the object key as stored, not URL-encoded; the bucket arn as "arn:aws:s3:::/bucket/key";
//   - eTag as the ETag header value, quoted; versionId null for PutObject even on a versioned
//     bucket, and "" for an unversioned multipart completion; size 0 for copies and multipart
//     completions; sequencer an unpadded hexadecimal counter that restarts with the process.
//
// Convert repairs what can be repaired from the message itself (event name, time format, key
// encoding, arn, quotes, sequencer padding) and leaves out what versitygw does not know: a
// consumer must not rely on versionId or on size for copies and multipart uploads (the S3 path
// reads both from its GetObject anyway).
package s3notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Reason codes carried by *Error, stable for logs and HTTP answers.
const (
	ReasonMalformedJSON = "malformed_json"
	ReasonNoRecords     = "no_records"
	ReasonBadEventName  = "bad_event_name"
	ReasonBadEventTime  = "bad_event_time"
	ReasonBadBucket     = "bad_bucket"
	ReasonBadKey        = "bad_key"
	ReasonBadSequencer  = "bad_sequencer"
	ReasonBadSource     = "bad_event_source"
)

// Error is a notification that cannot be turned into an S3 event. It is permanent: sending the
// same message again gives the same error.
type Error struct {
	Reason string // one of the Reason constants
	Detail string
}

func (e *Error) Error() string { return "s3notify: " + e.Reason + ": " + e.Detail }

// ErrTestEvent is returned by Convert for versitygw's start-up test message. S3 sends a similar
// s3:TestEvent when a notification is configured; it carries no object and is not delivered.
var ErrTestEvent = errors.New("s3notify: versitygw test event")

// S3TimeLayout is how S3 writes eventTime: UTC with milliseconds.
const S3TimeLayout = "2006-01-02T15:04:05.000Z"

// sequencerWidth pads versitygw's counter so that sequencers of one key compare as strings,
// the way S3 documents comparing them.
const sequencerWidth = 16

// maxKeyBytes is S3's limit on an object key.
const maxKeyBytes = 1024

// incoming is versitygw's record as it is sent (s3event.EventRecord); only what is used.
type incoming struct {
	Records []struct {
		EventVersion string `json:"eventVersion"`
		EventSource  string `json:"eventSource"`
		AwsRegion    string `json:"awsRegion"`
		EventTime    string `json:"eventTime"`
		EventName    string `json:"eventName"`
		UserIdentity struct {
			PrincipalID string `json:"PrincipalId"`
		} `json:"userIdentity"`
		RequestParameters struct {
			SourceIPAddress string `json:"sourceIPAddress"`
		} `json:"requestParameters"`
		ResponseElements map[string]string `json:"responseElements"`
		S3               struct {
			S3SchemaVersion string `json:"s3SchemaVersion"`
			ConfigurationID string `json:"configurationId"`
			Bucket          struct {
				Name          string `json:"name"`
				OwnerIdentity struct {
					PrincipalID string `json:"PrincipalId"`
				} `json:"ownerIdentity"`
			} `json:"bucket"`
			Object struct {
				Key       *string `json:"key"`
				Size      int64   `json:"size"`
				ETag      *string `json:"eTag"`
				VersionID *string `json:"versionId"`
				Sequencer string  `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
	// The start-up test message has these instead of Records.
	Event   string `json:"Event"`
	Service string `json:"Service"`
}

// Convert parses one versitygw webhook body and returns one S3 event per record, each with a
// single record as S3 sends them. It returns ErrTestEvent for the start-up test message and an
// *Error for anything else it cannot convert.
func Convert(body []byte) ([]events.S3Event, error) {
	var in incoming
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return nil, &Error{Reason: ReasonMalformedJSON, Detail: err.Error()}
	}
	if dec.More() {
		return nil, &Error{Reason: ReasonMalformedJSON, Detail: "more than one JSON value in the body"}
	}
	if len(in.Records) == 0 {
		if in.Event == "s3:TestEvent" {
			return nil, ErrTestEvent
		}
		return nil, &Error{Reason: ReasonNoRecords, Detail: "the notification has no records"}
	}
	out := make([]events.S3Event, 0, len(in.Records))
	for i, r := range in.Records {
		fail := func(reason, format string, args ...any) error {
			return &Error{Reason: reason, Detail: fmt.Sprintf("record %d: ", i) + fmt.Sprintf(format, args...)}
		}
		if r.EventSource != "aws:s3" {
			return nil, fail(ReasonBadSource, "eventSource %q, want aws:s3", r.EventSource)
		}
		name, err := eventName(r.EventName)
		if err != nil {
			return nil, fail(ReasonBadEventName, "%v", err)
		}
		when, err := time.Parse(time.RFC3339Nano, r.EventTime)
		if err != nil {
			return nil, fail(ReasonBadEventTime, "eventTime %q is not RFC 3339", r.EventTime)
		}
		bucket := r.S3.Bucket.Name
		if bucket == "" || strings.Contains(bucket, "/") {
			return nil, fail(ReasonBadBucket, "bucket name %q", bucket)
		}
		if r.S3.Object.Key == nil || *r.S3.Object.Key == "" {
			return nil, fail(ReasonBadKey, "the record has no object key")
		}
		key := *r.S3.Object.Key
		if !utf8.ValidString(key) || len(key) > maxKeyBytes {
			return nil, fail(ReasonBadKey, "object key is not UTF-8 or longer than %d bytes", maxKeyBytes)
		}
		seq, err := padSequencer(r.S3.Object.Sequencer)
		if err != nil {
			return nil, fail(ReasonBadSequencer, "%v", err)
		}
		var rec events.S3EventRecord
		rec.EventVersion = r.EventVersion
		rec.EventSource = "aws:s3"
		rec.AWSRegion = r.AwsRegion
		// S3 reports milliseconds; versitygw sends whole seconds, so the fraction stays zero.
		rec.EventTime = when.UTC().Truncate(time.Millisecond)
		rec.EventName = name
		rec.PrincipalID.PrincipalID = r.UserIdentity.PrincipalID
		rec.RequestParameters.SourceIPAddress = r.RequestParameters.SourceIPAddress
		rec.ResponseElements = map[string]string{}
		for _, h := range []string{"x-amz-request-id", "x-amz-id-2"} {
			if v := r.ResponseElements[h]; v != "" {
				rec.ResponseElements[h] = v
			}
		}
		rec.S3.SchemaVersion = r.S3.S3SchemaVersion
		rec.S3.ConfigurationID = r.S3.ConfigurationID
		rec.S3.Bucket.Name = bucket
		rec.S3.Bucket.OwnerIdentity.PrincipalID = r.S3.Bucket.OwnerIdentity.PrincipalID
		rec.S3.Bucket.Arn = "arn:aws:s3:::" + bucket
		rec.S3.Object.Key = EncodeKey(key)
		rec.S3.Object.URLDecodedKey = key
		rec.S3.Object.Size = r.S3.Object.Size
		if r.S3.Object.ETag != nil {
			rec.S3.Object.ETag = strings.Trim(*r.S3.Object.ETag, `"`)
		}
		if r.S3.Object.VersionID != nil {
			rec.S3.Object.VersionID = *r.S3.Object.VersionID
		}
		rec.S3.Object.Sequencer = seq
		out = append(out, events.S3Event{Records: []events.S3EventRecord{rec}})
	}
	return out, nil
}

// eventName drops the "s3:" prefix S3 does not put in eventName, and renames versitygw's
// per-key "ObjectRemoved:DeleteObjects" to the "ObjectRemoved:Delete" S3 sends for each key of
// a multi-object delete.
func eventName(raw string) (string, error) {
	name, ok := strings.CutPrefix(raw, "s3:")
	if !ok {
		return "", fmt.Errorf("eventName %q has no s3: prefix", raw)
	}
	kind, op, ok := strings.Cut(name, ":")
	if !ok || kind == "" || op == "" || op == "*" || strings.Contains(op, ":") {
		return "", fmt.Errorf("eventName %q is not s3:Kind:Operation", raw)
	}
	if name == "ObjectRemoved:DeleteObjects" {
		name = "ObjectRemoved:Delete"
	}
	return name, nil
}

func padSequencer(seq string) (string, error) {
	if seq == "" || len(seq) > 64 {
		return "", fmt.Errorf("sequencer %q is empty or too long", seq)
	}
	for _, c := range seq {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return "", fmt.Errorf("sequencer %q is not hexadecimal", seq)
		}
	}
	seq = strings.ToUpper(seq)
	if len(seq) < sequencerWidth {
		seq = strings.Repeat("0", sequencerWidth-len(seq)) + seq
	}
	return seq, nil
}

// EncodeKey writes an object key the way S3 puts it in event notifications: form encoding
// (application/x-www-form-urlencoded, space as "+", "+" as "%2B"), except that "/" stays as it
// is. Letters, digits and "-_.*" are kept, as Java's URLEncoder keeps them; every other byte of
// the UTF-8 key becomes %XX. url.QueryUnescape reverses it.
func EncodeKey(key string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key) + len(key)/2)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '*', c == '/':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// wire is the JSON S3 sends; events.S3Event marshals eventTime without fixed milliseconds and
// adds urlDecodedKey, so Marshal writes this instead.
type wire struct {
	Records []wireRecord `json:"Records"`
}

type wireRecord struct {
	EventVersion      string                     `json:"eventVersion"`
	EventSource       string                     `json:"eventSource"`
	AwsRegion         string                     `json:"awsRegion"`
	EventTime         string                     `json:"eventTime"`
	EventName         string                     `json:"eventName"`
	UserIdentity      events.S3UserIdentity      `json:"userIdentity"`
	RequestParameters events.S3RequestParameters `json:"requestParameters"`
	ResponseElements  map[string]string          `json:"responseElements"`
	S3                wireEntity                 `json:"s3"`
}

type wireEntity struct {
	SchemaVersion   string          `json:"s3SchemaVersion"`
	ConfigurationID string          `json:"configurationId"`
	Bucket          events.S3Bucket `json:"bucket"`
	Object          wireObject      `json:"object"`
}

type wireObject struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// Marshal writes an event as S3 sends it: eventTime in S3TimeLayout, no urlDecodedKey, size and
// eTag only for ObjectCreated events, versionId only when known. This is the body a Lambda
// function receives from an S3 trigger, and the body of the SQS message S3 sends to a queue.
func Marshal(ev events.S3Event) ([]byte, error) {
	w := wire{Records: make([]wireRecord, 0, len(ev.Records))}
	for _, r := range ev.Records {
		obj := wireObject{
			Key:       r.S3.Object.Key,
			VersionID: r.S3.Object.VersionID,
			Sequencer: r.S3.Object.Sequencer,
		}
		if strings.HasPrefix(r.EventName, "ObjectCreated:") {
			size := r.S3.Object.Size
			obj.Size = &size
			obj.ETag = r.S3.Object.ETag
		}
		w.Records = append(w.Records, wireRecord{
			EventVersion:      r.EventVersion,
			EventSource:       r.EventSource,
			AwsRegion:         r.AWSRegion,
			EventTime:         r.EventTime.UTC().Format(S3TimeLayout),
			EventName:         r.EventName,
			UserIdentity:      r.PrincipalID,
			RequestParameters: r.RequestParameters,
			ResponseElements:  r.ResponseElements,
			S3: wireEntity{
				SchemaVersion:   r.S3.SchemaVersion,
				ConfigurationID: r.S3.ConfigurationID,
				Bucket:          r.S3.Bucket,
				Object:          obj,
			},
		})
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("s3notify: marshal event: %w", err)
	}
	return b, nil
}
