package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

var five = []string{"n0", "n1", "n2", "n3", "n4"}

func ignores(g map[string][]string, a, b string) bool { return slices.Contains(g[a], b) }

func TestGrudges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := Grudge("one", five, rng)
	alone := ""
	for n, ig := range g {
		if len(ig) == 4 {
			alone = n
		}
	}
	if alone == "" || len(g) != 5 {
		t.Fatalf("one: no node isolated from all others: %v", g)
	}
	for _, n := range five {
		if n != alone && !ignores(g, n, alone) {
			t.Fatalf("one: %s still hears the isolated %s: %v", n, alone, g)
		}
	}

	g = Grudge("majority", five, rng)
	sizes := map[int]int{}
	for _, ig := range g {
		sizes[len(ig)]++
	}
	if sizes[3] != 2 || sizes[2] != 3 {
		t.Fatalf("majority: want a 2|3 split, got %v", g)
	}
	if g := Grudge("minority-third", five, rng); len(g) != 5 {
		t.Fatalf("minority-third of 5 cuts one node off: %v", g)
	}
	if g := Grudge("minority-third", five[:3], rng); len(g) != 0 {
		t.Fatalf("minority-third of 3 is a no-op: %v", g)
	}

	g = Grudge("majorities-ring", five, rng)
	views := map[string]bool{}
	for _, n := range five {
		if len(g[n]) != 2 {
			t.Fatalf("majorities-ring: %s should see a majority of 3, ignores %v", n, g[n])
		}
		views[n+":"+g[n][0]+g[n][1]] = true
	}
	if len(views) != 5 {
		t.Fatalf("majorities-ring: views not distinct: %v", g)
	}
}

type fakeEnv struct {
	rules []map[string][]string
	down  map[string]bool
}

func (f *fakeEnv) Nodes() []string                 { return five }
func (f *fakeEnv) Partition(r map[string][]string) { f.rules = append(f.rules, r) }
func (f *fakeEnv) Heal()                           { f.rules = append(f.rules, nil) }
func (f *fakeEnv) Kill(_ context.Context, id string) error {
	if f.down == nil {
		f.down = map[string]bool{}
	}
	f.down[id] = true
	return nil
}
func (f *fakeEnv) Restart(_ context.Context, id string) error {
	if !f.down[id] {
		return fmt.Errorf("%s is not down", id)
	}
	delete(f.down, id)
	return nil
}

func TestScheduleAlternatesAndIsSeeded(t *testing.T) {
	run := func() []string {
		var steps []string
		synctest.Test(t, func(t *testing.T) {
			env := &fakeEnv{}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s := NewSchedule([]Fault{Partition{}}, 10*time.Second, 9)
			start := time.Now()
			var at []time.Duration
			s.Run(ctx, env, func(f string, v any) {
				steps = append(steps, f)
				at = append(at, time.Since(start))
			})
			s.StopAll(context.Background(), env, func(f string, v any) { steps = append(steps, f) })
			if at[0] != 0 {
				t.Errorf("first partition at %v, want at once", at[0])
			}
			for i := 1; i < len(at); i++ {
				if gap := at[i] - at[i-1]; gap > 20*time.Second {
					t.Errorf("gap %v above 2×interval", gap)
				}
			}
		})
		return steps
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different schedules:\n%v\n%v", a, b)
	}
	if len(a) < 4 || a[len(a)-1] != "stop-partition" {
		t.Fatalf("schedule %v: want several steps ending healed", a)
	}
	for i, f := range a {
		want := "start-partition"
		if i%2 == 1 {
			want = "stop-partition"
		}
		if f != want {
			t.Fatalf("step %d is %s, want %s: %v", i, f, want, a)
		}
	}
}

func TestParse(t *testing.T) {
	if f, err := Parse("partition"); err != nil || len(f) != 1 {
		t.Fatalf("Parse(partition) = %v, %v", f, err)
	}
	if f, err := Parse("partition,kill"); err != nil || len(f) != 2 {
		t.Fatalf("Parse(partition,kill) = %v, %v", f, err)
	}
	if _, err := Parse("partition,kill-everything"); err == nil {
		t.Fatal("unknown fault accepted")
	}
}

