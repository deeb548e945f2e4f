package idgen

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/clocks/clockstest"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"pgregory.net/rapid"
)

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, name, node string, clock program.Clock, dir string) Generator {
	t.Helper()
	g, err := New(name, node, clock, storage.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func next(t testing.TB, g Generator) any {
	t.Helper()
	id, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// less orders two ids of one time-ordered strategy.
func less(a, b any) bool {
	switch a := a.(type) {
	case int64:
		return a < b.(int64)
	case string:
		return a < b.(string)
	}
	panic(fmt.Sprintf("id of type %T", a))
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, err := New("nope", "n0", nil, storage.OS, ""); err == nil {
		t.Error("unknown strategy accepted")
	}
	if _, err := New("counter-durable", "n0", nil, storage.OS, ""); err != ErrNoDataDir {
		t.Errorf("counter-durable without a dir: %v", err)
	}
	for _, bad := range []string{"n", "n1024", "node-x", ""} {
		if _, err := New("snowflake", bad, nil, storage.OS, ""); err == nil {
			t.Errorf("snowflake accepted node %q", bad)
		}
	}
	for id, want := range map[string]int{"n0": 0, "n7": 7, "node-1023": 1023} {
		if got, err := NodeNumber(id); err != nil || got != want {
			t.Errorf("NodeNumber(%q) = %d, %v", id, got, err)
		}
	}
	for _, name := range Strategies() {
		mustNew(t, name, "n1", clockstest.NewManual(start), t.TempDir())
	}
}

// TestCounterRepeatsAfterRestart pins down the counter-example: the
// in-memory counter is unique within a run and repeats itself after one.
func TestCounterRepeatsAfterRestart(t *testing.T) {
	g := mustNew(t, "counter", "n2", nil, "")
	if a, b := next(t, g), next(t, g); a != "n2-0" || b != "n2-1" {
		t.Fatalf("ids %v %v", a, b)
	}
	if again := next(t, mustNew(t, "counter", "n2", nil, "")); again != "n2-0" {
		t.Fatalf("a restarted counter issued %v", again)
	}
}

func TestDurableCounterNeverRepeatsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	seen := make(map[any]bool)
	top := -1
	for restart := range 4 {
		g := mustNew(t, "counter-durable", "n0", nil, dir)
		// Restarts land at arbitrary points inside a block.
		for range 700 * (restart + 1) {
			id := next(t, g)
			if seen[id] {
				t.Fatalf("restart %d reissued %v", restart, id)
			}
			seen[id] = true
			var n int
			if _, err := fmt.Sscanf(id.(string), "n0-%d", &n); err != nil {
				t.Fatalf("id %v: %v", id, err)
			}
			top = max(top, n)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "idgen-counter"))
	if err != nil {
		t.Fatal(err)
	}
	// The reservation covers every issued value and at most one block more.
	var reserved int
	if _, err := fmt.Sscanf(string(b), "%d", &reserved); err != nil || reserved <= top || reserved > top+DurableBlock {
		t.Fatalf("reservation file holds %q after issuing up to %d", b, top)
	}
}

func TestUUIDFormatAndUniqueness(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := make(map[any]bool)
	for range 10000 {
		id := next(t, UUID{})
		if !re.MatchString(id.(string)) {
			t.Fatalf("%v is not a v4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("repeated %v", id)
		}
		seen[id] = true
	}
}

func TestSnowflakeLayout(t *testing.T) {
	clk := clockstest.NewManual(start)
	g := mustNew(t, "snowflake", "n5", clk, "")
	ms, node, seq := SplitSnowflake(next(t, g).(int64))
	if want := start.UnixMilli() - SnowflakeEpoch; ms != want || node != 5 || seq != 0 {
		t.Fatalf("split = %d %d %d, want %d 5 0", ms, node, seq, want)
	}
	if _, _, seq := SplitSnowflake(next(t, g).(int64)); seq != 1 {
		t.Fatalf("second id in the same ms has seq %d", seq)
	}
}

func TestSnowflakeExhaustionBorrowsNextMillisecond(t *testing.T) {
	clk := clockstest.NewManual(start)
	g := mustNew(t, "snowflake", "n1", clk, "")
	ms0 := start.UnixMilli() - SnowflakeEpoch
	var last int64 = -1
	for i := range MaxSeq + 3 {
		id := next(t, g).(int64)
		if id <= last {
			t.Fatalf("id %d not above %d", id, last)
		}
		last = id
		ms, _, seq := SplitSnowflake(id)
		want := ms0
		if i > MaxSeq {
			want = ms0 + 1
		}
		if ms != want || seq != i%(MaxSeq+1) {
			t.Fatalf("id %d: ms %d seq %d, want ms %d seq %d", i, ms, seq, want, i%(MaxSeq+1))
		}
	}
	// The real next millisecond arriving continues after the borrowed ids.
	clk.Add(time.Millisecond)
	if ms, _, seq := SplitSnowflake(next(t, g).(int64)); ms != ms0+1 || seq != 2 {
		t.Fatalf("after the clock caught up: ms %d seq %d", ms, seq)
	}
}

func TestULIDFormatAndOverflow(t *testing.T) {
	clk := clockstest.NewManual(start)
	g, err := NewULID(clk, storage.OS, "")
	if err != nil {
		t.Fatal(err)
	}
	id := next(t, g).(string)
	if !regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`).MatchString(id) {
		t.Fatalf("%q is not a ULID", id)
	}
	if ms, ok := ULIDTime(id); !ok || ms != start.UnixMilli() {
		t.Fatalf("ULIDTime(%q) = %d, %v", id, ms, ok)
	}
	if got := encodeULID(1, 0, 1); got != "0000000001"+"0000000000000001" {
		t.Fatalf("encodeULID(1,0,1) = %s", got)
	}
	if got := encodeULID(1<<48-1, 0xffff, ^uint64(0)); got != "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		t.Fatalf("largest ULID = %s", got)
	}
	// Random part about to overflow: the next id borrows the next ms.
	g.mu.Lock()
	g.randHi, g.randLo = 0xffff, ^uint64(0)-1
	g.mu.Unlock()
	a, b := next(t, g).(string), next(t, g).(string)
	msA, _ := ULIDTime(a)
	msB, _ := ULIDTime(b)
	if msA != start.UnixMilli() || msB != start.UnixMilli()+1 || !(a < b) {
		t.Fatalf("overflow: %s (%d) then %s (%d)", a, msA, b, msB)
	}
}

// TestTimeOrderedStrictlyIncrease drives the clock forwards, backwards and
// not at all, with restarts, and checks a node's ids always increase.
func TestTimeOrderedStrictlyIncrease(t *testing.T) {
	for _, name := range []string{"snowflake", "ulid"} {
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				dir := t.TempDir()
				clk := clockstest.NewManual(start)
				g := mustNew(t, name, "n3", clk, dir)
				var last any
				for range rapid.IntRange(1, 50).Draw(rt, "steps") {
					switch rapid.IntRange(0, 5).Draw(rt, "action") {
					case 0:
						clk.Add(time.Duration(rapid.IntRange(1, 3000).Draw(rt, "forward")) * time.Millisecond)
					case 1:
						clk.Add(-time.Duration(rapid.IntRange(1, 5000).Draw(rt, "back")) * time.Millisecond)
					case 2:
						// Kill and restart, possibly on a clock that went back.
						g = mustNew(t, name, "n3", clk, dir)
					default:
						for range rapid.IntRange(1, 20).Draw(rt, "burst") {
							id := next(t, g)
							if last != nil && !less(last, id) {
								rt.Fatalf("%v after %v", id, last)
							}
							last = id
						}
					}
				}
			})
		})
	}
}

func TestSnowflakeRestartAfterBackwardsClock(t *testing.T) {
	dir := t.TempDir()
	clk := clockstest.NewManual(start)
	g := mustNew(t, "snowflake", "n0", clk, dir)
	var last int64
	for range 10 {
		last = next(t, g).(int64)
	}
	clk.Add(-time.Hour)
	g = mustNew(t, "snowflake", "n0", clk, dir)
	if id := next(t, g).(int64); id <= last {
		t.Fatalf("after restart on an earlier clock: %d, last before %d", id, last)
	}
	// Without a data directory the same restart goes back in time.
	clk = clockstest.NewManual(start)
	g = mustNew(t, "snowflake", "n0", clk, "")
	last = next(t, g).(int64)
	clk.Add(-time.Hour)
	g = mustNew(t, "snowflake", "n0", clk, "")
	if id := next(t, g).(int64); id >= last {
		t.Fatalf("memory-only restart did not go back: %d vs %d", id, last)
	}
}

func TestConcurrentNextIsUnique(t *testing.T) {
	for _, name := range Strategies() {
		t.Run(name, func(t *testing.T) {
			g := mustNew(t, name, "n4", clockstest.NewManual(start), t.TempDir())
			var mu sync.Mutex
			seen := make(map[any]bool)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 1000 {
						id, err := g.Next()
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if seen[id] {
							t.Errorf("repeated %v", id)
						}
						seen[id] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		})
	}
}

func BenchmarkNext(b *testing.B) {
	for _, name := range Strategies() {
		b.Run(name, func(b *testing.B) {
			g := mustNew(b, name, "n1", nil, b.TempDir())
			for b.Loop() {
				if _, err := g.Next(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ids/s")
		})
	}
}
