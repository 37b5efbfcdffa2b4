package onupload

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// Trigger is the kind of event that invoked the function; it decides the shape of the answer.
type Trigger string

// The triggers the S3 path accepts (docs/architecture.md §4).
const (
	TriggerS3          Trigger = "s3"          // S3 event notification, invoked asynchronously
	TriggerSQS         Trigger = "sqs"         // SQS messages carrying S3 (or EventBridge) events
	TriggerBatch       Trigger = "s3-batch"    // S3 Batch Operations, schema 1.0 or 2.0
	TriggerEventBridge Trigger = "eventbridge" // EventBridge "Object Created", invoked asynchronously
)

// The reasons of events and objects the handler cannot work on. Stable: logs and the trigger's
// answer carry them. The same bytes never decode better: they are rejected.
var (
	// ReasonUnrecognisedEvent: no shape this function knows.
	ReasonUnrecognisedEvent = reason.New("unrecognised_event", reason.Rejected, http.StatusBadRequest, "BadRequest",
		"the event is of no shape this function knows")
	// ReasonMalformedEvent: a known shape with broken content.
	ReasonMalformedEvent = reason.New("malformed_event", reason.Rejected, http.StatusBadRequest, "BadRequest",
		"the event is broken")
	// ReasonBadKey: an object key that does not URL-decode.
	ReasonBadKey = reason.New("bad_key", reason.Rejected, http.StatusBadRequest, "BadRequest",
		"the event's object key does not URL-decode")
)

// DecodeError is an event, message or record that cannot be decoded. It is permanent: the same
// bytes never decode better.
type DecodeError struct {
	Code   reason.Reason // ReasonUnrecognisedEvent, ReasonMalformedEvent or ReasonBadKey
	Detail string
}

func (e *DecodeError) Error() string { return "decode event: " + e.Code.String() + ": " + e.Detail }

// Reason is the stable reason.
func (e *DecodeError) Reason() reason.Reason { return e.Code }

// Transient is always false.
func (e *DecodeError) Transient() bool { return false }

func decodeErr(r reason.Reason, format string, args ...any) *DecodeError {
	return &DecodeError{Code: r, Detail: fmt.Sprintf(format, args...)}
}

// Object is one S3 object version an event asks the function to process.
type Object struct {
	Bucket    string
	Key       string // URL-decoded
	RawKey    string // as the event carried it
	VersionID string // "" when the event names none (unversioned bucket)
	// ETag is the object's ETag as the event carried it ("" when it names none): without a
	// version, it tells whether the key still holds this object.
	ETag string
	Size int64 // as the event declared it; 0 when unknown. GetObject's Content-Length is authoritative.
	// Skip, when set, says why there is nothing to do (not an object-created event).
	Skip string
	// Err is set when the record could not be decoded (a *DecodeError); nothing is done then.
	Err error
}

// Item is the unit a trigger answers for: one record of an S3 notification, one SQS message (which
// can carry several records), one Batch Operations task, one EventBridge event.
type Item struct {
	ID      string   // SQS message id or Batch Operations task id; "" for S3 and EventBridge
	Objects []Object // none for a test event or an item that failed to decode
	Skip    string   // why the item has no objects on purpose (s3:TestEvent)
	Err     error    // the item could not be decoded (a *DecodeError)
}

// Event is a decoded invocation.
type Event struct {
	Trigger Trigger
	Items   []Item
	// Batch Operations only: echoed in the answer.
	SchemaVersion string
	InvocationID  string
	// Skip is set for an invocation with nothing to do at all (an s3:TestEvent sent directly).
	Skip string
}

// shape is the part of every accepted payload that tells which one it is.
type shape struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	InvocationSchemaVersion string `json:"invocationSchemaVersion"`
	DetailType              string `json:"detail-type"`
	Source                  string `json:"source"`
	Event                   string `json:"Event"`
}

const testEvent = "s3:TestEvent"

