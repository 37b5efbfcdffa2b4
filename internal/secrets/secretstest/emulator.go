// Package secretstest is an AWS Secrets Manager emulator for tests and the local stack. It
// serves the GetSecretValue operation of the awsJson1.1 protocol the way the service does:
// POST / with X-Amz-Target secretsmanager.GetSecretValue and Content-Type
// application/x-amz-json-1.1, a SigV4 Authorization header scoped to the service
// "secretsmanager" (its shape always checked, its signature verified when WithCredentials is
// given), and errors as {"__type","message"} with the x-amzn-ErrorType header.
//
// Secrets are found by name, by full ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx)
// or by partial ARN (without the six-character suffix). Versions carry the staging labels
// AWSCURRENT and AWSPREVIOUS; Put moves them as PutSecretValue does. Tests can mark a secret
// deleted or denied, script faults (throttling, internal errors) for the next calls, and read
// a log of the requests.
//
// Point aws-sdk-go-v2 at it with secretsmanager.Options.BaseEndpoint = URL, or for a process
// with AWS_ENDPOINT_URL_SECRETS_MANAGER=URL (config.LoadDefaultConfig reads it).
//
// Other Secrets Manager operations are not emulated: they answer UnknownOperationException
// with a message saying so, where the service would perform them.
package secretstest

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/graphphoto/graphphoto/internal/uuid"
)

const (
	serviceName  = "secretsmanager"
	targetPrefix = "secretsmanager."
	contentType  = "application/x-amz-json-1.1"
	// StageCurrent and StagePrevious are the staging labels Secrets Manager maintains.
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	// maxBodyBytes is well above any GetSecretValue request (SecretId is at most 2048 bytes).
	maxBodyBytes = 1 << 20
)

// operations are the Secrets Manager API's operations (API version 2017-10-17). Only
// GetSecretValue is emulated; the others are recognised so that their error says so.
var operations = []string{
	"BatchGetSecretValue", "CancelRotateSecret", "CreateSecret", "DeleteResourcePolicy",
	"DeleteSecret", "DescribeSecret", "GetRandomPassword", "GetResourcePolicy", "GetSecretValue",
	"ListSecretVersionIds", "ListSecrets", "PutResourcePolicy", "PutSecretValue",
	"RemoveRegionsFromReplication", "ReplicateSecretToRegions", "RestoreSecret", "RotateSecret",
	"StopReplicationToReplica", "TagResource", "UntagResource", "UpdateSecret",
	"UpdateSecretVersionStage", "ValidateResourcePolicy",
}

// secretName is the set of characters Secrets Manager allows in a name.
var secretName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

// Emulator is the Secrets Manager emulator as an http.Handler. It is safe for concurrent use.
type Emulator struct {
	region  string
	account string
	keys    map[string]string // access key id → secret access key; nil: signatures not verified
	now     func() time.Time
	logger  *slog.Logger

	mu       sync.Mutex
	secrets  map[string]*secret // by name
	faults   []Fault
	requests []Request
}

type secret struct {
	name     string
	arn      string
	versions []*version // oldest first
	deleted  bool
	denied   bool
}

type version struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

// Fault is a scripted error answer.
type Fault struct {
	Status  int    // HTTP status
	Type    string // __type and x-amzn-ErrorType
	Message string
}

// InternalServiceError is the service's server-side fault (HTTP 500).
func InternalServiceError() Fault {
	return Fault{Status: http.StatusInternalServerError, Type: "InternalServiceError", Message: "An error occurred on the server side."}
}

// Throttling is the answer to a caller over its request rate (HTTP 400).
func Throttling() Fault {
	return Fault{Status: http.StatusBadRequest, Type: "ThrottlingException", Message: "Rate exceeded"}
}

