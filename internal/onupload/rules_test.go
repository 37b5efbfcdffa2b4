package onupload

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photo"
)

func TestResolveTarget(t *testing.T) {
	tests := []struct {
		name     string
		meta     map[string]string
		prefix   string
		metaOnly []string // TARGET_METADATA_PREFIXES
		key      string
		want     string // canonical target, "" when refused
		from     string
		reason   string // refusal reason
		contains string // in the refusal's text
	}{
		{name: "metadata", meta: map[string]string{"graph-target": "users/alice@contoso.com"}, key: "x/y.jpg", want: "users/alice@contoso.com", from: TargetFromMetadata},
		{name: "metadata name in another case", meta: map[string]string{"Graph-Target": "groups/0b5c1c6e-7a4f-4c43-8c0e-1f2a3b4c5d6e"}, key: "y.jpg", want: "groups/0b5c1c6e-7a4f-4c43-8c0e-1f2a3b4c5d6e", from: TargetFromMetadata},
		{name: "metadata wins over the key", meta: map[string]string{"graph-target": "users/alice@contoso.com"}, prefix: "photos/", key: "photos/users/bob@contoso.com/b.jpg", want: "users/alice@contoso.com", from: TargetFromMetadata},
		{name: "metadata with Graph's path", meta: map[string]string{"graph-target": "/v1.0/users/alice@contoso.com/photo/$value"}, key: "a.jpg", want: "users/alice@contoso.com", from: TargetFromMetadata},
		{name: "bad metadata is not replaced by the key", meta: map[string]string{"graph-target": "users/../admin"}, key: "users/bob@contoso.com/b.jpg", reason: "bad_target"},
		{name: "me in metadata", meta: map[string]string{"graph-target": "me"}, key: "a.jpg", reason: "bad_target", contains: "signed-in caller"},
		{name: "blank metadata falls back to the key", meta: map[string]string{"graph-target": "  "}, key: "users/bob@contoso.com/b.jpg", want: "users/bob@contoso.com", from: TargetFromKey},
		{name: "key layout", prefix: "photos/", key: "photos/users/alice@contoso.com/me 2026.heic", want: "users/alice@contoso.com", from: TargetFromKey},
		{name: "key layout, contact", key: "users/alice@contoso.com/contacts/AAMkAGI2/photo.jpg", want: "users/alice@contoso.com/contacts/AAMkAGI2", from: TargetFromKey},
		{name: "key layout, guest UPN", key: "users/guest_fabrikam.com#EXT#@contoso.onmicrosoft.com/p.png", want: "users/guest_fabrikam.com#EXT#@contoso.onmicrosoft.com", from: TargetFromKey},
		{name: "key layout, $ UPN", key: "users('$admin@contoso.com')/p.png", want: "users('$admin@contoso.com')", from: TargetFromKey},
		{name: "key outside the prefix", prefix: "photos/", key: "incoming/users/alice@contoso.com/a.jpg", reason: photo.ReasonNoTarget.String(), contains: "prefix"},
		{name: "key without a folder", key: "alice.jpg", reason: photo.ReasonNoTarget.String()},
		{name: "key ending in a slash", key: "users/alice@contoso.com/", reason: photo.ReasonNoTarget.String()},
		{name: "key in another layout", key: "incoming/2026/alice.jpg", reason: photo.ReasonNoTarget.String()},
		{name: "key layout with a bad id", key: "users/a..b/x.jpg", reason: "bad_target"},
		{name: "key layout with me", key: "me/x.jpg", reason: "bad_target"},
		{name: "key layout with extra folders", key: "users/alice@contoso.com/2026/x.jpg", reason: "bad_target"},
		// TARGET_METADATA_PREFIXES: the metadata counts only under the listed prefixes.
		{name: "metadata under a metadata prefix", meta: map[string]string{"graph-target": "users/carol@contoso.com"}, metaOnly: []string{"hr-export/", "uploads/"},
			key: "uploads/0a1b/p.jpg", want: "users/carol@contoso.com", from: TargetFromMetadata},
		{name: "metadata outside the metadata prefixes yields to the key", meta: map[string]string{"graph-target": "users/carol@contoso.com"}, metaOnly: []string{"hr-export/"},
			key: "users/alice@contoso.com/p.jpg", want: "users/alice@contoso.com", from: TargetFromKey},
		{name: "metadata outside the metadata prefixes, no key layout", meta: map[string]string{"Graph-Target": "users/carol@contoso.com"}, metaOnly: []string{"hr-export/"},
			key: "misc/p.jpg", reason: photo.ReasonNoTarget.String(), contains: `honoured only under "hr-export/"`},
		{name: "metadata prefixes are case-sensitive, as keys", meta: map[string]string{"graph-target": "users/carol@contoso.com"}, metaOnly: []string{"hr-export/"},
			key: "HR-export/p.jpg", reason: photo.ReasonNoTarget.String()},
		{name: "bad metadata outside the prefixes is ignored too", meta: map[string]string{"graph-target": "users/../admin"}, metaOnly: []string{"hr-export/"},
			key: "users/bob@contoso.com/b.jpg", want: "users/bob@contoso.com", from: TargetFromKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, from, err := ResolveTarget(tc.meta, "graph-target", tc.prefix, tc.metaOnly, tc.key)
			if tc.reason != "" {
				status, why, transient := photo.Classify(err)
				if err == nil || why.String() != tc.reason || transient || status != photo.StatusRejected {
					t.Fatalf("got %v, %v; want a permanent %s rejection", got, err, tc.reason)
				}
				if !strings.Contains(err.Error(), tc.contains) {
					t.Errorf("error %q does not mention %q", err, tc.contains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, perr := graph.ParseTarget(tc.want)
			if perr != nil {
				t.Fatal(perr)
			}
			if got.String() != want.String() || from != tc.from {
				t.Errorf("got %s from %s, want %s from %s", got, from, want, tc.from)
			}
		})
	}
}

func tagsOf(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func ownTags(n int) []string {
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf("team-%d", i), fmt.Sprintf("v%d", i))
	}
	return kv
}

func flat(tags []types.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return out
}

func TestMergeTags(t *testing.T) {
	tests := []struct {
		name     string
		existing []types.Tag
		status   string
		reason   string
		want     []string
		write    bool
		dropped  []string
	}{
		{"empty object", nil, "synced", "", []string{"graph-photo-status=synced"}, true, nil},
		{"keeps the owner's tags first", tagsOf("dept", "hr", "cost", "42"), "rejected", "no_target",
			[]string{"dept=hr", "cost=42", "graph-photo-status=rejected", "graph-photo-reason=no_target"}, true, nil},
		{"replaces an earlier outcome, drops a stale reason", tagsOf("graph-photo-status", "failed", "dept", "hr", "graph-photo-reason", "throttled"), "synced", "",
			[]string{"dept=hr", "graph-photo-status=synced"}, true, nil},
		{"same outcome again needs no write", tagsOf("dept", "hr", "graph-photo-status", "rejected", "graph-photo-reason", "corrupt_image"), "rejected", "corrupt_image",
			[]string{"dept=hr", "graph-photo-status=rejected", "graph-photo-reason=corrupt_image"}, false, nil},
		{"8 own tags: both fit", tagsOf(ownTags(8)...), "failed", "throttled",
			append(ownTagsFlat(8), "graph-photo-status=failed", "graph-photo-reason=throttled"), true, nil},
		{"9 own tags: status only", tagsOf(ownTags(9)...), "failed", "throttled",
			append(ownTagsFlat(9), "graph-photo-status=failed"), true, []string{TagReason}},
		{"9 own tags, synced: nothing dropped", tagsOf(ownTags(9)...), "synced", "",
			append(ownTagsFlat(9), "graph-photo-status=synced"), true, nil},
		{"9 own tags plus our two: reason makes way", tagsOf(append(ownTags(9), "graph-photo-status", "failed", "graph-photo-reason", "throttled")...), "rejected", "bad_target",
			append(ownTagsFlat(9), "graph-photo-status=rejected"), true, []string{TagReason}},
		{"10 own tags: nothing written", tagsOf(ownTags(10)...), "rejected", "no_target",
			ownTagsFlat(10), false, []string{TagReason, TagStatus}},
		{"10 own tags, synced: status dropped", tagsOf(ownTags(10)...), "synced", "",
			ownTagsFlat(10), false, []string{TagStatus}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := MergeTags(tc.existing, tc.status, tc.reason)
			if got := flat(plan.Tags); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tags %v, want %v", got, tc.want)
			}
			if plan.Write != tc.write || !reflect.DeepEqual(plan.Dropped, tc.dropped) {
				t.Errorf("write %v dropped %v, want %v %v", plan.Write, plan.Dropped, tc.write, tc.dropped)
			}
			if len(plan.Tags) > MaxTags {
				t.Errorf("%d tags, over S3's limit", len(plan.Tags))
			}
		})
	}
}