// Decode reads an invocation payload by its shape: an S3 notification ({"Records":[{"eventSource":
// "aws:s3"}]}), an SQS batch ({"Records":[{"eventSource":"aws:sqs"}]}), an S3 Batch Operations job
// ({"invocationSchemaVersion":"1.0"|"2.0"}), or an EventBridge event from S3 ({"source":"aws.s3"}).
// Records, messages and tasks are decoded one by one, so one broken record does not hide the
// others: its Item or Object carries the error. The error return is for a payload of no known
// shape, or one whose envelope is broken.
func Decode(payload []byte) (Event, error) {
	var s shape
	if err := json.Unmarshal(payload, &s); err != nil {
		return Event{}, decodeErr(ReasonUnrecognisedEvent, "not a JSON object: %v", err)
	}
	switch {
	case len(s.Records) > 0 && s.Records[0].EventSource == "aws:s3":
		return decodeS3(payload)
	case len(s.Records) > 0 && s.Records[0].EventSource == "aws:sqs":
		return decodeSQS(payload)
	case s.InvocationSchemaVersion != "":
		return decodeBatch(payload, s.InvocationSchemaVersion)
	case s.Source == "aws.s3" && s.DetailType != "":
		item := decodeEventBridge(payload)
		return Event{Trigger: TriggerEventBridge, Items: []Item{item}}, nil
	case s.Event == testEvent:
		return Event{Trigger: TriggerS3, Skip: testEvent}, nil
	case len(s.Records) > 0:
		return Event{}, decodeErr(ReasonUnrecognisedEvent, "records from %q (want aws:s3 or aws:sqs)", clip(s.Records[0].EventSource))
	}
	return Event{}, decodeErr(ReasonUnrecognisedEvent, "neither an S3 notification, an SQS batch, an S3 Batch Operations job nor an EventBridge S3 event")
}

// decodeS3 reads an S3 notification: one item per record.
func decodeS3(payload []byte) (Event, error) {
	records, err := rawRecords(payload)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Trigger: TriggerS3}
	for _, raw := range records {
		ev.Items = append(ev.Items, Item{Objects: []Object{s3RecordObject(raw)}})
	}
	return ev, nil
}

func rawRecords(payload []byte) ([]json.RawMessage, error) {
	var env struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return nil, decodeErr(ReasonMalformedEvent, "records: %v", err)
	}
	return env.Records, nil
}

// s3RecordObject reads one notification record. aws-lambda-go's S3Object decoder fails a whole
// record on a key that does not URL-decode, so the key is read first on its own.
func s3RecordObject(raw json.RawMessage) Object {
	var min struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				Size      int64  `json:"size"`
				VersionID string `json:"versionId"`
				ETag      string `json:"eTag"`
			} `json:"object"`
		} `json:"s3"`
	}
	if err := json.Unmarshal(raw, &min); err != nil {
		return Object{Err: decodeErr(ReasonMalformedEvent, "S3 record: %v", err)}
	}
	o := Object{Bucket: min.S3.Bucket.Name, RawKey: min.S3.Object.Key, VersionID: min.S3.Object.VersionID, Size: min.S3.Object.Size, ETag: min.S3.Object.ETag}
	var rec events.S3EventRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		if _, kerr := DecodeKey(o.RawKey); kerr != nil {
			o.Err = kerr
		} else {
			o.Err = decodeErr(ReasonMalformedEvent, "S3 record: %v", err)
		}
		return o
	}
	o.Key = rec.S3.Object.URLDecodedKey
	// S3 writes "ObjectCreated:Put"; some S3-compatible servers keep the "s3:" of the
	// notification configuration's event type.
	if name := strings.TrimPrefix(rec.EventName, "s3:"); !strings.HasPrefix(name, "ObjectCreated:") {
		o.Skip = "event " + clip(rec.EventName) + " is not an object creation"
	}
	return finishObject(o)
}

// finishObject checks what every object needs: a bucket and a key.
func finishObject(o Object) Object {
	if o.Err == nil && (o.Bucket == "" || o.Key == "") {
		o.Err = decodeErr(ReasonMalformedEvent, "record names no bucket or no key")
	}
	return o
}

// decodeSQS reads an SQS batch: one item per message, whose body is an S3 notification, an
// s3:TestEvent (skipped) or an EventBridge S3 event (an EventBridge rule with an SQS target).
func decodeSQS(payload []byte) (Event, error) {
	records, err := rawRecords(payload)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Trigger: TriggerSQS}
	for _, raw := range records {
		var msg events.SQSMessage
		if err := json.Unmarshal(raw, &msg); err != nil {
			// Without a message id the message cannot be named in batchItemFailures; say so.
			ev.Items = append(ev.Items, Item{Err: decodeErr(ReasonMalformedEvent, "SQS message: %v", err)})
			continue
		}
		ev.Items = append(ev.Items, decodeBody(msg.MessageId, []byte(msg.Body)))
	}
	return ev, nil
}

