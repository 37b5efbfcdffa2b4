package onupload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/reason"
)

// The reasons of objects that need no work.
var (
	// SkipAlreadySynced: this object version is tagged synced already (S3 delivers at least once,
	// and a Batch Operations job can be rerun).
	SkipAlreadySynced = reason.New("already_synced", reason.Synced, http.StatusOK, "", "")
	// SkipSuperseded: the event's object is no longer the key's current version: a newer upload
	// or a delete marker came after it, and that one wins. Recorded as graph-photo-status=skipped,
	// graph-photo-reason=superseded on the version, where it still exists.
	SkipSuperseded = reason.New("superseded", reason.Skipped, http.StatusOK, "", "")
	// SkipNotAnUpload: the event is about something else than a new object (a deletion, a
	// restore); nothing is read or tagged.
	SkipNotAnUpload = reason.New("not_an_upload", reason.Skipped, http.StatusOK, "", "")
)

// object is the S3 path's two adapters of the photo job for one object of an event: the source
// (the key's current version, pinned, its target and its bytes) and the recorder (the outcome
// merged into that version's tags).
type object struct {
	s3   S3
	opts *Options
	o    Object
	item string // the SQS message or Batch Operations task, for the log line

	opened       bool          // Open ran: the job was started
	body         io.ReadCloser // GetObject's body, closed by Record
	version      string        // the version worked on: the event's, or the one current when read
	existing     []types.Tag   // the version's tags, when known: PutObjectTagging replaces them all
	tagsKnown    bool
	noTag        string // why the outcome must not be tagged, when it must not
	supersededBy string
	targetFrom   string
	targetNote   string
	tagged       bool
	tagNote      string
}

// Open finds the key's current version and decides whether there is work, in one GetObject of
// the key without a version: its answer names the current version (or says it is a delete
// marker), its length, ETag, metadata and number of tags before any of the body is read. An event
// whose object is no longer the current one (a newer upload or a delete marker came after it) is
// superseded, so a redelivered or late event never puts an older photo back; the version is
// pinned; its tags are read only when it has some (GetObjectTagging), and a version tagged synced
// is skipped. The body is handed to the job unread: over the limit, the job refuses it from its
// Content-Length and never reads it. A new object without tags costs this GetObject and the tag
// write of Record.
func (s *object) Open(ctx context.Context) (photo.Input, error) {
	o := s.o
	switch {
	case o.Err != nil:
		return photo.Input{}, o.Err
	case o.Skip != "":
		return photo.Input{}, photo.Skip(SkipNotAnUpload, o.Skip)
	}
	s.opened = true
	got, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
	if err != nil {
		gerr := classifyS3("GetObject", err)
		if o.VersionID != "" && isDeleteMarker(err) {
			// The key's current version is a delete marker: the deletion came after the upload, and
			// it wins, if the event's version is still there to be skipped.
			return s.superseded(ctx, "deleted: the key's current version is a delete marker")
		}
		return photo.Input{Size: -1}, gerr
	}
	s.body = got.Body
	current := versionOf(got.VersionId)
	switch {
	case o.VersionID != "" && versionOf(&o.VersionID) != current:
		return s.superseded(ctx, "version "+current+" is current")
	case o.VersionID == "" && o.ETag != "" && !sameETag(o.ETag, aws.ToString(got.ETag)):
		// No version in the event (an unversioned bucket, or a server that sends none): the
		// ETag tells whether the key still holds the event's object. It does not, so there is
		// no object left to tag either: the tags at the key are the newer object's.
		s.noTag = "not tagged: the key holds another object (ETag " + aws.ToString(got.ETag) + ")"
		return photo.Input{Size: -1}, photo.Skip(SkipSuperseded, "the key holds another object")
	}
	// Work on exactly this version, even if a newer upload lands meanwhile: its own event brings it.
	s.version = current
	size := aws.ToInt64(got.ContentLength)
	if aws.ToInt32(got.TagCount) > 0 {
		tags, err := s.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key), VersionId: optional(s.version)})
		if err != nil {
			return photo.Input{Size: size}, classifyS3("GetObjectTagging", err)
		}
		s.knowTags(tags.TagSet)
		if tagValue(s.existing, TagStatus) == string(photo.StatusSynced) {
			return photo.Input{Size: size}, photo.Skip(SkipAlreadySynced, "this version is tagged "+TagStatus+"=synced")
		}
	} else {
		s.knowTags(nil) // S3 said it has none: nothing of the owner's to keep
	}

	target, from, err := ResolveTarget(got.Metadata, s.opts.MetadataKey, s.opts.KeyPrefix, s.opts.MetadataPrefixes, o.Key)
	s.targetFrom = from
	if _, ok := lookupFold(got.Metadata, s.opts.MetadataKey); ok && !MetadataHonoured(s.opts.MetadataPrefixes, o.Key) {
		s.targetNote = s.opts.MetadataKey + " metadata ignored: the key is outside TARGET_METADATA_PREFIXES"
	}
	if err != nil {
		return photo.Input{Size: size}, err
	}
	return photo.Input{Target: target, Size: size, Body: classifiedBody{got.Body}}, nil
}

