// Package reason is what a photo's outcome says about why (docs/architecture.md §1): a stable code
// that machines read (the graph-photo-reason tag, innerError.reason, log lines, metrics), declared
// once beside the error that carries it, together with its class and the HTTP answer the API
// gives for it. Whether an outcome is rejected or failed, whether the trigger retries, and which
// status and Graph error code the API answers with are read from the reason, never from a second
// list of codes.
//
// Every package that raises a reason declares it as an exported variable made by New:
//
//	var ReasonTooSmall = reason.New("too_small", reason.Rejected, http.StatusBadRequest, "ImageTooSmall",
//		"the image is smaller than 48x48 pixels, the smallest photo Microsoft 365 shows")
//
// and its errors answer Reason() with it. A test of this package reads the project's source and
// fails when a reason is declared any other way, lacks a class or a status, or repeats a code.
package reason

import (
	"fmt"
	"net/http"
)

// Class is what an outcome with this reason is: it decides the graph-photo-status tag, the
// metric counted and whether the trigger delivers the photo again.
type Class uint8

// The classes. The zero Class is no class: New refuses it.
const (
	// Synced: Graph holds the photo, though this run did not write it (already synced).
	Synced Class = iota + 1
	// Skipped: nothing was sent on purpose (a newer version or a deletion came after it).
	Skipped
	// Rejected: the input cannot become a photo; sending it again changes nothing.
	Rejected
	// Failed: the input may be fine but was not delivered, and will not be until someone fixes
	// the setup (credentials, permissions); not retried.
	Failed
	// Transient: not delivered now, may be later (throttling, an outage, out of time); retried.
	Transient
)

var classNames = [...]string{Synced: "synced", Skipped: "skipped", Rejected: "rejected", Failed: "failed", Transient: "transient"}

func (c Class) String() string {
	if c >= Synced && int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// Reason is a stable reason code with its class and the API's answer for it. Reasons compare
// with ==; the zero Reason is "no reason" (a photo synced by this run).
type Reason struct {
	code      string
	class     Class
	status    int
	graphCode string
	message   string
}

// New declares a reason: its code (lower-case words joined by "_"), its class, the HTTP status
// the API answers with, the Graph-style error code of that answer (e.g. ImageTooLarge; "" for the
// classes that are no error) and the fixed message a client reads, which must never carry an
// internal error's text. It panics on a declaration that lacks any of them, so a reason without a
// class or a status stops the program at start, before any photo is classified by accident.
func New(code string, class Class, status int, graphCode, message string) Reason {
	r := Reason{code: code, class: class, status: status, graphCode: graphCode, message: message}
	if err := r.check(); err != nil {
		panic(err)
	}
	return r
}

// check is New's rule, for tests too.
func (r Reason) check() error {
	if !validCode(r.code) {
		return fmt.Errorf("reason %q: want lower-case words joined by _", r.code)
	}
	if r.class < Synced || r.class > Transient {
		return fmt.Errorf("reason %q: no class", r.code)
	}
	if http.StatusText(r.status) == "" {
		return fmt.Errorf("reason %q: HTTP status %d is not one", r.code, r.status)
	}
	if r.Failure() && (r.graphCode == "" || r.message == "") {
		return fmt.Errorf("reason %q: an error's reason needs the API's error code and message", r.code)
	}
	return nil
}

func validCode(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// String is the code, as tags, logs and metrics carry it; "" for the zero Reason.
func (r Reason) String() string { return r.code }

// Class is the reason's class; 0 for the zero Reason.
func (r Reason) Class() Class { return r.class }

// Transient reports whether an outcome with this reason is retried.
func (r Reason) Transient() bool { return r.class == Transient }

// Failure reports whether the reason is a refusal or a failure, not a photo synced or skipped.
func (r Reason) Failure() bool {
	return r.class == Rejected || r.class == Failed || r.class == Transient
}

// HTTPStatus is the status the API answers with.
func (r Reason) HTTPStatus() int { return r.status }

// GraphCode is the error.code of the API's answer, in Graph's style.
func (r Reason) GraphCode() string { return r.graphCode }

// Message is the fixed text of the API's answer.
func (r Reason) Message() string { return r.message }

// IsZero reports whether r is no reason at all.
func (r Reason) IsZero() bool { return r == Reason{} }

// MarshalText writes the code, so JSON carries reasons as their codes.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.code), nil }
