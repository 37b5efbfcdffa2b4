// Package obs holds what the functions write for operators: JSON log lines carrying the Lambda
// request id, and CloudWatch Embedded Metric Format (EMF) lines that CloudWatch turns into
// metrics without any API call (docs/architecture.md §9).
package obs

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// NewLogger returns a JSON logger in Lambda's own log shape (timestamp, level, message,
// requestId): it adds the request id of the invocation in the context (lambdacontext) to every
// record logged with a context, as lambdacontext.NewLogHandler does. Unlike that handler it is
// always JSON: it does not depend on AWS_LAMBDA_LOG_FORMAT, so the lines stay machine-readable
// whether or not the function's LoggingConfig asks for JSON.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(NewHandler(w, level))
}

// NewHandler is the slog.Handler behind NewLogger.
func NewHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: lambdacontext.ReplaceAttr,
	})}
}

// requestIDHandler adds "requestId" from the Lambda context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// RequestID is the invocation's request id, "" outside Lambda.
func RequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