func decodeBody(id string, body []byte) Item {
	var s shape
	if err := json.Unmarshal(body, &s); err != nil {
		return Item{ID: id, Err: decodeErr(ReasonMalformedEvent, "message body is not a JSON object: %v", err)}
	}
	switch {
	case s.Event == testEvent:
		return Item{ID: id, Skip: testEvent}
	case len(s.Records) > 0 && s.Records[0].EventSource == "aws:s3":
		records, err := rawRecords(body)
		if err != nil {
			return Item{ID: id, Err: err}
		}
		item := Item{ID: id}
		for _, raw := range records {
			item.Objects = append(item.Objects, s3RecordObject(raw))
		}
		return item
	case s.Source == "aws.s3" && s.DetailType != "":
		item := decodeEventBridge(body)
		item.ID = id
		return item
	}
	return Item{ID: id, Err: decodeErr(ReasonUnrecognisedEvent, "message body is neither an S3 notification nor an EventBridge S3 event")}
}

// decodeEventBridge reads an EventBridge event from S3; only "Object Created" has work.
func decodeEventBridge(payload []byte) Item {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return Item{Err: decodeErr(ReasonMalformedEvent, "EventBridge event: %v", err)}
	}
	var d struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			VersionID string `json:"version-id"`
			ETag      string `json:"etag"`
		} `json:"object"`
	}
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return Item{Err: decodeErr(ReasonMalformedEvent, "EventBridge detail: %v", err)}
	}
	// Keys in S3's EventBridge events are URL-encoded as in its notifications.
	o := Object{Bucket: d.Bucket.Name, RawKey: d.Object.Key, VersionID: d.Object.VersionID, Size: d.Object.Size, ETag: d.Object.ETag}
	if ev.DetailType != "Object Created" {
		o.Skip = "detail-type " + clip(ev.DetailType) + " is not Object Created"
	}
	return Item{Objects: []Object{withKey(o)}}
}

func withKey(o Object) Object {
	k, err := DecodeKey(o.RawKey)
	if err != nil {
		o.Err = err
		return o
	}
	o.Key = k
	return finishObject(o)
}

// decodeBatch reads an S3 Batch Operations job: one item per task. Schema 1.0 names the bucket
// by ARN, 2.0 by name; keys are URL-encoded in both.
func decodeBatch(payload []byte, version string) (Event, error) {
	ev := Event{Trigger: TriggerBatch, SchemaVersion: version}
	switch version {
	case "1.0":
		var job events.S3BatchJobEvent
		if err := json.Unmarshal(payload, &job); err != nil {
			return Event{}, decodeErr(ReasonMalformedEvent, "S3 Batch Operations job 1.0: %v", err)
		}
		ev.InvocationID = job.InvocationID
		for _, t := range job.Tasks {
			o := Object{Bucket: bucketFromARN(t.S3BucketARN), RawKey: t.S3Key, VersionID: t.S3VersionID}
			ev.Items = append(ev.Items, Item{ID: t.TaskID, Objects: []Object{withKey(o)}})
		}
	case "2.0":
		var job events.S3BatchJobEventV2
		if err := json.Unmarshal(payload, &job); err != nil {
			return Event{}, decodeErr(ReasonMalformedEvent, "S3 Batch Operations job 2.0: %v", err)
		}
		ev.InvocationID = job.InvocationID
		for _, t := range job.Tasks {
			o := Object{Bucket: t.S3Bucket, RawKey: t.S3Key, VersionID: t.S3VersionID}
			ev.Items = append(ev.Items, Item{ID: t.TaskID, Objects: []Object{withKey(o)}})
		}
	default:
		return Event{}, decodeErr(ReasonUnrecognisedEvent, "S3 Batch Operations schema %q (want 1.0 or 2.0)", clip(version))
	}
	return ev, nil
}

// bucketFromARN reads the bucket of arn:aws:s3:::bucket (the resource is the sixth field).
func bucketFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "s3" {
		return ""
	}
	return parts[5]
}

// DecodeKey URL-decodes an object key as S3 encodes it in events: form encoding, where "+" is a
// space and "%2B" a plus sign.
func DecodeKey(raw string) (string, error) {
	k, err := url.QueryUnescape(raw)
	if err != nil {
		return "", decodeErr(ReasonBadKey, "key %q does not URL-decode: %v", clip(raw), err)
	}
	return k, nil
}

// clip keeps text taken from an event short in messages.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