// superseded ends the job for the event's version, which lost to a newer version or a delete
// marker: it is skipped, and tagged skipped/superseded unless it was synced while it was current
// (that tag stays true, and is what the duplicate check reads). Its tags are read to know which;
// a version that is gone for good is source_not_found, with nothing to tag.
func (s *object) superseded(ctx context.Context, by string) (photo.Input, error) {
	tags, err := s.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(s.o.Key), VersionId: aws.String(s.o.VersionID)})
	if err != nil {
		return photo.Input{Size: -1}, classifyS3("GetObjectTagging", err)
	}
	s.supersededBy = by
	if tagValue(tags.TagSet, TagStatus) == string(photo.StatusSynced) {
		s.noTag = "not tagged: synced while it was current"
	} else {
		s.knowTags(tags.TagSet)
	}
	return photo.Input{Size: -1}, photo.Skip(SkipSuperseded, by)
}

func (s *object) knowTags(tags []types.Tag) { s.existing, s.tagsKnown = tags, true }

// classifiedBody is the object's body as the job reads it: its errors are classified S3 errors.
type classifiedBody struct{ r io.Reader }

func (b classifiedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = classifyS3("GetObject", fmt.Errorf("read body: %w", err))
	}
	return n, err
}

// isDeleteMarker reports whether S3 answered 404 with x-amz-delete-marker: the key's current
// version is a delete marker.
func isDeleteMarker(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.Response != nil && re.HTTPStatusCode() == http.StatusNotFound &&
		strings.EqualFold(re.Response.Header.Get("x-amz-delete-marker"), "true")
}

// Record writes the outcome into the version's tags, merged with the tags it has (MergeTags),
// with the invocation's context: the job kept the headroom for this. A transient tagging failure
// makes the object transient, so the trigger delivers it again and the outcome gets recorded (a
// repeated Graph PUT of the same bytes is harmless); a permanent one is only logged. Nothing is
// written when the tags already say it (already synced), when the object is not this event's to
// tag (superseded by a newer object on an unversioned bucket, or synced while it was current),
// when its tags were never read (PutObjectTagging would drop the owner's), or when S3 itself
// failed transiently or says the object is gone.
func (s *object) Record(ctx context.Context, out *photo.Outcome) {
	if s.body != nil {
		s.body.Close() // read by the job, or never when the object was refused or skipped
	}
	var se *S3Error
	switch {
	case !s.opened && s.o.Err == nil && s.o.Skip == "":
		s.tagNote = "not tagged: not started"
	case s.noTag != "":
		s.tagNote = s.noTag
	case !s.tagsKnown, out.Reason == SkipAlreadySynced:
	case errors.As(out.Err, &se) && (se.Transient() || se.Reason() == ReasonSourceNotFound):
	default:
		s.tagWith(ctx, out)
	}
	out.Note(slog.String("bucket", s.o.Bucket), slog.String("key", s.o.Key), slog.String("version", s.version))
	for _, a := range []struct{ k, v string }{{"item", s.item}, {"target_from", s.targetFrom}, {"target_note", s.targetNote}, {"superseded_by", s.supersededBy}} {
		if a.v != "" {
			out.Note(slog.String(a.k, a.v))
		}
	}
	out.Note(slog.Bool("tagged", s.tagged))
	if s.tagNote != "" {
		out.Note(slog.String("tag_note", s.tagNote))
	}
}

func (s *object) tagWith(ctx context.Context, out *photo.Outcome) {
	plan := MergeTags(s.existing, string(out.Status), out.Reason.String())
	if len(plan.Dropped) > 0 {
		s.tagNote = fmt.Sprintf("the object has %d tags of its own; no room for %s", len(s.existing)-countOurs(s.existing), strings.Join(plan.Dropped, ", "))
	}
	if !plan.Write {
		s.tagged = len(plan.Dropped) == 0
		return
	}
	_, err := s.s3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(s.o.Bucket), Key: aws.String(s.o.Key), VersionId: optional(s.version),
		Tagging: &types.Tagging{TagSet: plan.Tags},
	})
	if err != nil {
		se := classifyS3("PutObjectTagging", err)
		s.tagNote = "not tagged: " + se.Error()
		if se.Transient() && !out.Transient {
			out.Transient = true
			s.tagNote += " (reported as transient so the outcome gets recorded on redelivery)"
		}
		return
	}
	s.tagged = true
}

// versionOf normalises a version id: S3 names the version of an object written while
// versioning was off "null", and an unversioned bucket names none.
func versionOf(v *string) string {
	if s := aws.ToString(v); s != "null" {
		return s
	}
	return ""
}

// sameETag compares an event's ETag (S3 notifications write it bare) with S3's (quoted).
func sameETag(a, b string) bool {
	return strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

func countOurs(tags []types.Tag) int {
	n := 0
	for _, t := range tags {
		if k := aws.ToString(t.Key); k == TagStatus || k == TagReason {
			n++
		}
	}
	return n
}

func tagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
