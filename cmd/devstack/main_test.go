package main

import (
	"bytes"
	"context"
	"testing"
)

// The stack itself is tested end to end in internal/devstack; here, only the command's own
// decisions.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"--nope"}, {"--demo=maybe"}, {"-api-addr"}, {"--redrive=maybe"}, {"--plain-http=maybe"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut, true); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestStartFailureIsReported(t *testing.T) {
	var out, errOut bytes.Buffer
	// An address that cannot be listened on fails the start, after the functions are built.
	code := run(context.Background(), []string{"--dir", t.TempDir(), "--api-addr", "256.0.0.1:1"}, &out, &errOut, true)
	if code != 1 || errOut.Len() == 0 {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}
