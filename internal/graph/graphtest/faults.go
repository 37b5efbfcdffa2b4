package graphtest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Fault is a scripted failure: the requests it matches are answered with Status (and Retry-After),
// redirected to Location, or have their connection reset, optionally after a delay. Rules are
// checked in the order they were added; the first that matches and still has uses answers.
type Fault struct {
	Method string // matches any method when ""
	Kind   string // "graph", "token", "openid", "discovery"; any when ""
	Path   string // substring of the escaped path, e.g. "/photo/$value"; any when ""
	Skip   int    // let this many matching requests through before answering
	Times  int    // answer this many matching requests, then stop; 0 means every one

	Status     int           // status to answer with (429, 503, 504, …); 0 = pass through after Latency
	Code       string        // error code; default by status (activityLimitReached, serviceNotAvailable, …)
	RetryAfter string        // Retry-After header value as sent: seconds ("3") or an HTTP date
	Location   string        // with a 3xx Status: the redirect's target, sent as is; the answer has no body
	Reset      bool          // close the connection without any response
	Latency    time.Duration // wait this long first (bounded by the request's context)
}

// RandomFault answers a share of the matching requests, drawn from the emulator's seeded source
// (Options.FaultSeed), so a run is repeatable.
type RandomFault struct {
	Rate       float64 // probability in [0,1]
	Kind       string  // as in Fault
	Method     string
	Status     int
	RetryAfter string
	Reset      bool
}

type faultRule struct {
	Fault
	seen int
	used int
}

type chanceFault struct{ RandomFault }

// AddFault adds a scripted fault rule.
func (s *Server) AddFault(f Fault) {
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	s.emu.faults = append(s.emu.faults, &faultRule{Fault: f})
}

// AddRandomFault adds a probabilistic fault.
func (s *Server) AddRandomFault(f RandomFault) {
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	s.emu.chance = append(s.emu.chance, &chanceFault{RandomFault: f})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.emu.mu.Lock()
	defer s.emu.mu.Unlock()
	s.emu.faults, s.emu.chance = nil, nil
}

func (f *Fault) matches(r *http.Request, kind string) bool {
	return (f.Method == "" || strings.EqualFold(f.Method, r.Method)) &&
		(f.Kind == "" || f.Kind == kind) &&
		(f.Path == "" || strings.Contains(r.URL.EscapedPath(), f.Path))
}

// applyFault answers the request if a fault matches and returns a description of it ("" if none).
// A reset is left to the caller (reset=true), which logs the request before dropping the
// connection so a test never sees the failure before the log does.
func (e *emulator) applyFault(w http.ResponseWriter, r *http.Request, kind, reqID, clientReqID string) (name string, reset bool) {
	var chosen *Fault
	e.mu.Lock()
	e.seq++
	for i, rule := range e.faults {
		if !rule.matches(r, kind) {
			continue
		}
		// Every matching rule counts the request, so Skip means "the first Skip matching
		// requests", whichever rule answered them.
		rule.seen++
		if chosen != nil || rule.seen <= rule.Skip || (rule.Times > 0 && rule.used >= rule.Times) {
			continue
		}
		rule.used++
		f := rule.Fault
		chosen, name = &f, fmt.Sprintf("rule %d", i)
	}
	if chosen == nil {
		for i, c := range e.chance {
			if (c.Kind != "" && c.Kind != kind) || (c.Method != "" && !strings.EqualFold(c.Method, r.Method)) {
				continue
			}
			if e.rng.Float64() < c.Rate {
				chosen = &Fault{Status: c.Status, RetryAfter: c.RetryAfter, Reset: c.Reset}
				name = fmt.Sprintf("random %d", i)
				break
			}
		}
	}
	e.mu.Unlock()
	if chosen == nil {
		return "", false
	}
	if chosen.Latency > 0 {
		t := time.NewTimer(chosen.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	switch {
	case chosen.Reset:
		return name + ": reset", true
	case chosen.Status == 0:
		return "", false // latency only: the request proceeds normally
	}
	if chosen.RetryAfter != "" {
		w.Header().Set("Retry-After", chosen.RetryAfter)
	}
	if chosen.Location != "" {
		w.Header().Set("Location", chosen.Location)
		w.WriteHeader(chosen.Status)
		return name + fmt.Sprintf(": %d to %s", chosen.Status, chosen.Location), false
	}
	if kind == "token" || kind == "openid" || kind == "discovery" {
		writeJSON(w, chosen.Status, oauthError{
			Error:            "temporarily_unavailable",
			ErrorDescription: fmt.Sprintf("AADSTS90033: A transient error has occurred. Please try again.\r\nTrace ID: %s", reqID),
			ErrorCodes:       []int{90033},
			Timestamp:        e.now().UTC().Format("2006-01-02 15:04:05Z"),
			TraceID:          reqID,
			CorrelationID:    clientReqID,
		})
		return name + fmt.Sprintf(": %d", chosen.Status), false
	}
	code, inner, msg := chosen.Code, "", "The service is temporarily unavailable."
	if code == "" {
		switch chosen.Status {
		case http.StatusTooManyRequests:
			code, inner, msg = "activityLimitReached", "throttledRequest", "The request has been throttled."
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			code = "serviceNotAvailable"
		default:
			code, msg = "generalException", "An unspecified error has occurred."
		}
	}
	writeGraphErrorInner(w, chosen.Status, code, inner, msg, reqID, clientReqID, e.now())
	return name + fmt.Sprintf(": %d", chosen.Status), false
}

// resetConnection drops the TCP connection without a response, as a network failure would.
func resetConnection(w http.ResponseWriter) {
	for {
		if h, ok := w.(http.Hijacker); ok {
			conn, _, err := h.Hijack()
			if err == nil {
				_ = conn.Close()
				return
			}
			break
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	panic(http.ErrAbortHandler)
}
