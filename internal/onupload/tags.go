package onupload

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The tags the S3 path writes on each object version it processed.
const (
	TagStatus = "graph-photo-status" // synced | rejected | failed
	TagReason = "graph-photo-reason" // stable reason code; absent when synced
	// MaxTags is S3's limit of tags per object.
	MaxTags = 10
)

// TagPlan is what MergeTags decided.
type TagPlan struct {
	Tags []types.Tag // the complete tag set to write
	// Write is false when nothing needs writing: the tags already say this, or the object's own
	// tags leave no room for even the status tag.
	Write bool
	// Dropped lists our tags that did not fit (the reason tag first, then the status tag).
	Dropped []string
}

// MergeTags records status and reason on an object's tag set. PutObjectTagging replaces the whole
// set, so the object's other tags are carried over unchanged, in their order; an earlier
// graph-photo-reason is removed when the new outcome has none, so a synced object does not keep
// the reason of an old failure.
//
// At S3's limit of 10 tags the owner's tags win: they are never removed to make room. The status
// tag is written when one slot is free (it is what the duplicate check reads), the reason tag
// when two are. With no free slot nothing is written; the outcome is still logged and reported
// to the trigger, but a redelivery of a synced object will then send the photo again.
func MergeTags(existing []types.Tag, status, reason string) TagPlan {
	var own []types.Tag
	var oldStatus, oldReason string
	var hadStatus, hadReason bool
	for _, t := range existing {
		switch aws.ToString(t.Key) {
		case TagStatus:
			oldStatus, hadStatus = aws.ToString(t.Value), true
		case TagReason:
			oldReason, hadReason = aws.ToString(t.Value), true
		default:
			own = append(own, types.Tag{Key: t.Key, Value: t.Value})
		}
	}
	plan := TagPlan{Tags: own}
	free := MaxTags - len(own)
	switch {
	case free <= 0:
		plan.Dropped = append(plan.Dropped, TagStatus)
		if reason != "" {
			plan.Dropped = append([]string{TagReason}, plan.Dropped...)
		}
		plan.Tags = existing
		return plan
	default:
		plan.Tags = append(plan.Tags, types.Tag{Key: aws.String(TagStatus), Value: aws.String(status)})
		free--
	}
	wroteReason := false
	if reason != "" {
		if free > 0 {
			plan.Tags = append(plan.Tags, types.Tag{Key: aws.String(TagReason), Value: aws.String(reason)})
			wroteReason = true
		} else {
			plan.Dropped = append(plan.Dropped, TagReason)
		}
	}
	unchanged := hadStatus && oldStatus == status &&
		((wroteReason && hadReason && oldReason == reason) || (!wroteReason && !hadReason))
	plan.Write = !unchanged
	return plan
}
