package clocks

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
)

// Timestamp is a hybrid logical clock reading: Wall is the largest
// physical time (Unix nanoseconds) the clock has seen, Logical orders
// events that share a Wall. Timestamps order lexicographically. In JSON it
// is {"wall": <ns>, "logical": <n>}; wall exceeds 2^53, so readers in
// other languages must decode it as a 64-bit integer, not a double.
type Timestamp struct {
	Wall    int64  `json:"wall"`
	Logical uint32 `json:"logical"`
}

// Compare returns -1, 0 or +1 as t is before, equal to or after o.
func (t Timestamp) Compare(o Timestamp) int {
	if c := cmp.Compare(t.Wall, o.Wall); c != 0 {
		return c
	}
	return cmp.Compare(t.Logical, o.Logical)
}

// Less reports whether t is before o.
func (t Timestamp) Less(o Timestamp) bool { return t.Compare(o) < 0 }

// IsZero reports whether t is the zero timestamp.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

// String renders seconds.nanoseconds,logical, e.g. "1700000000.000000123,5".
func (t Timestamp) String() string {
	sec, ns := t.Wall/1e9, t.Wall%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	return fmt.Sprintf("%d.%09d,%d", sec, ns, t.Logical)
}

// UnmarshalJSON rejects a timestamp without a wall field, which would
// otherwise decode silently as the zero time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var raw struct {
		Wall    *int64 `json:"wall"`
		Logical uint32 `json:"logical"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Wall == nil {
		return errors.New("hlc timestamp: missing wall")
	}
	*t = Timestamp{Wall: *raw.Wall, Logical: raw.Logical}
	return nil
}

// DefaultMaxLogical bounds the logical counter. Kulkarni et al. show the
// counter stays small when physical clocks advance; it grows only while
// many events share one physical instant.
const DefaultMaxLogical = math.MaxUint16

// ErrClockOffset is returned by Update when a remote timestamp is further
// ahead of local physical time than the configured maximum offset.
var ErrClockOffset = errors.New("hlc: remote timestamp too far ahead of physical time")

// HLC is a hybrid logical clock (Kulkarni, Demirbas et al., "Logical
// Physical Clocks", 2014). Like a Lamport clock, if event a happens before
// b then HLC(a) < HLC(b); unlike one, its Wall stays close to physical
// time: it never falls behind the local physical clock and, with
// MaxOffset set, never runs more than MaxOffset ahead of it, because
// timestamps from further ahead are refused rather than adopted (one node
// with a wild clock cannot drag everyone's clocks into the future).
//
// The logical counter is bounded by MaxLogical. When an event would
// exceed it, Wall advances by one nanosecond and the counter restarts at
// 0: still strictly monotonic, at the price of leading physical time by a
// nanosecond per MaxLogical+1 events taken within one physical instant.
type HLC struct {
	clock      program.Clock
	maxOffset  time.Duration
	maxLogical uint32

	mu   sync.Mutex
	last Timestamp
}

// NewHLC returns a clock reading physical time from clock (the node's
// program.Clock; nil means the system clock). maxOffset is the largest
// clock offset the cluster tolerates; 0 disables the check.
func NewHLC(clock program.Clock, maxOffset time.Duration) *HLC {
	if clock == nil {
		clock = program.SystemClock{}
	}
	return &HLC{clock: clock, maxOffset: maxOffset, maxLogical: DefaultMaxLogical}
}

// SetMaxLogical changes the counter bound (at least 1); for tests and
// for protocols that pack the counter into fewer bits.
func (h *HLC) SetMaxLogical(n uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.maxLogical = max(n, 1)
}

// Last returns the most recent timestamp issued, without an event.
func (h *HLC) Last() Timestamp {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Now records a local or send event and returns its timestamp.
func (h *HLC) Now() Timestamp {
	pt := h.clock.Now().UnixNano()
	h.mu.Lock()
	defer h.mu.Unlock()
	if pt > h.last.Wall {
		h.last = Timestamp{Wall: pt}
	} else {
		h.bump(h.last.Logical)
	}
	return h.last
}

// Send is Now: the returned timestamp travels with the message.
func (h *HLC) Send() Timestamp { return h.Now() }

// Update records the receipt of a message stamped remote and returns the
// receive event's timestamp, which is after both remote and every earlier
// local timestamp. If remote is more than MaxOffset ahead of local
// physical time the clock is left unchanged and the error wraps
// ErrClockOffset; the caller should drop the message (or reply with an
// error) rather than act on it.
func (h *HLC) Update(remote Timestamp) (Timestamp, error) {
	pt := h.clock.Now().UnixNano()
	if h.maxOffset > 0 && remote.Wall-pt > int64(h.maxOffset) {
		return h.Last(), fmt.Errorf("%w: remote %v, local physical %d ns behind (max %v)",
			ErrClockOffset, remote, remote.Wall-pt, h.maxOffset)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch wall := max(h.last.Wall, remote.Wall, pt); {
	case wall == h.last.Wall && wall == remote.Wall:
		h.bump(max(h.last.Logical, remote.Logical))
	case wall == h.last.Wall:
		h.bump(h.last.Logical)
	case wall == remote.Wall:
		h.last = remote
		h.bump(remote.Logical)
	default:
		h.last = Timestamp{Wall: pt}
	}
	return h.last, nil
}

// bump sets the counter to c+1 on the current wall, or moves to the next
// nanosecond when that would pass the bound.
func (h *HLC) bump(c uint32) {
	if c >= h.maxLogical {
		h.last = Timestamp{Wall: h.last.Wall + 1}
		return
	}
	h.last.Logical = c + 1
}
