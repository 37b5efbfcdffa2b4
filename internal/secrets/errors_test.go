package secrets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	smithy "github.com/aws/smithy-go"

	"github.com/graphphoto/graphphoto/internal/reason"
)

// TestClassify covers the codes the emulator does not produce; TestThroughTheSDK covers the
// ones it does, as the SDK delivers them.
func TestClassify(t *testing.T) {
	api := func(code string, fault smithy.ErrorFault) error {
		return &smithy.OperationError{OperationName: "GetSecretValue", Err: &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault}}
	}
	for _, tc := range []struct {
		name          string
		err           error
		wantReason    reason.Reason
		wantTransient bool
	}{
		{"ResourceNotFoundException", &types.ResourceNotFoundException{}, ReasonNotFound, false},
		{"InvalidParameterException", &types.InvalidParameterException{}, ReasonNotFound, false},
		{"InvalidRequestException", &types.InvalidRequestException{}, ReasonNotFound, false},
		{"DecryptionFailure", &types.DecryptionFailure{}, ReasonAccessDenied, false},
		{"AccessDeniedException", api("AccessDeniedException", smithy.FaultClient), ReasonAccessDenied, false},
		{"UnrecognizedClientException", api("UnrecognizedClientException", smithy.FaultUnknown), ReasonAccessDenied, false},
		{"InternalServiceError", &types.InternalServiceError{}, ReasonUnavailable, true},
		{"ThrottlingException", api("ThrottlingException", smithy.FaultUnknown), ReasonUnavailable, true},
		{"RequestTimeout", api("RequestTimeout", smithy.FaultUnknown), ReasonUnavailable, true},
		{"ExpiredTokenException", api("ExpiredTokenException", smithy.FaultClient), ReasonUnavailable, true},
		{"unknown server fault", api("SomethingNew", smithy.FaultServer), ReasonUnavailable, true},
		{"unknown client fault", api("SomethingNew", smithy.FaultClient), ReasonUnavailable, false},
		{"retries exhausted", &retry.MaxAttemptsError{Attempt: 3, Err: api("ThrottlingException", smithy.FaultUnknown)}, ReasonUnavailable, true},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), ReasonUnavailable, true},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("refused")}, ReasonUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := classify("id", tc.err)
			if e.Reason() != tc.wantReason || e.Transient() != tc.wantTransient || !errors.Is(e, tc.err) {
				t.Fatalf("%v: reason %s transient %v; want %s %v, wrapping the cause", e, e.Reason(), e.Transient(), tc.wantReason, tc.wantTransient)
			}
		})
	}
}
