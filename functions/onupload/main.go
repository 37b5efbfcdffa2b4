// Command onupload is the S3 path's Lambda function (DESIGN §4): S3 notifications, SQS, S3 Batch
// Operations and EventBridge events in, profile photos in Microsoft Graph out. It only wires the
// parts together; the work is in internal/onupload and internal/photo.
//
// Configuration is the environment of DESIGN §7 (internal/config), checked before the runtime
// starts: a bad value stops the function with one line naming it. GRAPH_SECRET_ID is required.
// AWS clients follow the SDK's usual variables (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL_SECRETS_MANAGER); S3_FORCE_PATH_STYLE=true suits an S3-compatible server.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/graphphoto/graphphoto/internal/config"
	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/onupload"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/secrets"
)

// metricsNamespace is the CloudWatch namespace of the EMF lines.
const metricsNamespace = "GraphPhoto"

func main() {
	h, err := build(context.Background())
	if err != nil {
		// One line, whatever the number of problems: CloudWatch shows lines, not paragraphs.
		fmt.Fprintln(os.Stderr, "onupload: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func build(ctx context.Context) (*onupload.Handler, error) {
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
	s3Client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3ForcePathStyle })

	var creds graph.CredentialsSource = secrets.NewSource(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID, secrets.WithLogger(logger))
	if cfg.Cloud != "" {
		creds = cloudOverride{src: creds, cloud: cfg.Cloud}
	}
	graphClient, err := graph.NewClient(creds, graph.Options{Endpoint: cfg.Endpoint, Authority: cfg.Authority, Logger: logger})
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
	return onupload.New(s3Client, pipeline, onupload.Options{
		MetadataKey: cfg.TargetMetadataKey,
		KeyPrefix:   cfg.TargetKeyPrefix,
		Logger:      logger,
		Metrics:     metrics,
	})
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
