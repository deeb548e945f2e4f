package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of the clock fault (--clock-skew, --clock-drift).
const (
	DefaultClockOffset   = 300 * time.Millisecond
	DefaultClockDriftPPM = 100.0
)

// ControlSource is the network id the grader's control messages come
// from; the runner registers it as an endpoint.
const ControlSource = "nemesis"

// ClockControlType is the body type of the clock control message.
const ClockControlType = "maelstrom_clock"

// Controller is implemented by an Env that can send control messages to
// nodes from ControlSource (no reply expected).
type Controller interface {
	Control(ctx context.Context, node string, body map[string]any) error
}

// ClockSetting is one node's clock skew: its physical clock reads
// true time + OffsetNS, gaining DriftPPM parts per million of the time
// elapsed since the setting arrived.
type ClockSetting struct {
	OffsetNS int64   `json:"offset_ns"`
	DriftPPM float64 `json:"drift_ppm"`
}

// ClockSettings is the history value of a clock step: node -> setting.
type ClockSettings map[string]ClockSetting

// Clock skews every node's physical clock: on start each node gets an
// offset uniform in ±MaxOffset and a drift uniform in ±MaxDriftPPM; on
// stop every clock is set right again. It reaches nodes through the
// control message
//
//	{"type":"maelstrom_clock","offset_ns":<int>,"drift_ppm":<float>}
//
// from src "nemesis", which the node runtime applies to its Clock().
// Nodes that ignore the message keep true time, so the fault is harmless
// to them; it exists to expose code that trusts physical timestamps.
type Clock struct {
	MaxOffset   time.Duration // 0 means DefaultClockOffset
	MaxDriftPPM float64       // 0 means DefaultClockDriftPPM
}

// Name returns "clock".
func (Clock) Name() string { return "clock" }

func (c Clock) limits() (time.Duration, float64) {
	off, drift := c.MaxOffset, c.MaxDriftPPM
	if off <= 0 {
		off = DefaultClockOffset
	}
	if drift <= 0 {
		drift = DefaultClockDriftPPM
	}
	return off, drift
}

// Bound is the largest distance between a node's clock and true time that
// the fault can cause over a period of length elapsed: the offset bound
// plus the drift accumulated.
func (c Clock) Bound(elapsed time.Duration) time.Duration {
	off, drift := c.limits()
	return off + time.Duration(float64(elapsed)*drift/1e6)
}

// Start gives every node a new random offset and drift; the value is the
// ClockSettings sent.
func (c Clock) Start(ctx context.Context, env Env, rng *rand.Rand) (string, any, error) {
	off, drift := c.limits()
	s := ClockSettings{}
	for _, id := range env.Nodes() {
		s[id] = ClockSetting{
			OffsetNS: rng.Int64N(2*int64(off)+1) - int64(off),
			DriftPPM: (2*rng.Float64() - 1) * drift,
		}
	}
	return "start-clock", s, apply(ctx, env, s)
}

// Stop resets every node's clock to true time.
func (c Clock) Stop(ctx context.Context, env Env) (string, any, error) {
	s := ClockSettings{}
	for _, id := range env.Nodes() {
		s[id] = ClockSetting{}
	}
	return "stop-clock", s, apply(ctx, env, s)
}

func apply(ctx context.Context, env Env, s ClockSettings) error {
	ctl, ok := env.(Controller)
	if !ok {
		return errors.New("this runner cannot send control messages to nodes")
	}
	var errs []error
	for _, id := range env.Nodes() {
		set := s[id]
		body := map[string]any{"type": ClockControlType, "offset_ns": set.OffsetNS, "drift_ppm": set.DriftPPM}
		if err := ctl.Control(ctx, id, body); err != nil {
			errs = append(errs, fmt.Errorf("clock of %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// ConfigureClock returns faults with every Clock fault given the limits
// (zero keeps a default), for the runner's --clock-skew and --clock-drift.
func ConfigureClock(faults []Fault, maxOffset time.Duration, maxDriftPPM float64) []Fault {
	out := make([]Fault, len(faults))
	for i, f := range faults {
		if _, ok := f.(Clock); ok {
			f = Clock{MaxOffset: maxOffset, MaxDriftPPM: maxDriftPPM}
		}
		out[i] = f
	}
	return out
}
