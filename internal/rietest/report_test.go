package rietest

import (
	"testing"
	"time"
)

func TestParseReport(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
		want Report
	}{
		{
			"REPORT RequestId: b3a2d528-3de2-43f7-9c7b-83086e430d2b\tInit Duration: 0.14 ms\tDuration: 32.59 ms\tBilled Duration: 33 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t",
			true,
			Report{RequestID: "b3a2d528-3de2-43f7-9c7b-83086e430d2b", InitDuration: 140 * time.Microsecond, Duration: 32590 * time.Microsecond, BilledDuration: 33 * time.Millisecond, MemorySizeMB: 3008, MaxMemoryUsedMB: 3008},
		},
		{
			"REPORT RequestId: r2\tDuration: 1.46 ms\tBilled Duration: 2 ms\tMemory Size: 512 MB\tMax Memory Used: 40 MB\t\n",
			true,
			Report{RequestID: "r2", Duration: 1460 * time.Microsecond, BilledDuration: 2 * time.Millisecond, MemorySizeMB: 512, MaxMemoryUsedMB: 40},
		},
		{"REPORT RequestId: r3\tDuration: 5.00 ms\tXRAY TraceId: 1-abc\t", true, Report{RequestID: "r3", Duration: 5 * time.Millisecond}},
		{"START RequestId: r1 Version: $LATEST", false, Report{}},
		{"REPORT RequestId: \tDuration: 1 ms", false, Report{}},
		{"REPORT RequestId: r4\tBilled Duration: 2 ms", false, Report{}},
		{"REPORT RequestId: r5\tDuration: fast", false, Report{}},
		{"REPORT RequestId: r6\tDuration: -1 ms", false, Report{}},
		{"REPORT RequestId: r7\tno colon", false, Report{}},
	}
	for _, tc := range tests {
		got, ok := ParseReport(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseReport(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseInitReport(t *testing.T) {
	tests := []struct {
		line string
		want time.Duration
		ok   bool
	}{
		{"29 Nov 2026 03:08:18,108 [INFO] (rapid) INIT REPORT(durationMs: 27.761000)", 27761 * time.Microsecond, true},
		{"INIT REPORT(durationMs: 3)", 3 * time.Millisecond, true},
		{"29 Nov 2026 03:08:18,108 [INFO] (rapid) INIT RTDONE(status: success)", 0, false},
		{"INIT REPORT(durationMs: )", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseInitReport(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseInitReport(%q) = %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRapidLine(t *testing.T) {
	l := LogLine{Stream: Stderr, Text: "29 Nov 2026 03:08:18,172 [WARNING] (rapid) Reset initiated: SandboxTerminated"}
	level, msg, ok := l.Rapid()
	if !ok || level != "WARNING" || msg != "Reset initiated: SandboxTerminated" {
		t.Errorf("Rapid() = %q, %q, %v", level, msg, ok)
	}
	if _, _, ok := (LogLine{Stream: Stdout, Text: `{"level":"INFO","msg":"echo [x] invoked"}`}).Rapid(); ok {
		t.Error("a function's JSON line parsed as an emulator line")
	}
}

func FuzzParseReport(f *testing.F) {
	f.Add("REPORT RequestId: id\tInit Duration: 0.14 ms\tDuration: 32.59 ms\tBilled Duration: 33 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t")
	f.Add("INIT REPORT(durationMs: 27.761000)")
	f.Fuzz(func(t *testing.T, line string) {
		if r, ok := ParseReport(line); ok {
			if r.RequestID == "" || r.Duration < 0 || r.BilledDuration < 0 || r.InitDuration < 0 {
				t.Fatalf("accepted %q as %+v", line, r)
			}
		}
		if d, ok := ParseInitReport(line); ok && d < 0 {
			t.Fatalf("negative init duration from %q", line)
		}
	})
}
