package rpc

import (
	"fmt"

	"github.com/distsys-curriculum/distsys/tracks/networker/wire"
)

// FrameType says what an envelope carries.
type FrameType uint8

const (
	// Request opens stream Stream: Method, Timeout, Payload. Client to server.
	Request FrameType = 1
	// Data is one message of a server stream: Payload. Server to client.
	Data FrameType = 2
	// Status ends a stream: Code, Message, and for a unary call the reply in
	// Payload. Server to client.
	Status FrameType = 3
	// Cancel asks the server to cancel stream Stream's handler. Client to
	// server; no reply.
	Cancel FrameType = 4
	// GoAway: the server takes no new streams on this connection; streams
	// up to and including Stream will complete. Server to client.
	GoAway FrameType = 5
)

// Envelope is one frame of the protocol, encoded with the wire package:
//
//	1 type     varint  FrameType
//	2 stream   varint  stream id, chosen by the client, unique per connection
//	3 method   bytes   Request
//	4 timeout  varint  Request: microseconds the caller will wait; 0 = none
//	5 payload  bytes   Request, Data, Status
//	6 code     varint  Status
//	7 message  bytes   Status
//
// The deadline travels as a duration, not a time, because the two machines'
// clocks disagree; the server starts its own clock when the frame arrives.
// Unknown fields and frame types are ignored, so later versions can add them.
type Envelope struct {
	Type    FrameType
	Stream  uint64
	Method  string
	Timeout uint64 // microseconds
	Payload []byte
	Code    Code
	Message string
}

// AppendEnvelope appends e's encoding to b. Zero fields are left out.
func AppendEnvelope(b []byte, e *Envelope) []byte {
	b = wire.AppendUvarintField(b, 1, uint64(e.Type))
	b = wire.AppendUvarintField(b, 2, e.Stream)
	if e.Method != "" {
		b = wire.AppendStringField(b, 3, e.Method)
	}
	if e.Timeout != 0 {
		b = wire.AppendUvarintField(b, 4, e.Timeout)
	}
	if len(e.Payload) > 0 {
		b = wire.AppendBytesField(b, 5, e.Payload)
	}
	if e.Code != OK {
		b = wire.AppendUvarintField(b, 6, uint64(e.Code))
	}
	if e.Message != "" {
		b = wire.AppendStringField(b, 7, e.Message)
	}
	return b
}

// ParseEnvelope decodes b. Payload aliases b.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	var d wire.Decoder
	d.Reset(b)
	for d.Next() {
		switch d.Number() {
		case 1:
			e.Type = FrameType(d.Uvarint())
		case 2:
			e.Stream = d.Uvarint()
		case 3:
			e.Method = d.String()
		case 4:
			e.Timeout = d.Uvarint()
		case 5:
			e.Payload = d.Bytes()
		case 6:
			e.Code = Code(d.Uvarint())
		case 7:
			e.Message = d.String()
		}
	}
	if err := d.Err(); err != nil {
		return Envelope{}, fmt.Errorf("parse envelope: %w", err)
	}
	if e.Type == 0 {
		return Envelope{}, fmt.Errorf("parse envelope: no frame type")
	}
	return e, nil
}
