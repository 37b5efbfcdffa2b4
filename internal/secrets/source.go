// Package secrets reads the Entra ID app credentials from AWS Secrets Manager
// (docs/architecture.md §6).
//
// A Source reads the secret on first use and keeps it for the life of the container. It reads
// it again when the Graph client asks with fresh=true after the token endpoint rejected the
// credentials (a rotated secret), but not more often than once per MinRefreshInterval, so a
// wrong secret cannot turn every invocation into a GetSecretValue call.
//
// In tests and the local stack, secretstest emulates the service; point the SDK at it with
// secretsmanager.Options.BaseEndpoint, or for a whole process with the environment variable
// AWS_ENDPOINT_URL_SECRETS_MANAGER (read by config.LoadDefaultConfig).
package secrets

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/graph"
)

// GetSecretValueAPI is the one Secrets Manager call a Source makes; *secretsmanager.Client
// implements it.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

const (
	// DefaultMinRefreshInterval bounds re-reads asked for with fresh=true. Thirty seconds lets
	// a container pick up a rotated secret within one Lambda retry, while a secret that stays
	// wrong costs at most two GetSecretValue calls a minute per container, whatever the
	// invocation rate (Secrets Manager bills per call and logs each one to CloudTrail).
	DefaultMinRefreshInterval = 30 * time.Second
	// DefaultFetchTimeout bounds one GetSecretValue call including the SDK's retries. The
	// call runs detached from the caller that started it (others may be waiting on it), so
	// it needs its own limit.
	DefaultFetchTimeout = 10 * time.Second
)

// Source is a graph.CredentialsSource backed by one Secrets Manager secret. It is safe for
// concurrent use; concurrent callers share one GetSecretValue call.
type Source struct {
	client             GetSecretValueAPI
	secretID           string
	minRefreshInterval time.Duration
	fetchTimeout       time.Duration
	now                func() time.Time
	logger             *slog.Logger

	mu        sync.Mutex
	creds     graph.Credentials // valid when haveCreds
	haveCreds bool
	lastRead  time.Time // start of the last GetSecretValue call, successful or not
	lastErr   *Error    // the last call's permanent failure, kept until the next call
	inflight  *fetch    // the call under way, if any
}

var _ graph.CredentialsSource = (*Source)(nil)

// fetch is one GetSecretValue call that any number of callers wait for.
type fetch struct {
	done  chan struct{}
	creds graph.Credentials
	err   *Error
}

// Option configures a Source.
type Option func(*Source)

// WithMinRefreshInterval sets how long after one read a fresh=true request may read again
// (DefaultMinRefreshInterval when not set). Zero re-reads on every fresh request.
func WithMinRefreshInterval(d time.Duration) Option {
	return func(s *Source) { s.minRefreshInterval = d }
}

// WithFetchTimeout bounds one GetSecretValue call (DefaultFetchTimeout when not set).
func WithFetchTimeout(d time.Duration) Option {
	return func(s *Source) { s.fetchTimeout = d }
}

// WithClock replaces time.Now, for tests of the refresh interval.
func WithClock(now func() time.Time) Option {
	return func(s *Source) { s.now = now }
}

// WithLogger sets the logger for reads and failures (nothing is logged when not set). Lines
// are written with the caller's context, so a handler that adds the request id from the
// context sees it.
func WithLogger(l *slog.Logger) Option {
	return func(s *Source) { s.logger = l }
}

// NewSource returns a Source reading secretID (a name or ARN) with client. Nothing is read
// until the first call to Credentials.
func NewSource(client GetSecretValueAPI, secretID string, opts ...Option) *Source {
	s := &Source{
		client:             client,
		secretID:           secretID,
		minRefreshInterval: DefaultMinRefreshInterval,
		fetchTimeout:       DefaultFetchTimeout,
		now:                time.Now,
		logger:             slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Credentials implements graph.CredentialsSource. The first call reads the secret; later calls
// answer from memory. With fresh=true it reads again, unless a read started less than the
// minimum refresh interval ago: then it answers with what that read gave. A call that is
// already under way is shared, whichever kind of request started it.
//
// Errors are *Error. A permanent failure is remembered until the interval has passed, so
// a missing secret or a denied role costs one call per interval, not one per invocation;
// transient failures are not remembered (the SDK has already retried them).
func (s *Source) Credentials(ctx context.Context, fresh bool) (graph.Credentials, error) {
	s.mu.Lock()
	f := s.inflight
	if f == nil {
		recent := !s.lastRead.IsZero() && s.now().Sub(s.lastRead) < s.minRefreshInterval
		switch {
		case s.haveCreds && (!fresh || recent):
			creds := s.creds
			s.mu.Unlock()
			return creds, nil
		case s.lastErr != nil && recent:
			err := s.lastErr
			s.mu.Unlock()
			return graph.Credentials{}, err
		}
		f = s.start(ctx, fresh)
	}
	s.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return graph.Credentials{}, f.err
		}
		return f.creds, nil
	case <-ctx.Done():
		// The read goes on for the next caller; this one ran out of time (transient).
		e := classify(s.secretID, ctx.Err())
		e.msg = "gave up waiting for GetSecretValue"
		return graph.Credentials{}, e
	}
}

// start begins a read; s.mu is held. The call runs on its own goroutine, detached from ctx's
// cancellation, so that one caller giving up does not fail the others waiting for it.
func (s *Source) start(ctx context.Context, fresh bool) *fetch {
	f := &fetch{done: make(chan struct{})}
	s.inflight = f
	s.lastRead = s.now()
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.fetchTimeout)
		defer cancel()
		creds, versionID, err := s.read(fctx)

		s.mu.Lock()
		defer s.mu.Unlock()
		s.inflight = nil
		s.lastErr = nil
		if err != nil {
			f.err = err
			if !err.Transient() {
				s.lastErr = err
			}
			s.logger.LogAttrs(ctx, slog.LevelError, "credentials secret read failed",
				slog.String("secret_id", s.secretID), slog.Bool("fresh", fresh),
				slog.String("reason", err.Reason().String()), slog.Bool("transient", err.Transient()),
				slog.String("error", err.Error()))
		} else {
			f.creds = creds
			s.creds, s.haveCreds = creds, true
			s.logger.LogAttrs(ctx, slog.LevelInfo, "credentials secret read",
				slog.String("secret_id", s.secretID), slog.Bool("fresh", fresh),
				slog.String("version_id", versionID), slog.String("credentials", creds.String()))
		}
		close(f.done)
	}()
	return f
}

// read makes the GetSecretValue call and parses the answer.
func (s *Source) read(ctx context.Context) (graph.Credentials, string, *Error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		return graph.Credentials{}, "", classify(s.secretID, err)
	}
	versionID := aws.ToString(out.VersionId)
	var value []byte
	switch {
	case out.SecretString != nil:
		value = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		value = out.SecretBinary
	default:
		return graph.Credentials{}, versionID, invalid(s.secretID, "version "+versionID+" has neither SecretString nor SecretBinary", nil)
	}
	creds, err := ParseCredentials(value)
	if err != nil {
		return graph.Credentials{}, versionID, invalid(s.secretID, "version "+versionID+" is not usable", err)
	}
	return creds, versionID, nil
}
