package idgen

import (
	"errors"
	"fmt"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Snowflake id layout, from the most significant bit: a zero sign bit, 41
// bits of milliseconds since SnowflakeEpoch (about 69 years), 10 bits of
// node number, 12 bits of sequence within the millisecond.
const (
	timeBits = 41
	nodeBits = 10
	seqBits  = 12
	// MaxSeq is the last sequence number of a millisecond.
	MaxSeq = 1<<seqBits - 1
	// SnowflakeEpoch is the Unix millisecond that snowflake time counts
	// from (2024-01-01T00:00:00Z).
	SnowflakeEpoch int64 = 1_704_067_200_000
)

// timeLease is how many milliseconds past the last issued id's time the
// persisted high-water mark runs. Larger means fewer disk writes and a
// larger jump of id time after a restart.
const timeLease = 1000

// ErrTimeOverflow is returned once id time no longer fits its bits.
var ErrTimeOverflow = errors.New("idgen: id time overflows its bits")

// Snowflake issues 63-bit integer ids ordered by time. Within one node ids
// strictly increase:
//
//   - Several ids in one millisecond take sequence numbers 0, 1, 2, ...
//   - When a millisecond's 4096 sequence numbers run out, the generator
//     borrows the next millisecond rather than sleeping until it arrives.
//   - When the clock reads earlier than the last id's millisecond (NTP
//     stepped it back, or the clock nemesis did), the generator keeps the
//     last millisecond and goes on counting — a logical advance, so ids
//     briefly run ahead of the clock — instead of refusing service or
//     reusing an earlier time.
//   - It persists a high-water mark of id time (timeLease ahead, so one
//     write covers a second of ids) and resumes past it after a restart.
//
// Ids from different nodes differ in their node bits. Encoded as JSON they
// are integers up to 2^63, beyond float64's exact range: readers must
// decode them as 64-bit integers.
type Snowflake struct {
	node  int64
	clock program.Clock
	mu    sync.Mutex
	ms    int64 // time of the last id, ms since SnowflakeEpoch
	seq   int64 // sequence of the last id
	hw    *mark
}

// NewSnowflake returns node's generator, resuming from dir when it holds
// a high-water mark (dir "" keeps nothing across restarts).
func NewSnowflake(node int, clock program.Clock, fsys storage.FS, dir string) (*Snowflake, error) {
	if node < 0 || node > MaxNode {
		return nil, fmt.Errorf("idgen: snowflake node %d out of range 0..%d", node, MaxNode)
	}
	hw, err := loadMark(fsys, dir, "idgen-snowflake")
	if err != nil {
		return nil, err
	}
	// Start as if the last id used the mark's millisecond and exhausted
	// it, so the first id lands strictly after anything issued before.
	return &Snowflake{node: int64(node), clock: clock, ms: hw.value - 1, seq: MaxSeq, hw: hw}, nil
}

// Next implements Generator. The id is an int64.
func (s *Snowflake) Next() (any, error) {
	id, err := s.NextID()
	if err != nil {
		return nil, err
	}
	return id, nil
}

// NextID returns the next id as an int64.
func (s *Snowflake) NextID() (int64, error) {
	now := s.clock.Now().UnixMilli() - SnowflakeEpoch
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, seq := s.ms, s.seq
	if now > ms {
		ms, seq = now, 0
	} else if seq++; seq > MaxSeq {
		ms, seq = ms+1, 0
	}
	if ms >= 1<<timeBits {
		return 0, ErrTimeOverflow
	}
	if ms >= s.hw.value {
		if err := s.hw.store(ms + timeLease); err != nil {
			return 0, err
		}
	}
	s.ms, s.seq = ms, seq
	return ms<<(nodeBits+seqBits) | s.node<<seqBits | seq, nil
}

// SplitSnowflake decodes an id into its millisecond (since
// SnowflakeEpoch), node and sequence.
func SplitSnowflake(id int64) (ms int64, node, seq int) {
	return id >> (nodeBits + seqBits), int(id>>seqBits) & MaxNode, int(id) & MaxSeq
}
