// Package uuid makes random (version 4) UUIDs in their 8-4-4-4-12 lower-case form, the ids
// Graph and AWS use for requests: Graph's client-request-id, the API's request id outside API
// Gateway, and the emulators' own ids.
package uuid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a random UUID (version 4, RFC 9562 variant).
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails: it aborts the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
