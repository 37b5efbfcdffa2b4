// Package app builds, once per Lambda container, what both functions share: the configuration,
// the JSON logger, the AWS configuration, the Graph client over Secrets Manager credentials, the
// photo pipeline (with the photo records when SKIP_UNCHANGED is on) and the metrics writer. The
// functions' mains only add their own handler.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/config"
	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/imageproc"
	"github.com/graphphoto/graphphoto/internal/obs"
	"github.com/graphphoto/graphphoto/internal/photo"
	"github.com/graphphoto/graphphoto/internal/photostate"
	"github.com/graphphoto/graphphoto/internal/secrets"
)

// Lambda holds the container-lifetime clients.
type Lambda struct {
	Config   config.Config
	Logger   *slog.Logger
	AWS      aws.Config
	Graph    *graph.Client
	Pipeline *photo.Pipeline
	Metrics  *obs.Metrics
}

// Build reads the environment through getenv and builds the shared clients; out receives the
// log and metric lines (os.Stdout in Lambda). graphOpts tunes the Graph client's retries per
// function; its endpoints and logger come from the configuration.
func Build(ctx context.Context, getenv func(string) string, out io.Writer, graphOpts graph.Options) (*Lambda, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	logger := obs.NewLogger(out, cfg.LogLevel)
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	creds := graph.WithCloud(secrets.NewSource(secrets.NewClient(awsCfg), cfg.SecretID, secrets.WithLogger(logger)), cfg.Cloud)
	graphOpts.Endpoint, graphOpts.Authority, graphOpts.Logger = cfg.Endpoint, cfg.Authority, logger
	graphClient, err := graph.NewClient(creds, graphOpts)
	if err != nil {
		return nil, err
	}
	pipeline, err := photo.New(imageproc.Normalise, graphClient, cfg.Photo, cfg.SourceMaxBytes)
	if err != nil {
		return nil, err
	}
	if cfg.SkipUnchanged {
		records, err := photostate.New(s3Client(awsCfg, cfg), graphClient, photostate.Options{Bucket: cfg.StateBucket})
		if err != nil {
			return nil, err
		}
		pipeline.SkipUnchanged(records)
	}
	metrics, err := obs.NewMetrics(out, obs.Namespace, nil, obs.Dimension{Name: obs.FunctionDimension, Value: lambdacontext.FunctionName})
	if err != nil {
		return nil, err
	}
	return &Lambda{Config: cfg, Logger: logger, AWS: awsCfg, Graph: graphClient, Pipeline: pipeline, Metrics: metrics}, nil
}

// S3 is an S3 client from the configuration (path-style with S3_FORCE_PATH_STYLE, for an
// S3-compatible server at AWS_ENDPOINT_URL_S3).
func (l *Lambda) S3() *s3.Client { return s3Client(l.AWS, l.Config) }

func s3Client(awsCfg aws.Config, cfg config.Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3ForcePathStyle })
}

// Exit ends a function that cannot start with one line on stderr: CloudWatch shows lines, not
// paragraphs, whatever the number of problems.
func Exit(function string, err error) {
	fmt.Fprintln(os.Stderr, function+": "+strings.ReplaceAll(err.Error(), "\n", "; "))
	os.Exit(1)
}