// DecryptionFailure is the answer when the secret's KMS key cannot decrypt it (HTTP 400).
func DecryptionFailure() Fault {
	return Fault{Status: http.StatusBadRequest, Type: "DecryptionFailure",
		Message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key."}
}

// Request is one entry of the request log. It never holds a secret value.
type Request struct {
	Time         time.Time
	RequestID    string
	Target       string // X-Amz-Target
	AccessKeyID  string
	SecretID     string
	VersionID    string
	VersionStage string
	Status       int
	ErrorType    string // empty on success
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithRegion sets the region (us-east-1 when not set). Requests must be signed for it.
func WithRegion(region string) Option { return func(e *Emulator) { e.region = region } }

// WithAccount sets the account id in ARNs (123456789012 when not set).
func WithAccount(account string) Option { return func(e *Emulator) { e.account = account } }

// WithCredentials makes the emulator verify SigV4 signatures: requests must be signed with
// this access key id and secret access key. Without it any access key is accepted and only
// the Authorization header's shape and scope are checked. Repeat for several keys.
func WithCredentials(accessKeyID, secretAccessKey string) Option {
	return func(e *Emulator) {
		if e.keys == nil {
			e.keys = map[string]string{}
		}
		e.keys[accessKeyID] = secretAccessKey
	}
}

// WithClock replaces time.Now (for CreatedDate and the signature's clock-skew check).
func WithClock(now func() time.Time) Option { return func(e *Emulator) { e.now = now } }

// WithLogger logs one line per request (target, secret id, status, error type; never values).
func WithLogger(l *slog.Logger) Option { return func(e *Emulator) { e.logger = l } }

// NewEmulator returns an emulator holding no secrets.
func NewEmulator(opts ...Option) *Emulator {
	e := &Emulator{
		region:  "us-east-1",
		account: "123456789012",
		now:     time.Now,
		logger:  slog.New(slog.DiscardHandler),
		secrets: map[string]*secret{},
	}
	for _, opt := range opts {
		opt(e)
	}
	return e
}

// Put stores value as the new AWSCURRENT version of the secret name, creating the secret if
// needed, and returns the version id. As PutSecretValue does, the version that was AWSCURRENT
// becomes AWSPREVIOUS and the one that was AWSPREVIOUS loses its label.
func (e *Emulator) Put(name, value string) (string, error) {
	return e.put(name, &value, nil)
}

// PutBinary is Put for a SecretBinary value.
func (e *Emulator) PutBinary(name string, value []byte) (string, error) {
	if len(value) == 0 {
		return "", errors.New("secretstest: SecretBinary must not be empty")
	}
	return e.put(name, nil, bytes.Clone(value))
}

func (e *Emulator) put(name string, str *string, bin []byte) (string, error) {
	if !secretName.MatchString(name) {
		return "", fmt.Errorf("secretstest: invalid secret name %q (1 to 512 of A-Z a-z 0-9 / _ + = . @ -)", name)
	}
	id := uuid.New()
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.secrets[name]
	if !ok {
		suffix, err := randomSuffix()
		if err != nil {
			return "", err
		}
		s = &secret{name: name, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", e.region, e.account, name, suffix)}
		e.secrets[name] = s
	}
	for _, v := range s.versions {
		had := slices.Contains(v.stages, StageCurrent)
		v.stages = slices.DeleteFunc(v.stages, func(st string) bool { return st == StageCurrent || st == StagePrevious })
		if had {
			v.stages = append(v.stages, StagePrevious)
		}
	}
	s.versions = append(s.versions, &version{id: id, str: str, bin: bin, stages: []string{StageCurrent}, created: e.now()})
	return id, nil
}

// Delete marks the secret as scheduled for deletion: GetSecretValue then answers
// InvalidRequestException, as the service does during the recovery window.
func (e *Emulator) Delete(name string) error {
	return e.with(name, func(s *secret) { s.deleted = true })
}

// Deny makes GetSecretValue on the secret answer AccessDeniedException, as for a caller whose
// IAM policy does not allow secretsmanager:GetSecretValue on it.
func (e *Emulator) Deny(name string) error {
	return e.with(name, func(s *secret) { s.denied = true })
}

func (e *Emulator) with(name string, fn func(*secret)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.secrets[name]
	if !ok {
		return fmt.Errorf("secretstest: no secret named %q", name)
	}
	fn(s)
	return nil
}

// ARN returns the full ARN of the secret name, or "" when there is none.
func (e *Emulator) ARN(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.secrets[name]; ok {
		return s.arn
	}
	return ""
}

// FailNext makes the next n GetSecretValue calls that pass authentication answer f.
func (e *Emulator) FailNext(n int, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.faults = append(e.faults, f)
	}
}

// Requests returns a copy of the request log, oldest first.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// Seed stores each secret of a JSON object mapping names to SecretString values.
func (e *Emulator) Seed(data []byte) error {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("secretstest: seed is not a JSON object of name to string: %w", err)
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, err := e.Put(name, m[name]); err != nil {
			return err
		}
	}
	return nil
}

// apiError is an awsJson error answer.
type apiError struct {
	status  int
	typ     string // body __type
	code    string // x-amzn-ErrorType
	message string // omitted from the body when empty
}

// serviceError is an error modelled by Secrets Manager: __type is the bare shape name.
func serviceError(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: code, code: code, message: message}
}

