package nemesis

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// controlEnv records the control messages the clock fault sends. The
// embedded Env (nil) stands for the faults the clock does not use.
type controlEnv struct {
	Env
	sent map[string][]map[string]any
}

func (e *controlEnv) Nodes() []string { return five }
func (e *controlEnv) Control(_ context.Context, node string, body map[string]any) error {
	if e.sent == nil {
		e.sent = map[string][]map[string]any{}
	}
	e.sent[node] = append(e.sent[node], body)
	return nil
}

func TestClockSkewsEveryNodeWithinBounds(t *testing.T) {
	env := &controlEnv{}
	c := Clock{MaxOffset: 50 * time.Millisecond, MaxDriftPPM: 20}
	rng := rand.New(rand.NewPCG(3, 4))
	f, v, err := c.Start(context.Background(), env, rng)
	if err != nil || f != "start-clock" {
		t.Fatalf("Start = %q, %v", f, err)
	}
	s := v.(ClockSettings)
	distinct := map[int64]bool{}
	for _, n := range five {
		set := s[n]
		if set.OffsetNS < -int64(50*time.Millisecond) || set.OffsetNS > int64(50*time.Millisecond) || set.DriftPPM < -20 || set.DriftPPM > 20 {
			t.Fatalf("%s: %+v beyond ±50ms, ±20ppm", n, set)
		}
		distinct[set.OffsetNS] = true
		msgs := env.sent[n]
		if len(msgs) != 1 || msgs[0]["type"] != ClockControlType || msgs[0]["offset_ns"] != set.OffsetNS || msgs[0]["drift_ppm"] != set.DriftPPM {
			t.Fatalf("%s was sent %v for setting %+v", n, msgs, set)
		}
	}
	if len(distinct) < 2 {
		t.Fatalf("every node got the same offset: %v", s)
	}
	if f, v, err := c.Stop(context.Background(), env); err != nil || f != "stop-clock" || v.(ClockSettings)["n3"] != (ClockSetting{}) {
		t.Fatalf("Stop = %q %v %v", f, v, err)
	}
	if last := env.sent["n3"][1]; last["offset_ns"] != int64(0) || last["drift_ppm"] != 0.0 {
		t.Fatalf("Stop sent %v, want a zero setting", last)
	}
	if b := c.Bound(10 * time.Second); b != 50*time.Millisecond+200*time.Microsecond {
		t.Fatalf("Bound(10s) = %v, want 50ms + 20ppm of 10s", b)
	}
}

func TestClockParseConfigureAndPlainEnv(t *testing.T) {
	faults, err := Parse("partition,clock")
	if err != nil || len(faults) != 2 || faults[1].Name() != "clock" {
		t.Fatalf("Parse = %v, %v", faults, err)
	}
	faults = ConfigureClock(faults, time.Second, 5)
	if c := faults[1].(Clock); c.MaxOffset != time.Second || c.MaxDriftPPM != 5 {
		t.Fatalf("configured %+v", c)
	}
	if _, ok := faults[0].(Partition); !ok {
		t.Fatalf("ConfigureClock changed the partition fault: %v", faults[0])
	}
	if off, drift := (Clock{}).limits(); off != DefaultClockOffset || drift != DefaultClockDriftPPM {
		t.Fatalf("zero Clock limits %v %v", off, drift)
	}
	// An Env that cannot send control messages: the step reports it.
	_, _, err = (Clock{}).Start(context.Background(), plainEnv{}, rand.New(rand.NewPCG(1, 1)))
	if err == nil {
		t.Fatal("Start without a Controller succeeded")
	}
}

// plainEnv is an Env that cannot send control messages.
type plainEnv struct{ Env }

func (plainEnv) Nodes() []string { return five }