func ownTagsFlat(n int) []string { return flat(tagsOf(ownTags(n)...)) }

func TestAnswer(t *testing.T) {
	synced := Result{Outcome: photo.Outcome{Status: photo.StatusSynced, Target: "users/a@contoso.com"}}
	skipped := Result{Outcome: photo.Outcome{Status: photo.StatusSynced, Reason: SkipAlreadySynced}}
	rejected := Result{Outcome: photo.Reject("", 10, photo.NoTarget("none"))}
	throttled := Result{Object: Object{Bucket: "b", Key: "k 1.jpg"}, Outcome: photo.Outcome{Status: photo.StatusFailed, Reason: graph.ReasonThrottled, Transient: true}}
	credentials := Result{Outcome: photo.Outcome{Status: photo.StatusFailed, Reason: graph.ReasonCredentialsInvalid}}
	undecodable := ItemResult{Item: Item{ID: "m9", Err: &DecodeError{Code: ReasonMalformedEvent}}}
	item := func(id string, rs ...Result) ItemResult { return ItemResult{Item: Item{ID: id}, Results: rs} }

	t.Run("s3 and eventbridge", func(t *testing.T) {
		for _, trig := range []Trigger{TriggerS3, TriggerEventBridge} {
			resp, err := Answer(Event{Trigger: trig}, []ItemResult{item("", synced), item("", rejected), item("", credentials)})
			if resp != nil || err != nil {
				t.Errorf("%s: permanent failures only: %v, %v; want nil, nil", trig, resp, err)
			}
			resp, err = Answer(Event{Trigger: trig}, []ItemResult{item("", synced), item("", throttled), item("", rejected)})
			var re *RetryError
			if resp != nil || !errors.As(err, &re) || re.Failed != 1 || re.Total != 3 {
				t.Fatalf("%s: %v, %v; want a RetryError for 1 of 3", trig, resp, err)
			}
			if !strings.Contains(err.Error(), "s3://b/k 1.jpg") || !strings.Contains(err.Error(), "throttled") {
				t.Errorf("retry error text %q", err)
			}
		}
	})
	t.Run("sqs", func(t *testing.T) {
		resp, err := Answer(Event{Trigger: TriggerSQS}, []ItemResult{
			item("m1", synced), item("m2", rejected, throttled), item("m3", credentials), undecodable,
			{Item: Item{ID: "m5", Skip: testEvent}}, item("m6", throttled), item("m7", skipped),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "m2"}, {ItemIdentifier: "m6"}}}
		if !reflect.DeepEqual(resp, want) {
			t.Errorf("got %+v, want %+v", resp, want)
		}
		resp, _ = Answer(Event{Trigger: TriggerSQS}, []ItemResult{item("m1", synced)})
		if r := resp.(events.SQSEventResponse); r.BatchItemFailures == nil || len(r.BatchItemFailures) != 0 {
			t.Errorf("all well: %+v, want an empty (not null) list", r)
		}
	})
	t.Run("batch", func(t *testing.T) {
		resp, err := Answer(Event{Trigger: TriggerBatch, SchemaVersion: "2.0", InvocationID: "inv"}, []ItemResult{
			item("t1", synced), item("t2", skipped), item("t3", rejected), item("t4", throttled), item("t5", credentials),
			{Item: Item{ID: "t6", Err: &DecodeError{Code: ReasonBadKey}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := resp.(events.S3BatchJobResponse)
		if got.InvocationSchemaVersion != "2.0" || got.InvocationID != "inv" || got.TreatMissingKeysAs != BatchPermanentFailure {
			t.Errorf("envelope %+v", got)
		}
		want := []struct{ id, code, text string }{
			{"t1", BatchSucceeded, "synced users/a@contoso.com"},
			{"t2", BatchSucceeded, "skipped: already_synced"},
			{"t3", BatchPermanentFailure, "rejected: no_target"},
			{"t4", BatchTemporaryFailure, "failed: throttled (transient)"},
			{"t5", BatchPermanentFailure, "failed: credentials_invalid"},
			{"t6", BatchPermanentFailure, "rejected: bad_key"},
		}
		if len(got.Results) != len(want) {
			t.Fatalf("results %+v", got.Results)
		}
		for i, w := range want {
			r := got.Results[i]
			if r.TaskID != w.id || r.ResultCode != w.code || r.ResultString != w.text {
				t.Errorf("task %d: %+v, want %+v", i, r, w)
			}
		}
	})
}