// frameworkError is an error of AWS's request front end (routing, authentication): its
// __type carries the framework's namespace.
func frameworkError(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#" + code, code: code, message: message}
}

func notFound(message string) *apiError { return serviceError("ResourceNotFoundException", message) }

// getSecretValueInput is the request of GetSecretValue.
type getSecretValueInput struct {
	SecretId     *string
	VersionId    *string
	VersionStage *string
}

// getSecretValueOutput is the answer of GetSecretValue. CreatedDate is epoch seconds, as
// awsJson timestamps are.
type getSecretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  *string `json:",omitempty"`
	SecretBinary  []byte  `json:",omitempty"`
	VersionStages []string
	CreatedDate   json.Number
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: e.now(), Target: r.Header.Get("X-Amz-Target")}
	rec.RequestID = uuid.New()
	w.Header().Set("x-amzn-RequestId", rec.RequestID)

	out, apiErr := e.serve(r, &rec)
	if apiErr != nil {
		rec.Status, rec.ErrorType = apiErr.status, apiErr.code
		writeError(w, apiErr)
	} else {
		rec.Status = http.StatusOK
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(out)
	}

	e.mu.Lock()
	e.requests = append(e.requests, rec)
	e.mu.Unlock()
	e.logger.LogAttrs(r.Context(), slog.LevelInfo, "secretsmanager request",
		slog.String("request_id", rec.RequestID), slog.String("target", rec.Target),
		slog.String("secret_id", rec.SecretID), slog.Int("status", rec.Status),
		slog.String("error_type", rec.ErrorType))
}

// serve checks the request in the order AWS's front end does (routing, body, operation,
// signature) and then performs the operation.
func (e *Emulator) serve(r *http.Request, rec *Request) (any, *apiError) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method != http.MethodPost || r.URL.Path != "/" || mediaType != contentType {
		// Nothing routes such a request to an operation.
		return nil, &apiError{status: http.StatusNotFound, typ: "com.amazon.coral.service#UnknownOperationException", code: "UnknownOperationException"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, frameworkError("SerializationException", "could not read the request body")
	}
	if len(body) > maxBodyBytes {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, typ: "com.amazon.coral.service#RequestEntityTooLargeException",
			code: "RequestEntityTooLargeException", message: "Request entity too large"}
	}
	var in getSecretValueInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, frameworkError("SerializationException", "")
	}

	op, ok := strings.CutPrefix(rec.Target, targetPrefix)
	if !ok || !slices.Contains(operations, op) {
		return nil, frameworkError("UnknownOperationException", "")
	}

	auth, apiErr := e.parseAuthorization(r)
	if apiErr != nil {
		return nil, apiErr
	}
	rec.AccessKeyID = auth.accessKeyID
	if e.keys != nil {
		secretKey, ok := e.keys[auth.accessKeyID]
		if !ok {
			return nil, frameworkError("UnrecognizedClientException", "The security token included in the request is invalid.")
		}
		want := auth.expectedSignature(r, body, secretKey)
		if subtle.ConstantTimeCompare([]byte(want), []byte(auth.signature)) != 1 {
			return nil, frameworkError("InvalidSignatureException",
				"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
		}
	}

	if op != "GetSecretValue" {
		return nil, frameworkError("UnknownOperationException", "secretstest emulates GetSecretValue only, not "+op)
	}
	rec.SecretID = deref(in.SecretId)
	rec.VersionID = deref(in.VersionId)
	rec.VersionStage = deref(in.VersionStage)

	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.faults) > 0 {
		f := e.faults[0]
		e.faults = e.faults[1:]
		return nil, &apiError{status: f.Status, typ: f.Type, code: f.Type, message: f.Message}
	}
	return e.getSecretValue(in, auth.accessKeyID)
}

