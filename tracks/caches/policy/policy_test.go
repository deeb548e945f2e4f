package policy

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// lruModel is LRU in a few obvious lines: a slice, most recent last.
type lruModel struct {
	cap  int
	keys []int
	vals map[int]int
}

func (m *lruModel) use(k int) {
	m.keys = slices.DeleteFunc(m.keys, func(x int) bool { return x == k })
	m.keys = append(m.keys, k)
}

func (m *lruModel) get(k int) (int, bool) {
	v, ok := m.vals[k]
	if ok {
		m.use(k)
	}
	return v, ok
}

func (m *lruModel) set(k, v int) {
	if _, ok := m.vals[k]; !ok && len(m.keys) >= m.cap {
		delete(m.vals, m.keys[0])
		m.keys = m.keys[1:]
	}
	m.vals[k] = v
	m.use(k)
}

func (m *lruModel) del(k int) bool {
	_, ok := m.vals[k]
	delete(m.vals, k)
	m.keys = slices.DeleteFunc(m.keys, func(x int) bool { return x == k })
	return ok
}

// lfuModel scans every entry for the smallest (count, last use).
type lfuModel struct {
	cap  int
	tick int
	vals map[int]int
	freq map[int]int
	last map[int]int
}

func (m *lfuModel) use(k int) {
	m.tick++
	m.freq[k]++
	m.last[k] = m.tick
}

func (m *lfuModel) get(k int) (int, bool) {
	v, ok := m.vals[k]
	if ok {
		m.use(k)
	}
	return v, ok
}

func (m *lfuModel) set(k, v int) {
	if _, ok := m.vals[k]; !ok && len(m.vals) >= m.cap {
		victim, first := 0, true
		for x := range m.vals {
			if first || m.freq[x] < m.freq[victim] || (m.freq[x] == m.freq[victim] && m.last[x] < m.last[victim]) {
				victim, first = x, false
			}
		}
		m.del(victim)
	}
	m.vals[k] = v
	m.use(k)
}

func (m *lfuModel) del(k int) bool {
	_, ok := m.vals[k]
	delete(m.vals, k)
	delete(m.freq, k)
	delete(m.last, k)
	return ok
}

type model interface {
	get(k int) (int, bool)
	set(k, v int)
	del(k int) bool
}

// against runs random Get/Set/Delete sequences on c and m and demands the
// same answers and sizes after every step.
func against(t *rapid.T, c Cache[int, int], m model, size func() int) {
	keys := rapid.IntRange(0, 12)
	steps := rapid.IntRange(1, 300).Draw(t, "steps")
	for i := range steps {
		k := keys.Draw(t, "key")
		switch rapid.IntRange(0, 9).Draw(t, "op") {
		case 0, 1, 2, 3, 4:
			v, ok := c.Get(k)
			mv, mok := m.get(k)
			if ok != mok || v != mv {
				t.Fatalf("step %d: Get(%d) = %d,%v; model says %d,%v", i, k, v, ok, mv, mok)
			}
		case 5, 6, 7, 8:
			c.Set(k, i)
			m.set(k, i)
		case 9:
			if got, want := c.Delete(k), m.del(k); got != want {
				t.Fatalf("step %d: Delete(%d) = %v, model %v", i, k, got, want)
			}
		}
		if c.Len() != size() {
			t.Fatalf("step %d: Len %d, model %d", i, c.Len(), size())
		}
	}
}

func TestLRUMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 8).Draw(t, "cap")
		m := &lruModel{cap: capacity, vals: map[int]int{}}
		against(t, NewLRU[int, int](capacity), m, func() int { return len(m.keys) })
	})
}

func TestLFUMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 8).Draw(t, "cap")
		m := &lfuModel{cap: capacity, vals: map[int]int{}, freq: map[int]int{}, last: map[int]int{}}
		against(t, NewLFU[int, int](capacity), m, func() int { return len(m.vals) })
	})
}

// ttlModel is the LRU model plus an expiry per key, read lazily.
type ttlModel struct {
	lruModel
	expires map[int]time.Time
	now     *time.Time
	ttl     time.Duration
}

func (m *ttlModel) get(k int) (int, bool) {
	if e, ok := m.expires[k]; ok && !m.now.Before(e) {
		m.del(k)
		return 0, false
	}
	return m.lruModel.get(k)
}

