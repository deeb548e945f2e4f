// Package streamlog is the advanced track's first capstone: exactly-once
// stream processing on the logger track's replicated log. The stream
// workload's batches are appended, as frames, to one key of the
// replicated log (tracks/logger: a leader per key, an in-sync replica set,
// acks=all); the node leading that key runs the mapreducer track's
// windowed word count (tracks/mapreducer/stream) over the committed
// frames, writes the changed window counts to the grader's sink and then
// commits its consumer offset and its state together, in one
// compare-and-set of one lin-kv value. A kill between the sink write and
// that commit replays the same frames into the same state: the sink,
// keyed by window and word with absolute counts, absorbs the repeated
// write. A batch is acknowledged once the committed offset has passed it.
//
// This file is the frame format, pure: the log holds int64 messages, so a
// batch is JSON cut into 7-byte chunks behind a header.
package streamlog

import (
	"encoding/json"
	"fmt"

	"github.com/distsys-curriculum/distsys/tracks/mapreducer/stream"
)

// Batch is one batch of the stream workload's input.
type Batch struct {
	Seq    int64          `json:"seq"`
	Events []stream.Event `json:"events"`
	End    bool           `json:"end,omitempty"`
}

// A frame is a header message, negative (the top bit set, then the batch's
// seq in 39 bits and its payload's length in 24), followed by the payload
// in non-negative messages of 7 bytes each. The signs let a reader see
// where a torn frame stops: a leader killed while its followers had copied
// half of a frame leaves that half in the new leader's log, and the
// producer's retry starts a new frame (a new header) after it.
const (
	headerBit  = uint64(1) << 63
	lenBits    = 24
	seqBits    = 39
	chunkBytes = 7
)

// Encode cuts a batch into log messages.
func Encode(b Batch) ([]int64, error) {
	payload, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	if len(payload) >= 1<<lenBits || b.Seq < 0 || b.Seq >= 1<<seqBits {
		return nil, fmt.Errorf("streamlog: batch %d (%d bytes) does not fit a frame header", b.Seq, len(payload))
	}
	msgs := []int64{int64(headerBit | uint64(b.Seq)<<lenBits | uint64(len(payload)))}
	for i := 0; i < len(payload); i += chunkBytes {
		var c uint64
		for j := i; j < i+chunkBytes; j++ {
			c <<= 8
			if j < len(payload) {
				c |= uint64(payload[j])
			}
		}
		msgs = append(msgs, int64(c))
	}
	return msgs, nil
}

// Decoded is what Decode found in a run of messages.
type Decoded struct {
	Batches []Batch
	// Used: the messages consumed, whole frames and skipped debris; a
	// frame cut by the end of msgs is left for a later read.
	Used int
	// Torn counts frames cut short by a later header (or undecodable),
	// skipped.
	Torn int
}

// Decode reads frames from msgs, which start at a frame boundary.
func Decode(msgs []int64) Decoded {
	var d Decoded
	i := 0
	for i < len(msgs) {
		h := msgs[i]
		if h >= 0 { // a chunk without its header: debris, skipped
			i++
			d.Used = i
			continue
		}
		seq := int64(uint64(h) &^ headerBit >> lenBits)
		n := int(uint64(h) & (1<<lenBits - 1))
		chunks := (n + chunkBytes - 1) / chunkBytes
		torn := -1
		for j := i + 1; j < len(msgs) && j <= i+chunks; j++ {
			if msgs[j] < 0 {
				torn = j
				break
			}
		}
		if torn >= 0 {
			d.Torn++
			i = torn
			d.Used = i
			continue
		}
		if i+chunks >= len(msgs) {
			break // the rest of the frame is not readable yet
		}
		payload := make([]byte, 0, chunks*chunkBytes)
		for _, c := range msgs[i+1 : i+1+chunks] {
			for k := chunkBytes - 1; k >= 0; k-- {
				payload = append(payload, byte(uint64(c)>>(8*k)))
			}
		}
		i += 1 + chunks
		d.Used = i
		var b Batch
		if err := json.Unmarshal(payload[:n], &b); err != nil || b.Seq != seq {
			d.Torn++
			continue
		}
		d.Batches = append(d.Batches, b)
	}
	return d
}