// getSecretValue performs GetSecretValue; e.mu is held.
func (e *Emulator) getSecretValue(in getSecretValueInput, accessKeyID string) (any, *apiError) {
	if apiErr := validate(in); apiErr != nil {
		return nil, apiErr
	}
	s := e.lookup(*in.SecretId)
	if s == nil {
		return nil, notFound("Secrets Manager can't find the specified secret.")
	}
	if s.denied {
		return nil, serviceError("AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:iam::%s:user/%s is not authorized to perform: secretsmanager:GetSecretValue on resource: %s because no identity-based policy allows the secretsmanager:GetSecretValue action",
			e.account, accessKeyID, *in.SecretId))
	}
	if s.deleted {
		return nil, serviceError("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
	}

	var v *version
	switch {
	case in.VersionId != nil:
		i := slices.IndexFunc(s.versions, func(v *version) bool { return v.id == *in.VersionId })
		if i < 0 || (in.VersionStage != nil && !slices.Contains(s.versions[i].stages, *in.VersionStage)) {
			return nil, notFound("Secrets Manager can't find the specified secret value for VersionId: " + *in.VersionId)
		}
		v = s.versions[i]
	default:
		stage := StageCurrent
		if in.VersionStage != nil {
			stage = *in.VersionStage
		}
		i := slices.IndexFunc(s.versions, func(v *version) bool { return slices.Contains(v.stages, stage) })
		if i < 0 {
			return nil, notFound("Secrets Manager can't find the specified secret value for staging label: " + stage)
		}
		v = s.versions[i]
	}
	return getSecretValueOutput{
		ARN:           s.arn,
		Name:          s.name,
		VersionId:     v.id,
		SecretString:  v.str,
		SecretBinary:  v.bin,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   json.Number(strconv.FormatFloat(float64(v.created.UnixMilli())/1000, 'f', 3, 64)),
	}, nil
}

// validate applies the input constraints of the API model.
func validate(in getSecretValueInput) *apiError {
	var problems []string
	check := func(v *string, member string, minLen, maxLen int, required bool) {
		switch {
		case v == nil && required:
			problems = append(problems, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
		case v != nil && len(*v) < minLen:
			problems = append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", *v, member, minLen))
		case v != nil && len(*v) > maxLen:
			problems = append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", *v, member, maxLen))
		}
	}
	check(in.SecretId, "secretId", 1, 2048, true)
	check(in.VersionId, "versionId", 32, 64, false)
	check(in.VersionStage, "versionStage", 1, 256, false)
	if len(problems) == 0 {
		return nil
	}
	noun := "errors"
	if len(problems) == 1 {
		noun = "error"
	}
	return &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.validate#ValidationException", code: "ValidationException",
		message: fmt.Sprintf("%d validation %s detected: %s", len(problems), noun, strings.Join(problems, "; "))}
}

// lookup finds a secret by name, full ARN or partial ARN (without the random suffix); e.mu is
// held.
func (e *Emulator) lookup(id string) *secret {
	if !strings.HasPrefix(id, "arn:") {
		return e.secrets[id]
	}
	prefix := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:", e.region, e.account)
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok {
		return nil
	}
	for _, s := range e.secrets {
		if s.arn == id || s.name == rest {
			return s
		}
	}
	return nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]string{"__type": e.typ}
	if e.message != "" {
		body["message"] = e.message
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("x-amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// randomSuffix returns the six random characters Secrets Manager appends to a secret's ARN.
func randomSuffix() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("secretstest: random suffix: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:]), nil
}
