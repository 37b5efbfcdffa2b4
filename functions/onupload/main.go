// Command onupload is the S3 path's Lambda function (docs/architecture.md §4): S3 notifications,
// SQS, S3 Batch Operations and EventBridge events in, profile photos in Microsoft Graph out. It
// only wires the parts together; the work is in internal/onupload and internal/photo.
//
// Configuration is the environment of docs/architecture.md §7 (internal/config), checked before the
// runtime starts: a bad value stops the function with one line naming it. GRAPH_SECRET_ID is
// required. AWS clients follow the SDK's usual variables (AWS_REGION, credentials,
// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SECRETS_MANAGER); S3_FORCE_PATH_STYLE=true suits an
// S3-compatible server.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/graphphoto/graphphoto/internal/app"
	"github.com/graphphoto/graphphoto/internal/graph"
	"github.com/graphphoto/graphphoto/internal/onupload"
)

func main() {
	l, err := app.Build(context.Background(), os.Getenv, os.Stdout, graph.Options{})
	if err != nil {
		app.Exit("onupload", err)
	}
	h, err := onupload.New(l.S3(), l.Pipeline, onupload.Options{
		MetadataKey:      l.Config.TargetMetadataKey,
		KeyPrefix:        l.Config.TargetKeyPrefix,
		MetadataPrefixes: l.Config.TargetMetadataPrefixes,
		Logger:           l.Logger,
		Metrics:          l.Metrics,
	})
	if err != nil {
		app.Exit("onupload", err)
	}
	lambda.Start(h.Handle)
}
