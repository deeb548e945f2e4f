// Package tracectx is the W3C Trace Context `traceparent` header, written
// from the specification (https://www.w3.org/TR/trace-context/): a trace
// id, the id of the caller's span (the parent of the span the receiver
// starts) and the sampled flag. The tracer track's nodes carry it in every
// RPC body, so that spans started on different nodes join one trace; its
// tests prove that it interoperates both ways with OpenTelemetry's
// propagator.
package tracectx

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// TraceID identifies a trace; all zeroes is invalid.
type TraceID [16]byte

// SpanID identifies a span within a trace; all zeroes is invalid.
type SpanID [8]byte

func (t TraceID) String() string { return hex.EncodeToString(t[:]) }
func (s SpanID) String() string  { return hex.EncodeToString(s[:]) }

// IsValid: the specification reserves the all-zero ids.
func (t TraceID) IsValid() bool { return t != TraceID{} }
func (s SpanID) IsValid() bool  { return s != SpanID{} }

// FlagSampled is the one trace flag version 00 defines: the caller may
// have recorded its span, and asks the callee to record too (head
// sampling: the decision is taken once, at the root, and travels).
const FlagSampled = 0x01

// Context is what travels between processes.
type Context struct {
	TraceID TraceID
	SpanID  SpanID // the caller's span: the parent of the callee's span
	Flags   byte
}

// Sampled reports the sampled flag.
func (c Context) Sampled() bool { return c.Flags&FlagSampled != 0 }

// Format renders the header value: version 00, lower-case hex.
func (c Context) Format() string {
	return fmt.Sprintf("00-%s-%s-%02x", c.TraceID, c.SpanID, c.Flags)
}

// Errors of Parse; a receiver that cannot parse the header starts a new
// trace, as the specification says, rather than failing the request.
var (
	ErrFormat  = errors.New("traceparent: malformed")
	ErrVersion = errors.New("traceparent: version ff is invalid")
	ErrZeroID  = errors.New("traceparent: all-zero trace or span id")
)

// Parse reads a traceparent value. Version 00 must be exactly 55
// characters; a later version may append fields after a dash, which are
// ignored (forward compatibility, as the specification asks).
func Parse(s string) (Context, error) {
	var c Context
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return c, ErrFormat
	}
	ver, ok := hexByte(s[0:2])
	if !ok {
		return c, ErrFormat
	}
	if ver == 0xff {
		return c, ErrVersion
	}
	if len(s) > 55 && (ver == 0 || s[55] != '-') {
		return c, ErrFormat
	}
	if !hexInto(c.TraceID[:], s[3:35]) || !hexInto(c.SpanID[:], s[36:52]) {
		return c, ErrFormat
	}
	f, ok := hexByte(s[53:55])
	if !ok {
		return c, ErrFormat
	}
	// We write version 00, which defines only the sampled bit: flags we
	// do not know are not passed on.
	c.Flags = f & FlagSampled
	if !c.TraceID.IsValid() || !c.SpanID.IsValid() {
		return c, ErrZeroID
	}
	return c, nil
}

// hexInto decodes lower-case hex only: the specification forbids upper case.
func hexInto(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		b, ok := hexByte(s[2*i : 2*i+2])
		if !ok {
			return false
		}
		dst[i] = b
	}
	return true
}

func hexByte(s string) (byte, bool) {
	var v byte
	for i := 0; i < 2; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}

// NewTraceID and NewSpanID draw random non-zero ids.
func NewTraceID() TraceID {
	var t TraceID
	for !t.IsValid() {
		_, _ = rand.Read(t[:])
	}
	return t
}

func NewSpanID() SpanID {
	var s SpanID
	for !s.IsValid() {
		_, _ = rand.Read(s[:])
	}
	return s
}

// Child is the context a node passes on after starting span id as a child
// of c: same trace, same sampling decision, the new span as parent.
func (c Context) Child(id SpanID) Context {
	return Context{TraceID: c.TraceID, SpanID: id, Flags: c.Flags}
}
