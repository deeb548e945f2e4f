package proto

import (
	"context"
	"errors"
	"fmt"
)

// Kind is an envelope's frame type (field 1).
type Kind uint64

// The frame types of the protocol.
const (
	Request Kind = 1 // client to server: opens a stream
	Data    Kind = 2 // server to client: one message of a streaming reply
	Status  Kind = 3 // server to client: ends a stream
	Cancel  Kind = 4 // client to server: stop working on a stream
	GoAway  Kind = 5 // server to client: no new streams on this connection
)

// Code is a call's status code (field 6): gRPC's numbers.
type Code uint64

// The status codes of the protocol.
const (
	OK                 Code = 0
	Canceled           Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
)

func (c Code) String() string {
	switch c {
	case OK:
		return "OK"
	case Canceled:
		return "Canceled"
	case Unknown:
		return "Unknown"
	case InvalidArgument:
		return "InvalidArgument"
	case DeadlineExceeded:
		return "DeadlineExceeded"
	case NotFound:
		return "NotFound"
	case ResourceExhausted:
		return "ResourceExhausted"
	case FailedPrecondition:
		return "FailedPrecondition"
	case Unimplemented:
		return "Unimplemented"
	case Internal:
		return "Internal"
	case Unavailable:
		return "Unavailable"
	}
	return fmt.Sprintf("code %d", uint64(c))
}

// Error is a call that ended with a code other than OK, from the server's
// Status or from the client (its deadline, its cancellation, a broken
// connection).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// CodeOf is the status code an error stands for: OK for nil, an *Error's
// code, DeadlineExceeded or Canceled for the context's errors, Unknown for
// anything else.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return OK
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return Canceled
	}
	return Unknown
}

// Envelope is one frame's content, fields 1-7 of the specification.
type Envelope struct {
	Kind          Kind
	Stream        uint64
	Method        string
	TimeoutMicros uint64
	Payload       []byte
	Code          Code
	Message       string
}

// Append appends e's encoding; fields at their zero value are left out,
// as the specification allows, except the kind and the stream.
func (e *Envelope) Append(b []byte) []byte {
	b = AppendField(b, Field{Num: 1, Type: WireVarint, Varint: uint64(e.Kind)})
	b = AppendField(b, Field{Num: 2, Type: WireVarint, Varint: e.Stream})
	if e.Method != "" {
		b = AppendField(b, Field{Num: 3, Type: WireBytes, Bytes: []byte(e.Method)})
	}
	if e.TimeoutMicros != 0 {
		b = AppendField(b, Field{Num: 4, Type: WireVarint, Varint: e.TimeoutMicros})
	}
	if len(e.Payload) > 0 {
		b = AppendField(b, Field{Num: 5, Type: WireBytes, Bytes: e.Payload})
	}
	if e.Code != OK {
		b = AppendField(b, Field{Num: 6, Type: WireVarint, Varint: uint64(e.Code)})
	}
	if e.Message != "" {
		b = AppendField(b, Field{Num: 7, Type: WireBytes, Bytes: []byte(e.Message)})
	}
	return b
}

// ParseEnvelope decodes one envelope. Unknown fields are skipped; a known
// field of the wrong wire type or a missing frame type is an error.
// Payload aliases b.
func ParseEnvelope(b []byte) (Envelope, error) {
	fields, err := ParseFields(b)
	if err != nil {
		return Envelope{}, fmt.Errorf("envelope: %w", err)
	}
	var e Envelope
	for _, f := range fields {
		want := WireVarint
		if f.Num == 3 || f.Num == 5 || f.Num == 7 {
			want = WireBytes
		}
		if f.Num <= 7 && f.Type != want {
			return Envelope{}, fmt.Errorf("envelope: field %d has wire type %d, want %d", f.Num, f.Type, want)
		}
		switch f.Num {
		case 1:
			e.Kind = Kind(f.Varint)
		case 2:
			e.Stream = f.Varint
		case 3:
			e.Method = string(f.Bytes)
		case 4:
			e.TimeoutMicros = f.Varint
		case 5:
			e.Payload = f.Bytes
		case 6:
			e.Code = Code(f.Varint)
		case 7:
			e.Message = string(f.Bytes)
		}
	}
	if e.Kind == 0 {
		return Envelope{}, errors.New("envelope: no frame type (field 1)")
	}
	return e, nil
}
