package rietest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
)

// Stream says which of the emulator's outputs a line came from.
type Stream string

const (
	// Stdout carries START/END/REPORT lines and, under this emulator, the function's own output.
	Stdout Stream = "stdout"
	// Stderr carries the emulator's "(rapid)" lines, INIT REPORT among them.
	Stderr Stream = "stderr"
)

// LogLine is one line of output, without its newline.
type LogLine struct {
	Stream Stream
	Text   string
}

// Rapid splits one of the emulator's own lines,
// "29 Nov 2026 03:08:18,108 [INFO] (rapid) INIT REPORT(durationMs: 27.761000)", into its level
// and message; ok is false for other lines.
func (l LogLine) Rapid() (level, message string, ok bool) {
	open := strings.Index(l.Text, " [")
	if open < 0 {
		return "", "", false
	}
	rest := l.Text[open+2:]
	level, rest, found := strings.Cut(rest, "] (rapid) ")
	if !found || level == "" || strings.ContainsAny(level, " []") {
		return "", "", false
	}
	return level, rest, true
}

// maxLines bounds what is kept; a test's emulator writes a few lines per invocation.
const maxLines = 100_000

// lineStore collects the lines of both streams and wakes whoever waits for one.
type lineStore struct {
	mu      sync.Mutex
	lines   []LogLine
	dropped int // lines discarded from the front when over maxLines
	changed chan struct{}
	closed  bool
	echo    io.Writer
	parts   map[Stream]*bytes.Buffer
}

func newLineStore(echo io.Writer) *lineStore {
	return &lineStore{changed: make(chan struct{}), echo: echo, parts: map[Stream]*bytes.Buffer{}}
}

type streamWriter struct {
	s      *lineStore
	stream Stream
}

func (s *lineStore) writer(stream Stream) io.Writer {
	s.parts[stream] = &bytes.Buffer{}
	return streamWriter{s, stream}
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	buf := w.s.parts[w.stream]
	buf.Write(p)
	for {
		i := bytes.IndexByte(buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(buf.Next(i + 1))
		w.s.appendLocked(LogLine{Stream: w.stream, Text: strings.TrimRight(line, "\r\n")})
	}
	return len(p), nil
}

func (s *lineStore) appendLocked(l LogLine) {
	if s.echo != nil {
		io.WriteString(s.echo, string(l.Stream)+": "+l.Text+"\n")
	}
	s.lines = append(s.lines, l)
	if len(s.lines) > maxLines {
		n := len(s.lines) - maxLines
		s.lines = append(s.lines[:0:0], s.lines[n:]...)
		s.dropped += n
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// flush keeps a last line that had no newline, and wakes waiters for good once the process
// has exited.
func (s *lineStore) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, stream := range []Stream{Stdout, Stderr} {
		if buf := s.parts[stream]; buf != nil && buf.Len() > 0 {
			s.appendLocked(LogLine{Stream: stream, Text: buf.String()})
			buf.Reset()
		}
	}
	s.closed = true
	close(s.changed)
	s.changed = make(chan struct{})
}

// len is a position in the whole output (dropped lines included) for wait and between.
func (s *lineStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped + len(s.lines)
}

func (s *lineStore) all() []LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogLine(nil), s.lines...)
}

// wait returns the first line at or after position from that match accepts.
func (s *lineStore) wait(ctx context.Context, from int, match func(LogLine) bool) (LogLine, error) {
	for {
		s.mu.Lock()
		start := max(from-s.dropped, 0)
		for _, l := range s.lines[min(start, len(s.lines)):] {
			if match(l) {
				s.mu.Unlock()
				return l, nil
			}
		}
		from = s.dropped + len(s.lines)
		changed, closed := s.changed, s.closed
		s.mu.Unlock()
		if closed {
			return LogLine{}, errClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return LogLine{}, ctx.Err()
		}
	}
}

// between returns the lines after position from that lie between the first line starting with
// first and the next one starting with last, both included.
func (s *lineStore) between(from int, first, last string) []LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LogLine
	in := false
	for _, l := range s.lines[min(max(from-s.dropped, 0), len(s.lines)):] {
		if !in && strings.HasPrefix(l.Text, first) {
			in = true
		}
		if in {
			out = append(out, l)
			if strings.HasPrefix(l.Text, last) {
				break
			}
		}
	}
	return out
}
