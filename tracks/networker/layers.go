package networker

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/distsys-curriculum/distsys/tracks/networker/frame"
	"github.com/distsys-curriculum/distsys/tracks/networker/server"
	"github.com/distsys-curriculum/distsys/tracks/networker/wire"
)

// The layers the node serves, one per graded stage; the grader's net-rpc
// workload grades one with --layer and tells the node in NETRPC_LAYER.
const (
	LayerTCP           = "tcp"           // echo every byte (stage 1, server)
	LayerFraming       = "framing"       // echo every frame (stage 2, frame)
	LayerSerialization = "serialization" // answer each Record canonically (stage 3, wire)
	LayerRPC           = "rpc"           // the RPC service (stage 4, rpc)
)

// Layers lists the layers in the order the track builds them.
var Layers = []string{LayerTCP, LayerFraming, LayerSerialization, LayerRPC}

// layerHandler is the connection handler that serves one of the lower
// layers; the rpc layer is the rpc.Server.
func layerHandler(layer string, maxFrame int) (server.Handler, error) {
	switch layer {
	case LayerTCP:
		return server.HandlerFunc(echoBytes), nil
	case LayerFraming:
		return server.HandlerFunc(func(_ context.Context, c *server.Conn) {
			serveFrames(c, maxFrame, func(p []byte) ([]byte, error) { return p, nil })
		}), nil
	case LayerSerialization:
		return server.HandlerFunc(func(_ context.Context, c *server.Conn) {
			serveFrames(c, maxFrame, func(p []byte) ([]byte, error) {
				rec, err := ParseRecord(p)
				if err != nil {
					return nil, err
				}
				return rec.Append(nil), nil
			})
		}), nil
	}
	return nil, fmt.Errorf("unknown layer %q (known: %v)", layer, Layers)
}

// echoBytes writes back whatever arrives, in whatever pieces, and closes
// once the peer has closed its side and everything is written back.
func echoBytes(_ context.Context, c *server.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if err := c.WaitIdle(); err != nil {
			return
		}
		c.BeginRead()
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveFrames answers each frame with handle's reply, in order. An
// oversized length, a stream ending inside a frame or a frame handle
// refuses ends the connection: the stream is out of step, or the peer
// speaks another protocol.
func serveFrames(c *server.Conn, maxFrame int, handle func([]byte) ([]byte, error)) {
	fr := frame.NewReader(c.Reader(), maxFrame)
	fw := frame.NewWriter(c, maxFrame)
	for {
		if err := c.WaitIdle(); err != nil {
			return
		}
		c.BeginRead()
		p, err := fr.ReadFrame()
		if err != nil {
			return
		}
		reply, err := handle(p)
		if err != nil {
			return
		}
		if err := fw.WriteFrame(reply); err != nil {
			return
		}
	}
}

// Record is the serialization stage's message (see the lesson):
//
//	1 id     varint           uint64
//	2 delta  varint (zigzag)  sint64
//	3 name   bytes            string
//	4 score  fixed64          double
//	5 tags   bytes, repeated  string
//	6 flags  fixed32          uint32
type Record struct {
	ID    uint64
	Delta int64
	Name  string
	Score float64
	Tags  []string
	Flags uint32
}

// Append appends r's canonical encoding: fields in number order, scalars
// at their zero value left out, tags in order.
func (r *Record) Append(b []byte) []byte {
	if r.ID != 0 {
		b = wire.AppendUvarintField(b, 1, r.ID)
	}
	if r.Delta != 0 {
		b = wire.AppendSvarintField(b, 2, r.Delta)
	}
	if r.Name != "" {
		b = wire.AppendStringField(b, 3, r.Name)
	}
	if math.Float64bits(r.Score) != 0 {
		b = wire.AppendDoubleField(b, 4, r.Score)
	}
	for _, t := range r.Tags {
		b = wire.AppendStringField(b, 5, t)
	}
	if r.Flags != 0 {
		b = wire.AppendFixed32Field(b, 6, r.Flags)
	}
	return b
}

// ParseRecord decodes a Record, skipping fields it does not know. A field
// seen twice keeps its last value (tags append); a known field of the
// wrong wire type, or anything truncated, is an error.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	var d wire.Decoder
	d.Reset(b)
	for d.Next() {
		switch d.Number() {
		case 1:
			r.ID = d.Uvarint()
		case 2:
			r.Delta = d.Svarint()
		case 3:
			r.Name = d.String()
		case 4:
			r.Score = d.Double()
		case 5:
			r.Tags = append(r.Tags, d.String())
		case 6:
			r.Flags = d.Fixed32()
		default:
			d.Skip()
		}
	}
	if err := d.Err(); err != nil {
		return Record{}, err
	}
	r.Tags = slices.Clip(r.Tags)
	return r, nil
}
