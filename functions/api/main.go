// Command api is the HTTPS path's Lambda function (docs/architecture.md §5): API Gateway HTTP API
// (payload 2.0, JWT authoriser) in front of Graph's photo routes. It only wires the parts
// together; the routes, authorisation and the event adapter are in internal/api, the work in
// internal/photo.
//
// Configuration is the environment of docs/architecture.md §7 (internal/config), checked before the
// runtime starts: a bad value stops the function with one line naming it. GRAPH_SECRET_ID is
// required; UPLOAD_BUCKET turns POST /v1.0/uploads on. AWS clients follow the SDK's usual variables
// (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SECRETS_MANAGER);
// S3_FORCE_PATH_STYLE=true suits an S3-compatible server.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphphoto/graphphoto/internal/api"
	"github.com/graphphoto/graphphoto/internal/app"
	"github.com/graphphoto/graphphoto/internal/graph"
)

func main() {
	// A caller waits on the line and API Gateway gives up after 30 s, so a long Retry-After is
	// handed to the client (429/503 with Retry-After) instead of being slept through.
	l, err := app.Build(context.Background(), os.Getenv, os.Stdout, graph.Options{MaxAttempts: 3, MaxRetryAfter: 5 * time.Second})
	if err != nil {
		app.Exit("api", err)
	}
	opts := api.Options{
		Photos:            l.Pipeline,
		Graph:             l.Graph,
		AdminRole:         l.Config.AdminRole,
		UserScope:         l.Config.UserScope,
		TargetMetadataKey: l.Config.TargetMetadataKey,
		Logger:            l.Logger,
		Metrics:           l.Metrics,
	}
	if c := l.Config; c.UploadBucket != "" {
		opts.Uploads = s3.NewPresignClient(l.S3())
		opts.UploadBucket, opts.UploadPrefix, opts.UploadURLTTL = c.UploadBucket, c.UploadPrefix, c.UploadURLTTL
	}
	h, err := api.New(opts)
	if err != nil {
		app.Exit("api", err)
	}
	lambda.Start(api.NewLambda(h, l.Logger).RequireAPI(l.Config.GatewayID))
}
