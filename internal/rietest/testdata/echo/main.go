// Command echo is a Lambda function for rietest's own tests: it answers with the event it got,
// logs one JSON line per invocation, and fails or sleeps when the event asks it to, so
// that the emulator's handling of function errors and timeouts can be checked too.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type response struct {
	Echo         json.RawMessage `json:"echo"`
	FunctionName string          `json:"functionName"`
	RequestID    string          `json:"requestId"`
	Greeting     string          `json:"greeting,omitempty"`
	PID          int             `json:"pid"`
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	greeting := os.Getenv("ECHO_GREETING")
	lambda.Start(func(ctx context.Context, event json.RawMessage) (response, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		log.Info("echo invoked", "requestId", lc.AwsRequestID, "bytes", len(event))
		var ask struct {
			Fail    string `json:"fail"`
			SleepMs int    `json:"sleepMs"`
		}
		if json.Unmarshal(event, &ask) == nil {
			if ask.SleepMs > 0 {
				// Overrun the deadline as a stuck function would, without looking at ctx: a
				// function that returned ctx.Err() at its deadline would race the emulator's
				// own timeout, and the test of that timeout would depend on the machine's load.
				time.Sleep(time.Duration(ask.SleepMs) * time.Millisecond)
			}
			if ask.Fail != "" {
				return response{}, errors.New(ask.Fail)
			}
		}
		return response{Echo: event, FunctionName: lambdacontext.FunctionName, RequestID: lc.AwsRequestID, Greeting: greeting, PID: os.Getpid()}, nil
	})
}
