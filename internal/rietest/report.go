package rietest

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Report is the REPORT line the emulator prints on stdout after each invocation, like Lambda's:
//
//	REPORT RequestId: ID\tInit Duration: 0.14 ms\tDuration: 32.59 ms\tBilled Duration: 33 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t
//
// Under the RIE, "Init Duration" (first invocation only) is not the function's init time: the
// RIE measures a call that only starts the runtime. Use the INIT REPORT line (InitDuration)
// for that; the first invocation's Duration includes the wait for init. Memory figures are the
// configured size, not a measurement.
type Report struct {
	RequestID       string
	Duration        time.Duration
	BilledDuration  time.Duration
	InitDuration    time.Duration // zero when the line has none
	MemorySizeMB    int
	MaxMemoryUsedMB int
}

// ParseReport reads a REPORT line; ok is false for any other line or a malformed one.
func ParseReport(line string) (r Report, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "REPORT RequestId: ")
	if !found {
		return Report{}, false
	}
	fields := strings.Split(strings.TrimRight(rest, "\t "), "\t")
	r.RequestID = strings.TrimSpace(fields[0])
	if r.RequestID == "" {
		return Report{}, false
	}
	var haveDuration bool
	for _, f := range fields[1:] {
		name, value, found := strings.Cut(f, ": ")
		if !found {
			return Report{}, false
		}
		var err error
		switch name {
		case "Duration":
			r.Duration, err = parseMs(value)
			haveDuration = err == nil
		case "Billed Duration":
			r.BilledDuration, err = parseMs(value)
		case "Init Duration":
			r.InitDuration, err = parseMs(value)
		case "Memory Size":
			r.MemorySizeMB, err = parseMB(value)
		case "Max Memory Used":
			r.MaxMemoryUsedMB, err = parseMB(value)
		default:
			// Lambda adds fields over time (Restore Duration, XRAY TraceId); they are not needed.
		}
		if err != nil {
			return Report{}, false
		}
	}
	if !haveDuration {
		return Report{}, false
	}
	return r, true
}

func parseMs(v string) (time.Duration, error) {
	n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " ms"), 64)
	if err != nil || n < 0 || n > 1e9 {
		return 0, strconv.ErrSyntax
	}
	return time.Duration(n * float64(time.Millisecond)), nil
}

func parseMB(v string) (int, error) {
	return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " MB"))
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9]+(?:\.[0-9]+)?)\)`)

// ParseInitReport reads the emulator's own log line for the init phase,
//
//	29 Nov 2026 03:08:18,108 [INFO] (rapid) INIT REPORT(durationMs: 27.761000)
//
// which times the runtime from its start to its first request for work: the function's
// cold-start init, as Lambda's INIT REPORT does.
func ParseInitReport(line string) (time.Duration, bool) {
	m := initReport.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	d, err := parseMs(m[1])
	if err != nil {
		return 0, false
	}
	return d, true
}
