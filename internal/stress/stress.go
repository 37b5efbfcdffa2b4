package stress

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/config"
	"github.com/graphphoto/graphphoto/internal/devstack"
)

// Graph's write quota that may bind photo PUTs, from docs/graph-photo-api.md#write-quotas:
// the identity-and-access write quota of 3,000 writes per 2 min 30 s per app and tenant. The
// S3 path gets half of it; the API and Retry-After retries the other half. This is the one
// statement of the arithmetic: internal/deploy checks the template's defaults with it.
const (
	TenantWrites       = 3000
	TenantWindow       = 150 * time.Second
	S3Share            = 0.5
	ReferencePhotoTime = 500 * time.Millisecond // one photo on Lambda at best: S3 ~50 ms, normalise ~65 ms, Graph PUT ~350 ms
)

// S3Rate is the photo writes a second the S3 path may send: 3000 / 150 s × ½ = 10.
func S3Rate() float64 { return TenantWrites / TenantWindow.Seconds() * S3Share }

// APIRate is the rest of the quota, the API's (the template's ApiThrottleRate): 3000 / 150 s × ½
// = 10 requests a second.
func APIRate() float64 { return TenantWrites / TenantWindow.Seconds() * (1 - S3Share) }

// MaximumConcurrency is the number of onupload instances that keeps the S3 path at rate:
// an instance sends one photo at a time, one every perPhoto, so n instances send
// n / perPhoto a second, and the smallest n that reaches rate is ⌈rate × perPhoto⌉. With
// the reference numbers: ⌈10/s × 0.5 s⌉ = 5, the template's default.
func MaximumConcurrency(rate float64, perPhoto time.Duration) int {
	return max(1, int(math.Ceil(rate*perPhoto.Seconds()-1e-9)))
}

// Fate is what became of one uploaded object.
type Fate struct {
	Key          string
	Status       string // graph-photo-status tag: synced, rejected, failed, or "" if none
	Reason       string
	DeadLettered bool
}

// Ledger reconciles every uploaded key against its tags and the dead-letter place.
type Ledger struct {
	Fates []Fate
	// Counts by outcome: synced, rejected, failed+dlq; and the two that must be zero.
	Synced, Rejected, FailedDLQ int
	Lost                        []string // no tag and not dead-lettered
	Unexplained                 []string // failed without a reason or not dead-lettered, dead-lettered but synced, …
}

// Reconcile reads the outcome of every key (in parallel) and sorts them into the ledger.
func Reconcile(ctx context.Context, st *devstack.Stack, keys []string) (Ledger, error) {
	dead := map[string]bool{}
	for _, d := range st.Queue.Deliveries() {
		if d.Dead {
			dead[decodeKey(d.Key)] = true
		}
	}
	files, _ := filepath.Glob(filepath.Join(st.DLQDir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return Ledger{}, err
		}
		var rec struct {
			Delivery devstack.Delivery `json:"delivery"`
		}
		if json.Unmarshal(b, &rec) == nil {
			dead[decodeKey(rec.Delivery.Key)] = true
		}
	}
	fates := make([]Fate, len(keys))
	var firstErr error
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, reason, err := st.ObjectOutcome(ctx, k)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
			fates[i] = Fate{Key: k, Status: status, Reason: reason, DeadLettered: dead[k]}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Ledger{}, firstErr
	}
	l := Ledger{Fates: fates}
	for _, f := range fates {
		switch {
		case f.Status == "synced" && !f.DeadLettered:
			l.Synced++
		case f.Status == "rejected" && f.Reason != "" && !f.DeadLettered:
			l.Rejected++
		case f.Status == "failed" && f.Reason != "" && f.DeadLettered:
			l.FailedDLQ++
		case f.Status == "" && !f.DeadLettered:
			l.Lost = append(l.Lost, f.Key)
		default:
			l.Unexplained = append(l.Unexplained, fmt.Sprintf("%s: status %q reason %q dead-lettered %v", f.Key, f.Status, f.Reason, f.DeadLettered))
		}
	}
	return l, nil
}

func decodeKey(k string) string {
	s, err := url.QueryUnescape(k)
	if err != nil {
		return k
	}
	return s
}

// Settle waits until the queue has been idle for a moment (S3 notifications arrive a little
// after the upload) or ctx ends.
func Settle(ctx context.Context, st *devstack.Stack, expected int) error {
	quiet := 0
	for {
		ended := 0
		for range st.Queue.Deliveries() {
			ended++
		}
		if st.Queue.Idle() && ended >= expected {
			quiet++
			if quiet >= 3 {
				return nil
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("queue not settled: %d of %d messages ended: %w", ended, expected, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Secrets are the values that must never appear in a log line.
type Secrets struct {
	Literals []string // the Graph client secret, the AWS secret key, API bearer tokens
}

// StackSecrets collects the stack's secrets: the Graph app's client secret (read back from the
// Secrets Manager emulator with the SDK, as the function reads it), the AWS secret key, and any
// extra tokens the caller issued.
func StackSecrets(ctx context.Context, st *devstack.Stack, extra ...string) (Secrets, error) {
	cfg := st.S3.Config()
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(st.SecretsURL) })
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(devstack.SecretName)})
	if err != nil {
		return Secrets{}, fmt.Errorf("read the graph credentials back: %w", err)
	}
	var creds struct {
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &creds); err != nil || creds.ClientSecret == "" {
		return Secrets{}, fmt.Errorf("graph credentials have no client secret: %v", err)
	}
	return Secrets{Literals: append([]string{creds.ClientSecret, st.S3.SecretKey}, extra...)}, nil
}

// tokenPattern matches bearer tokens by shape: the Graph emulator's opaque access tokens
// ("eyemu." and 43 base64url characters; the emulator has no accessor for the ones it issued),
// JWTs, and an Authorization header's value.
var tokenPattern = regexp.MustCompile(`eyemu\.[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|(?i)bearer\s+[A-Za-z0-9._~+/-]{16,}`)

// Leaks returns the lines that carry a secret or a token, each cut short around it.
func (s Secrets) Leaks(lines []string) []string {
	var out []string
	for _, l := range lines {
		hit := tokenPattern.FindString(l)
		for _, lit := range s.Literals {
			if len(lit) >= 8 && strings.Contains(l, lit) {
				hit = lit
			}
		}
		if hit != "" {
			out = append(out, fmt.Sprintf("%q in line of %d bytes", hit[:min(len(hit), 10)]+"…", len(l)))
		}
	}
	return out
}

// Lines are every log line of the stack: the functions (every instance), the S3 server and
// the stack's own log.
func Lines(st *devstack.Stack, stackLog *bytes.Buffer) []string {
	var out []string
	for _, fn := range st.Instances {
		for _, l := range fn.Lines() {
			out = append(out, l.Text)
		}
	}
	for _, l := range st.API.Lines() {
		out = append(out, l.Text)
	}
	out = append(out, strings.Split(st.S3.Logs(), "\n")...)
	if stackLog != nil {
		out = append(out, strings.Split(stackLog.String(), "\n")...)
	}
	return out
}

// Upload puts objects with a graph-target each, parallel workers at a time.
func Upload(ctx context.Context, st *devstack.Stack, objects map[string][]byte, target func(key string) string, workers int) error {
	keys := make([]string, 0, len(objects))
	for k := range objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := st.S3.Client()
	errs := make(chan error, len(keys))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(devstack.Bucket), Key: aws.String(k),
				Body: bytes.NewReader(objects[k]), Metadata: map[string]string{config.DefaultTargetMetadataKey: target(k)}})
			if err != nil {
				errs <- fmt.Errorf("put %s: %w", k, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
