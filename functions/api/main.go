// Command api is the HTTPS path's Lambda function (DESIGN §5): API Gateway HTTP API (payload 2.0,
// JWT authoriser) in front of Graph's photo routes. It only wires the parts together; the
// routes, authorisation and the event adapter are in internal/api, the work in internal/photo.
//
// Configuration is the environment of DESIGN §7 (internal/config), checked before the runtime
// starts: a bad value stops the function with one line naming it. GRAPH_SECRET_ID is required;
// UPLOAD_BUCKET turns POST /v1.0/uploads on. AWS clients follow the SDK's usual variables
// (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SECRETS_MANAGER);
// S3_FORCE_PATH_STYLE=true suits an S3-compatible server.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/api"
	"github.com/graphphoto/graphphoto/internal/config"
	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/secrets"
)

// metricsNamespace is the CloudWatch namespace of the EMF lines (shared with onupload).
const metricsNamespace = "GraphPhoto"

func main() {
	h, err := build(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "api: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
	lambda.Start(h)
}

func build(ctx context.Context) (*api.Lambda, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, err
	}
	if cfg.SecretID == "" {
		return nil, errors.New("configuration: GRAPH_SECRET_ID is empty: name the Secrets Manager secret with the Graph app's credentials")
	}
	logger := obs.NewLogger(os.Stdout, cfg.LogLevel)
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	var creds graph.CredentialsSource = secrets.NewSource(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID, secrets.WithLogger(logger))
	if cfg.Cloud != "" {
		creds = cloudOverride{src: creds, cloud: cfg.Cloud}
	}
	// A caller waits on the line: API Gateway gives up after 30 s, so a long Retry-After is
	// handed to the client (429/503 with Retry-After) instead of being slept through.
	graphClient, err := graph.NewClient(creds, graph.Options{
		Endpoint: cfg.Endpoint, Authority: cfg.Authority, Logger: logger,
		MaxAttempts: 3, MaxRetryAfter: 5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	pipeline, err := photo.New(imageproc.Normalise, graphClient, cfg.Photo, cfg.SourceMaxBytes)
	if err != nil {
		return nil, err
	}
	metrics, err := obs.NewMetrics(os.Stdout, metricsNamespace, nil, obs.Dimension{Name: "FunctionName", Value: lambdacontext.FunctionName})
	if err != nil {
		return nil, err
	}
	opts := api.Options{
		Photos:            pipeline,
		Graph:             graphClient,
		AdminRole:         cfg.AdminRole,
		TargetMetadataKey: cfg.TargetMetadataKey,
		Logger:            logger,
		Metrics:           metrics,
	}
	if cfg.UploadBucket != "" {
		s3Client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3ForcePathStyle })
		opts.Uploads = s3.NewPresignClient(s3Client)
		opts.UploadBucket, opts.UploadPrefix, opts.UploadURLTTL = cfg.UploadBucket, cfg.UploadPrefix, cfg.UploadURLTTL
	}
	handler, err := api.New(opts)
	if err != nil {
		return nil, err
	}
	return api.NewLambda(handler, logger), nil
}

// cloudOverride applies GRAPH_CLOUD to the credentials read from Secrets Manager, whose own
// "cloud" field it overrides.
type cloudOverride struct {
	src   graph.CredentialsSource
	cloud string
}

func (o cloudOverride) Credentials(ctx context.Context, fresh bool) (graph.Credentials, error) {
	c, err := o.src.Credentials(ctx, fresh)
	if err == nil {
		c.Cloud = o.cloud
	}
	return c, err
}
