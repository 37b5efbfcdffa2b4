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

	opened       bool        // Open ran: the job was started
	version      string      // the version worked on: the event's, or the one current when read
	existing     []types.Tag // the version's tags, when known: PutObjectTagging replaces them all
	tagsKnown    bool
	noTag        string // why the outcome must not be tagged, when it must not
	supersededBy string
	targetFrom   string
	targetNote   string
	tagged       bool
	tagNote      string
}

// Open finds the key's current version and decides whether there is work: HeadObject of the key
// (size, metadata, which version is current) beside GetObjectTagging of the event's version (the
// duplicate check, and the set to merge into later). An event whose version is no longer the
// current one (a newer upload or a delete marker came after it) is superseded, so a redelivered
// or late event never puts an older photo back; a version already tagged synced is skipped. Then
// the target, and the body, which the job reads within its limit.
func (s *object) Open(ctx context.Context) (photo.Input, error) {
	o := s.o
	switch {
	case o.Err != nil:
		return photo.Input{}, o.Err
	case o.Skip != "":
		return photo.Input{}, photo.Skip(SkipNotAnUpload, o.Skip)
	}
	s.opened = true

	type tagRead struct {
		out *s3.GetObjectTaggingOutput
		err error
	}
	tagged := make(chan tagRead, 1)
	readTags := func(version string) {
		out, err := s.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key), VersionId: optional(version)})
		tagged <- tagRead{out, err}
	}
	go readTags(o.VersionID)
	head, err := s.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
	tr := <-tagged
	if err != nil {
		herr := classifyS3("HeadObject", err)
		if herr.Reason() == ReasonSourceNotFound && o.VersionID != "" && tr.err == nil {
			// The key has no current object (a delete marker), yet the event's version is still
			// there: the deletion came after the upload, and it wins.
			return s.supersede(tr.out.TagSet, "deleted: the key's current version is a delete marker")
		}
		if tr.err == nil {
			s.knowTags(tr.out.TagSet)
		}
		return photo.Input{Size: -1}, herr
	}
	current := versionOf(head.VersionId)
	switch {
	case o.VersionID != "" && versionOf(&o.VersionID) != current:
		if tr.err != nil {
			return photo.Input{Size: -1}, classifyS3("GetObjectTagging", tr.err)
		}
		return s.supersede(tr.out.TagSet, "version "+current+" is current")
	case o.VersionID == "" && o.ETag != "" && !sameETag(o.ETag, aws.ToString(head.ETag)):
		// No version in the event (an unversioned bucket, or a server that sends none): the
		// ETag tells whether the key still holds the event's object. It does not, so there is
		// no object left to tag either: the tags at the key are the newer object's.
		s.noTag = "not tagged: the key holds another object (ETag " + aws.ToString(head.ETag) + ")"
		return photo.Input{Size: -1}, photo.Skip(SkipSuperseded, "the key holds another object")
	}
	if current != "" && s.version == "" {
		s.version = current // work on exactly this version, even if a newer upload lands meanwhile
		if tr.err == nil && versionOf(tr.out.VersionId) != current {
			// A newer version landed between the two reads: read the pinned version's tags.
			readTags(current)
			tr = <-tagged
		}
	}
	size := aws.ToInt64(head.ContentLength)
	if tr.err != nil {
		return photo.Input{Size: size}, classifyS3("GetObjectTagging", tr.err)
	}
	s.knowTags(tr.out.TagSet)
	if tagValue(s.existing, TagStatus) == string(photo.StatusSynced) {
		return photo.Input{Size: size}, photo.Skip(SkipAlreadySynced, "this version is tagged "+TagStatus+"=synced")
	}

	target, from, err := ResolveTarget(head.Metadata, s.opts.MetadataKey, s.opts.KeyPrefix, s.opts.MetadataPrefixes, o.Key)
	s.targetFrom = from
	if _, ok := lookupFold(head.Metadata, s.opts.MetadataKey); ok && !MetadataHonoured(s.opts.MetadataPrefixes, o.Key) {
		s.targetNote = s.opts.MetadataKey + " metadata ignored: the key is outside TARGET_METADATA_PREFIXES"
	}
	if err != nil {
		return photo.Input{Size: size}, err
	}
	return photo.Input{Target: target, Size: size, Body: &download{ctx: ctx, s: s, etag: head.ETag}}, nil
}

// supersede ends the job for a version that lost to a newer version or a delete marker: it is
// skipped, and tagged skipped/superseded unless it was synced while it was current (that tag
// stays true, and is what the duplicate check reads).
func (s *object) supersede(existing []types.Tag, by string) (photo.Input, error) {
	s.supersededBy = by
	if tagValue(existing, TagStatus) == string(photo.StatusSynced) {
		s.noTag = "not tagged: synced while it was current"
	} else {
		s.knowTags(existing)
	}
	return photo.Input{Size: -1}, photo.Skip(SkipSuperseded, by)
}

func (s *object) knowTags(tags []types.Tag) { s.existing, s.tagsKnown = tags, true }

// download is the object's body, fetched on the first read (with the job's context, which it
// keeps for that): a source over the limit is refused from its HeadObject size and never
// downloaded. Its errors are classified S3 errors.
type download struct {
	ctx  context.Context
	s    *object
	etag *string
	body io.ReadCloser
}

func (d *download) Read(p []byte) (int, error) {
	if d.body == nil {
		o := d.s.o
		in := &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key), VersionId: optional(d.s.version)}
		if d.s.version == "" {
			// Without a version, the ETag pins the content HeadObject described.
			in.IfMatch = d.etag
		}
		out, err := d.s.s3.GetObject(d.ctx, in)
		if err != nil {
			return 0, classifyS3("GetObject", err)
		}
		d.body = out.Body
	}
	n, err := d.body.Read(p)
	if err != nil && err != io.EOF {
		err = classifyS3("GetObject", fmt.Errorf("read body: %w", err))
	}
	if err != nil {
		d.body.Close()
	}
	return n, err
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