func TestKillRestartsWhatItKilled(t *testing.T) {
	env := &fakeEnv{}
	k := &Kill{}
	rng := rand.New(rand.NewPCG(4, 4))
	for range 20 {
		_, v, err := k.Start(context.Background(), env, rng)
		if err != nil || len(v.([]string)) == 0 || len(env.down) != len(v.([]string)) {
			t.Fatalf("start: %v %v, down %v", v, err, env.down)
		}
		if _, _, err := k.Stop(context.Background(), env); err != nil || len(env.down) != 0 {
			t.Fatalf("stop: %v, still down %v", err, env.down)
		}
	}
}

// pauseEnv is a fakeEnv that can also pause nodes.
type pauseEnv struct {
	fakeEnv
	paused map[string]bool
}

func (p *pauseEnv) Pause(_ context.Context, id string) error {
	if p.paused == nil {
		p.paused = map[string]bool{}
	}
	p.paused[id] = true
	return nil
}

func (p *pauseEnv) Resume(_ context.Context, id string) error {
	if !p.paused[id] {
		return fmt.Errorf("%s is not paused", id)
	}
	delete(p.paused, id)
	return nil
}

func TestPauseResumesWhatItPausedAndKeepsAMajority(t *testing.T) {
	env := &pauseEnv{}
	p := &Pause{}
	rng := rand.New(rand.NewPCG(5, 5))
	for range 20 {
		f, v, err := p.Start(context.Background(), env, rng)
		nodes := v.([]string)
		if f != "pause" || err != nil || len(nodes) == 0 || len(nodes) > 2 || len(env.paused) != len(nodes) {
			t.Fatalf("start: %s %v %v, paused %v", f, v, err, env.paused)
		}
		if f, _, err := p.Stop(context.Background(), env); f != "resume" || err != nil || len(env.paused) != 0 {
			t.Fatalf("stop: %s %v, still paused %v", f, err, env.paused)
		}
	}
	// A runner that cannot pause says so instead of pretending.
	if _, _, err := p.Start(context.Background(), &fakeEnv{}, rng); err == nil {
		t.Fatal("pause on a runner without Pauser did not fail")
	}
	if f, err := Parse("partition,kill,pause"); err != nil || len(f) != 3 {
		t.Fatalf("Parse(partition,kill,pause) = %v, %v", f, err)
	}
}

// The steps a seed draws (which fault, which nodes, which partition, and
// the gaps) do not depend on how fast the runner is: this is what lets
// --seed reproduce a process-mode run's fault schedule.
func TestMixedScheduleIsSeeded(t *testing.T) {
	run := func(seed uint64) []string {
		var steps []string
		synctest.Test(t, func(t *testing.T) {
			env := &pauseEnv{}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s := NewSchedule([]Fault{Partition{}, &Kill{}, &Pause{}}, 5*time.Second, seed)
			start := time.Now()
			rec := func(f string, v any) { steps = append(steps, fmt.Sprintf("%v %s %v", time.Since(start), f, v)) }
			s.Begin(ctx, env, rec)
			s.Run(ctx, env, rec)
			s.StopAll(context.Background(), env, rec)
			if len(env.down) != 0 || len(env.paused) != 0 {
				t.Errorf("after StopAll: down %v, paused %v", env.down, env.paused)
			}
		})
		return steps
	}
	a, b, c := run(3), run(3), run(4)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different schedules:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same schedule")
	}
	if len(a) < 6 || !strings.HasPrefix(a[0], "0s ") {
		t.Fatalf("schedule %v: want several steps, the first at once", a)
	}
}

// Every shape drawn for a node count cuts something; with 2 nodes one
// node is isolated.
func TestPartitionShapesCutSomething(t *testing.T) {
	for n := 1; n <= 7; n++ {
		nodes := make([]string, n)
		for i := range nodes {
			nodes[i] = fmt.Sprintf("n%d", i)
		}
		shapes := GrudgeShapes(n)
		if n >= 4 && len(shapes) != 4 || n == 2 && len(shapes) != 2 || n == 1 && len(shapes) != 0 {
			t.Fatalf("%d nodes: shapes %v", n, shapes)
		}
		for _, s := range shapes {
			for seed := range uint64(20) {
				if g := Grudge(s, nodes, rand.New(rand.NewPCG(seed, 1))); len(g) == 0 {
					t.Fatalf("%d nodes: shape %s cut nothing", n, s)
				}
			}
		}
	}
}