func (m *ttlModel) set(k, v int) {
	m.lruModel.set(k, v)
	for x := range m.expires {
		if _, ok := m.vals[x]; !ok {
			delete(m.expires, x)
		}
	}
	m.expires[k] = m.now.Add(m.ttl)
}

func TestTTLMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 8).Draw(t, "cap")
		now := time.Unix(0, 0)
		ttl := 10 * time.Millisecond
		c := NewTTL(NewLRU[int, Timed[int]](capacity), ttl, func() time.Time { return now })
		m := &ttlModel{lruModel: lruModel{cap: capacity, vals: map[int]int{}}, expires: map[int]time.Time{}, now: &now, ttl: ttl}
		// Time moves between operations: wrap the model so each call may
		// advance the shared clock first.
		adv := rapid.IntRange(0, 4)
		step := func() { now = now.Add(time.Duration(adv.Draw(t, "ms")) * time.Millisecond) }
		against(t, ticking[int]{c, step}, tickingModel{m, step}, func() int { return len(m.keys) })
	})
}

// ticking advances the clock before each Get, the moment expiry matters.
type ticking[V any] struct {
	*TTL[int, int]
	step func()
}

func (c ticking[V]) Get(k int) (int, bool) { c.step(); return c.TTL.Get(k) }

type tickingModel struct {
	*ttlModel
	step func()
}

func (m tickingModel) get(k int) (int, bool) { return m.ttlModel.get(k) }

func TestSetFromCountsFromTheAsk(t *testing.T) {
	now := time.Unix(100, 0)
	c := NewTTL(NewLRU[string, Timed[int]](4), time.Second, func() time.Time { return now })
	asked := now
	now = now.Add(300 * time.Millisecond) // the answer took 300 ms
	c.SetFrom("k", 1, asked)
	now = asked.Add(999 * time.Millisecond)
	if _, ok := c.Get("k"); !ok {
		t.Fatal("entry gone before its ttl")
	}
	now = asked.Add(time.Second)
	if _, ok := c.Get("k"); ok {
		t.Fatal("entry outlived ttl counted from the ask")
	}
}

// TestTinyLFUInvariants: TinyLFU decides admission by estimates, so no
// exact model; it must still never exceed its capacity, and a key it
// reports present must hold the value last set.
func TestTinyLFUInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 20).Draw(t, "cap")
		c := NewTinyLFU[int, int](capacity, func(k int) uint64 { return uint64(k) * 0x9e3779b97f4a7c15 })
		last := map[int]int{}
		for i := range rapid.IntRange(1, 500).Draw(t, "steps") {
			k := rapid.IntRange(0, 40).Draw(t, "key")
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0, 1:
				if v, ok := c.Get(k); ok && v != last[k] {
					t.Fatalf("Get(%d) = %d, last set %d", k, v, last[k])
				}
			case 2, 3:
				c.Set(k, i)
				last[k] = i
				if v, ok := c.Get(k); ok && v != i {
					t.Fatalf("Get(%d) after Set = %d", k, v)
				}
			case 4:
				c.Delete(k)
				if _, ok := c.Get(k); ok {
					t.Fatalf("key %d present after Delete", k)
				}
			}
			if c.Len() > capacity || c.Len() != c.window.n+c.prob.n+c.protec.n {
				t.Fatalf("Len %d, capacity %d, segments %d+%d+%d", c.Len(), capacity, c.window.n, c.prob.n, c.protec.n)
			}
		}
	})
}

func TestTinyLFUKeepsHotKeysThroughAScan(t *testing.T) {
	c := NewTinyLFU[int, int](100, func(k int) uint64 { return uint64(k) * 0x9e3779b97f4a7c15 })
	for range 20 {
		for k := range 50 {
			if _, ok := c.Get(k); !ok {
				c.Set(k, k)
			}
		}
	}
	for k := 1000; k < 11000; k++ { // a scan of one-hit wonders
		if _, ok := c.Get(k); !ok {
			c.Set(k, k)
		}
	}
	kept := 0
	for k := range 50 {
		if _, ok := c.Get(k); ok {
			kept++
		}
	}
	if kept < 45 {
		t.Fatalf("only %d of 50 hot keys survived a scan", kept)
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	if _, err := New[int, int]("lru", 0, nil); err == nil {
		t.Error("capacity 0 accepted")
	}
	if _, err := New[int, int]("fifo", 10, nil); err == nil {
		t.Error("unknown policy accepted")
	}
}
