package node

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
)

// Control messages: the grader's clock nemesis skews a node's physical
// clock by sending it, from the reserved source ControlSource, a body
//
//	{"type":"maelstrom_clock","offset_ns":<int>,"drift_ppm":<float>}
//
// with no msg_id and no reply expected. The runtime applies it to Clock()
// and never passes it to handlers, so every track reads skewed time without
// knowing about the fault. Nodes written in other languages honour the same
// message to be graded under the clock nemesis.
const (
	// ControlSource is the src of the grader's control messages.
	ControlSource = "nemesis"
	// ClockControlType is the type of the clock control message.
	ClockControlType = "maelstrom_clock"
)

// ClockControl is the body of a clock control message.
type ClockControl struct {
	Type     string  `json:"type"`
	OffsetNS int64   `json:"offset_ns"`
	DriftPPM float64 `json:"drift_ppm"`
}

// skewClock is a physical clock that runs offset ahead of its base and
// gains drift parts per million of the base time elapsed since the setting
// arrived. A new setting replaces the old one outright: the clock may jump,
// backwards too, as a real clock stepped by NTP or an operator does.
type skewClock struct {
	base program.Clock

	mu     sync.Mutex
	offset time.Duration
	drift  float64   // ppm
	since  time.Time // base reading when the setting was applied
}

func newSkewClock(base program.Clock) *skewClock { return &skewClock{base: base} }

// Now returns the base time plus the offset and the drift accumulated.
func (c *skewClock) Now() time.Time {
	b := c.base.Now()
	c.mu.Lock()
	offset, drift, since := c.offset, c.drift, c.since
	c.mu.Unlock()
	if offset == 0 && drift == 0 {
		return b
	}
	gained := time.Duration(float64(b.Sub(since)) * drift / 1e6)
	return b.Add(offset + gained)
}

func (c *skewClock) set(offset time.Duration, driftPPM float64) {
	b := c.base.Now()
	c.mu.Lock()
	c.offset, c.drift, c.since = offset, driftPPM, b
	c.mu.Unlock()
}

// control handles a grader control message; it reports whether msg was one
// (and so must not reach the handlers).
func (n *Node) control(msg Message, typ string) bool {
	if msg.Src != ControlSource || typ != ClockControlType {
		return false
	}
	var body ClockControl
	if err := json.Unmarshal(msg.Body, &body); err != nil {
		n.Logger().Warn("skipping malformed clock control message", "err", err, "body", truncate(msg.Body))
		return true
	}
	sc, ok := n.clock.(*skewClock)
	if !ok {
		return true
	}
	sc.set(time.Duration(body.OffsetNS), body.DriftPPM)
	n.Logger().Info("clock skewed by the grader", "offset", time.Duration(body.OffsetNS), "drift_ppm", body.DriftPPM)
	return true
}
