package onupload

import (
	"fmt"
	"strings"

	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/photo"
)

// Where a target came from, for logs.
const (
	TargetFromMetadata = "metadata"
	TargetFromKey      = "key"
)

// ResolveTarget names the Graph target of an uploaded object (docs/architecture.md §4):
//
//  1. the user metadata metaKey (x-amz-meta-graph-target by default), matched case-insensitively
//     because S3 and its SDKs do not agree on the case of metadata names; a value that is set but
//     does not parse is a bad_target refusal, not a reason to look elsewhere. With metaPrefixes
//     (TARGET_METADATA_PREFIXES) it is honoured only on keys under one of them, and ignored
//     elsewhere (MetadataHonoured);
//  2. else the key layout {prefix}{target}/{file}, e.g. photos/users/alice@contoso.com/me.heic;
//  3. else a no_target refusal.
//
// "me" forms are refused: the S3 path runs with app-only credentials and has no signed-in caller.
// The second result says where the target came from.
func ResolveTarget(metadata map[string]string, metaKey, prefix string, metaPrefixes []string, key string) (graph.Target, string, error) {
	no := "no " + metaKey + " metadata"
	if v, ok := lookupFold(metadata, metaKey); ok && strings.TrimSpace(v) != "" {
		if MetadataHonoured(metaPrefixes, key) {
			t, err := appOnly(strings.TrimSpace(v))
			return t, TargetFromMetadata, err
		}
		no = fmt.Sprintf("%s metadata is honoured only under %q", metaKey, strings.Join(metaPrefixes, ","))
	}
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return graph.Target{}, "", photo.NoTarget(fmt.Sprintf("%s, and the key is not under the prefix %q", no, prefix))
	}
	slash := strings.LastIndex(rest, "/")
	if slash <= 0 || slash == len(rest)-1 {
		return graph.Target{}, "", photo.NoTarget(fmt.Sprintf("%s, and the key does not follow %s{target}/{file}", no, prefix))
	}
	dir := rest[:slash]
	first, _, _ := strings.Cut(dir, "/")
	switch strings.ToLower(first) {
	case "users", "groups", "me":
	default:
		if !strings.HasPrefix(strings.ToLower(first), "users('") {
			return graph.Target{}, "", photo.NoTarget(fmt.Sprintf("%s, and the key does not follow %s{users|groups}/…/{file}", no, prefix))
		}
	}
	// The layout is meant; a malformed target in it is a bad_target, as in metadata.
	t, err := appOnly(dir)
	return t, TargetFromKey, err
}

// MetadataHonoured reports whether the metadata target counts for key: always without
// prefixes, else only under one of them. Whoever may put objects outside them then names a
// target by the key layout alone, which an IAM policy on key prefixes can confine.
func MetadataHonoured(prefixes []string, key string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func appOnly(s string) (graph.Target, error) {
	t, err := graph.ParseTarget(s)
	if err != nil {
		return graph.Target{}, err
	}
	if t.IsMe() {
		return graph.Target{}, &graph.TargetError{Input: s, Detail: "me needs a signed-in caller; an S3 upload must name the user"}
	}
	return t, nil
}

func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}
