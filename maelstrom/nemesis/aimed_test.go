package nemesis

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// leaderEnv is a fakeEnv that knows its leader.
type leaderEnv struct {
	fakeEnv
	leader string
}

func (e *leaderEnv) Leader() string { return e.leader }

func TestAimedFaultsHitTheirRole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		env := &leaderEnv{leader: "n2"}
		_, g, _ := PartitionLeader{}.Start(context.Background(), env, rng)
		if rules := g.(map[string][]string); len(rules["n2"]) != 4 {
			t.Fatalf("partition-leader: the leader n2 still hears someone: %v", rules)
		}
		k := &KillLeader{}
		if _, v, _ := k.Start(context.Background(), env, rng); !env.down["n2"] || len(v.([]string)) != 1 {
			t.Fatalf("kill-leader killed %v, want n2", v)
		}
		k.Stop(context.Background(), env)
		f := &IsolateFollower{}
		_, v, _ := f.Start(context.Background(), env, rng)
		iso := v.([]string)
		if len(iso) != 1 || iso[0] == "n2" || len(env.rules[len(env.rules)-1][iso[0]]) != 4 {
			t.Fatalf("isolate-follower cut off %v (rules %v), want one node other than the leader n2", iso, env.rules[len(env.rules)-1])
		}
	}
}

// An aimed fault lasts at least its Hold and is followed by at least as
// much health; with Tail every fault stops Tail before the deadline, and
// one that could not last its Hold before then is not started at all.
func TestScheduleHoldsAndQuietTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := &leaderEnv{leader: "n0"}
		s := NewSchedule([]Fault{&IsolateFollower{}}, 500*time.Millisecond, 9)
		s.Tail = 4 * time.Second
		start := time.Now()
		var steps []time.Duration
		var last string
		rec := func(f string, _ any) { steps = append(steps, time.Since(start)); last = f }
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Begin(ctx, env, rec)
		s.Run(ctx, env, rec)
		if len(steps) < 4 {
			t.Fatalf("only %d steps in 30 s", len(steps))
		}
		for i := 1; i < len(steps); i++ {
			if gap := steps[i] - steps[i-1]; gap < AimedHold {
				t.Fatalf("step %d came %v after the one before: want at least %v", i, gap, AimedHold)
			}
		}
		if end := steps[len(steps)-1]; end > 26*time.Second || last != "stop-isolate" {
			t.Fatalf("last step %q at %v: want every fault stopped by 26 s (a 4 s quiet tail)", last, end)
		}
	})
}
