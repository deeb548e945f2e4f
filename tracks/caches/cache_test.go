package caches

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
)

func v(x int64) *int64 { return &x }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestCache(t *testing.T, ttl time.Duration) (*Cache, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c, err := NewCache("lru", 10, ttl, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

// TestStaleSetRefused is the race leases exist for: a fill reads version 1
// from the store, a write of version 2 lands (and invalidates), then the
// slow fill comes back. Installing it would serve version 1 after version
// 2 was acknowledged.
func TestStaleSetRefused(t *testing.T) {
	c, clk := newTestCache(t, 0)
	_, hit, l, lead := c.Get(7)
	if hit || !lead {
		t.Fatal("first reader of a missing key must lead the fill")
	}
	c.Invalidate(7, 2) // a peer's write, version 2
	if c.Fill(l, Entry{Value: v(10), Version: 1}, clk.Now()) {
		t.Fatal("a fill voided by an invalidation was installed")
	}
	if got, ok := l.Result(); !ok || *got.Value != 10 {
		t.Fatal("the fill's own waiters lost its result")
	}
	// The next reader misses and takes a fresh lease. If its fill
	// returns an old version (a lagging store replica), the version
	// floor refuses it.
	_, hit, l2, lead := c.Get(7)
	if hit {
		t.Fatal("key cached after a refused fill")
	}
	if !lead {
		t.Fatal("no fresh lease after the void")
	}
	if c.Fill(l2, Entry{Value: v(10), Version: 1}, clk.Now()) {
		t.Fatal("a fill below the invalidated version was installed")
	}
	_, _, l3, _ := c.Get(7)
	if !c.Fill(l3, Entry{Value: v(20), Version: 2}, clk.Now()) {
		t.Fatal("a current fill was refused")
	}
	if e, hit, _, _ := c.Get(7); !hit || *e.Value != 20 {
		t.Fatalf("want a hit on version 2, got %+v %v", e, hit)
	}
}

// TestHerdWaitsForOneFill: many readers miss the same key at once; one
// leads, the rest wait on its lease and share its result.
func TestHerdWaitsForOneFill(t *testing.T) {
	c, clk := newTestCache(t, 0)
	_, _, lead, ok := c.Get(1)
	if !ok {
		t.Fatal("no lead")
	}
	var wg sync.WaitGroup
	got := make([]int64, 20)
	for i := range got {
		_, hit, l, leads := c.Get(1)
		if hit || leads || l != lead {
			t.Fatalf("reader %d: hit %v, leads %v: want to wait on the first lease", i, hit, leads)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-l.Done()
			e, _ := l.Result()
			got[i] = *e.Value
		}()
	}
	c.Fill(lead, Entry{Value: v(5), Version: 3}, clk.Now())
	wg.Wait()
	for i, g := range got {
		if g != 5 {
			t.Fatalf("reader %d got %d", i, g)
		}
	}
	if s := c.Stats(); s.Fills != 1 || s.Waits != 20 {
		t.Fatalf("stats %+v: want one fill and 20 waits", s)
	}
}

func TestAbandonedLeaseLetsAnotherLead(t *testing.T) {
	c, _ := newTestCache(t, 0)
	_, _, l, _ := c.Get(1)
	_, _, w, lead := c.Get(1)
	if lead || w != l {
		t.Fatal("second reader should wait")
	}
	c.Abandon(l)
	<-w.Done()
	if _, ok := w.Result(); ok {
		t.Fatal("an abandoned lease has no result")
	}
	if _, _, _, lead := c.Get(1); !lead {
		t.Fatal("after an abandoned fill the next reader must lead")
	}
}

func TestWriteThroughKeepsNewestVersion(t *testing.T) {
	c, clk := newTestCache(t, 0)
	c.Wrote(1, Entry{Value: v(2), Version: 2}, clk.Now())
	c.Wrote(1, Entry{Value: v(1), Version: 1}, clk.Now()) // an older write acknowledged late
	if e, hit, _, _ := c.Get(1); !hit || e.Version != 2 {
		t.Fatalf("got %+v, want version 2", e)
	}
	c.Invalidate(1, 3)
	if _, hit, _, _ := c.Get(1); hit {
		t.Fatal("entry survived an invalidation with a newer version")
	}
}

// TestTTLCountsFromTheAsk: an entry asked for at t expires at t+ttl, even
// though its answer arrived later.
func TestTTLCountsFromTheAsk(t *testing.T) {
	c, clk := newTestCache(t, 500*time.Millisecond)
	asked := clk.Now()
	_, _, l, _ := c.Get(1)
	clk.Add(200 * time.Millisecond) // the store's latency
	c.Fill(l, Entry{Value: v(1), Version: 1}, asked)
	clk.Add(299 * time.Millisecond)
	if _, hit, _, _ := c.Get(1); !hit {
		t.Fatal("expired early")
	}
	clk.Add(time.Millisecond)
	if _, hit, _, _ := c.Get(1); hit {
		t.Fatal("alive 500 ms after the ask")
	}
}

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"--policy", "lfu", "--capacity", "5", "--ttl", "1s", "--invalidate", "versions"})
	if err != nil || o.Policy != "lfu" || o.Capacity != 5 || o.TTL != time.Second || !o.Invalidate {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--tier", "cloud"}, {"--invalidate", "versions", "--tier", "global"}, {"--write", "back"},
		{"--capacity", "0"}, {"extra"},
	} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// The policy name is checked where the cache is built.
	if _, err := NewCache("fifo", 1, 0, time.Now); err == nil {
		t.Error("policy fifo accepted")
	}
}

// TestBadRequests: a read without a key, an unknown type and a line of
// garbage get errors, and the node keeps serving.
func TestBadRequests(t *testing.T) {
	c := nodetest.Start(t, node.Program(Configure), nil, nil)
	c.Send("c0", "n0", `{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}`)
	c.Send("c1", "n0", `{"type":"read","msg_id":2}`)
	c.Send("c1", "n0", `{"type":"frobnicate","msg_id":3}`)
	c.Line(`{not json`)
	c.Send("c1", "n0", `{"type":"invalidate","msg_id":4,"key":1,"version":2}`)
	var out []string
	for range 4 {
		line, err := c.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	all := strings.Join(out, "")
	for _, want := range []string{`"init_ok"`, `"code":12`, `"code":10`, `"invalidate_ok"`} {
		if !strings.Contains(all, want) {
			t.Errorf("replies lack %s:\n%s", want, all)
		}
	}
}
