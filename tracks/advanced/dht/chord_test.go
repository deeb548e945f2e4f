package dht

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"
)

// sim is a deterministic network of Cores under a fake clock: messages
// take one millisecond; a dead node drops everything.
type sim struct {
	t     *testing.T
	now   time.Time
	nodes map[string]*Core
	dead  map[string]bool
	// paused nodes neither tick nor receive: a stopped process whose
	// messages queue up for it.
	paused map[string]bool
	queue  []simMsg
	sent   int
	// delay, if set, is each message's time on the wire (else one
	// millisecond): messages then overtake each other.
	delay func() time.Duration
}

type simMsg struct {
	at        time.Time
	src, dest string
	m         Msg
}

type simClock struct{ s *sim }

func (c simClock) Now() time.Time { return c.s.now }

type simTransport struct {
	s    *sim
	self string
}

func (t simTransport) Send(dest string, m Msg) {
	t.s.sent++
	// Round-trip through JSON, as on the wire.
	raw, _ := json.Marshal(m)
	var back Msg
	if err := json.Unmarshal(raw, &back); err != nil {
		t.s.t.Fatal(err)
	}
	d := time.Millisecond
	if t.s.delay != nil {
		d = t.s.delay()
	}
	t.s.queue = append(t.s.queue, simMsg{at: t.s.now.Add(d), src: t.self, dest: dest, m: back})
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i)
	}
	return out
}

func newSim(t *testing.T, all []string, members []string, cfg Config) *sim {
	s := &sim{t: t, now: time.Unix(0, 0), nodes: map[string]*Core{}, dead: map[string]bool{}, paused: map[string]bool{}}
	for _, id := range all {
		c := cfg
		c.Self, c.Nodes = id, all
		s.nodes[id] = New(c, simClock{s}, simTransport{s, id})
	}
	for _, id := range members {
		s.nodes[id].Start(members)
	}
	return s
}

// run advances the clock by d, delivering messages and ticking every
// node every 25 ms.
func (s *sim) run(d time.Duration) {
	end := s.now.Add(d)
	nextTick := s.now
	for s.now.Before(end) {
		i := s.nextDue()
		if i >= 0 && !s.queue[i].at.After(nextTick) {
			m := s.queue[i]
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			if m.at.After(s.now) {
				s.now = m.at
			}
			if !s.dead[m.dest] {
				s.nodes[m.dest].Handle(m.src, m.m)
			}
			continue
		}
		s.now = nextTick
		for _, id := range sortedNames(s.nodes) {
			if !s.dead[id] && !s.paused[id] {
				s.nodes[id].Tick()
			}
		}
		nextTick = nextTick.Add(25 * time.Millisecond)
	}
}

// nextDue is the index of the earliest message due, the first sent
// among equals, or -1; a paused node's messages wait for it.
func (s *sim) nextDue() int {
	i := -1
	for j, m := range s.queue {
		if s.paused[m.dest] || i >= 0 && !m.at.Before(s.queue[i].at) {
			continue
		}
		i = j
		if s.delay == nil {
			break // every message takes the same time: the queue is in order
		}
	}
	return i
}

func sortedNames(m map[string]*Core) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// owner computes a key's owner from the members' hashes, independently
// of any routing.
func owner(members []string, key string) string {
	ring := append([]string(nil), members...)
	sort.Slice(ring, func(i, j int) bool { return Hash(ring[i]) < Hash(ring[j]) })
	k := Hash(key)
	for _, n := range ring {
		if Hash(n) >= k {
			return n
		}
	}
	return ring[0]
}

func (s *sim) lookup(from, key string) ([]string, int) {
	s.t.Helper()
	var got []string
	hops, done := 0, false
	s.nodes[from].Lookup(key, func(o []string, h int, err error) {
		if err != nil {
			s.t.Fatalf("lookup %s from %s: %v", key, from, err)
		}
		got, hops, done = o, h, true
	})
	for i := 0; i < 400 && !done; i++ {
		s.run(5 * time.Millisecond)
	}
	if !done {
		s.t.Fatalf("lookup %s from %s never finished", key, from)
	}
	return got, hops
}

func (s *sim) put(from, key string, v int) {
	s.t.Helper()
	done := false
	s.nodes[from].Put(key, json.RawMessage(fmt.Sprint(v)), func(_ int, err error) {
		if err != nil {
			s.t.Fatalf("put %s=%d via %s: %v", key, v, from, err)
		}
		done = true
	})
	for i := 0; i < 1000 && !done; i++ {
		s.run(5 * time.Millisecond)
	}
	if !done {
		s.t.Fatalf("put %s via %s never finished", key, from)
	}
}

func (s *sim) get(from, key string) (string, bool) {
	s.t.Helper()
	var val string
	found, done := false, false
	s.nodes[from].Get(key, func(v json.RawMessage, f bool, _ int, err error) {
		if err != nil {
			s.t.Fatalf("get %s via %s: %v", key, from, err)
		}
		val, found, done = string(v), f, true
	})
	for i := 0; i < 1000 && !done; i++ {
		s.run(5 * time.Millisecond)
	}
	if !done {
		s.t.Fatalf("get %s via %s never finished", key, from)
	}
	return val, found
}

func TestLookupFindsOwnerInLogHops(t *testing.T) {
	all := names(64)
	s := newSim(t, all, all, Config{Replicas: 3})
	total, most := 0, 0
	for i := range 200 {
		from, key := all[i%len(all)], fmt.Sprintf("k%d", i)
		got, hops := s.lookup(from, key)
		if want := owner(all, key); got[0] != want {
			t.Fatalf("lookup %s from %s: owner %s, want %s", key, from, got[0], want)
		}
		total += hops
		most = max(most, hops)
	}
	mean := float64(total) / 200
	t.Logf("64 nodes: mean %.2f hops, max %d", mean, most)
	if bound := math.Log2(64) + 1; mean > bound {
		t.Fatalf("mean hops %.2f above log2(n)+1 = %.1f", mean, bound)
	}
}

func TestNoFingersWalksTheRing(t *testing.T) {
	all := names(32)
	s := newSim(t, all, all, Config{Replicas: 3, NoFingers: true})
	total := 0
	for i := range 100 {
		got, hops := s.lookup(all[i%len(all)], fmt.Sprintf("k%d", i))
		if want := owner(all, fmt.Sprintf("k%d", i)); got[0] != want {
			t.Fatalf("owner %s, want %s", got[0], want)
		}
		total += hops
	}
	if mean := float64(total) / 100; mean <= math.Log2(32)+1 {
		t.Fatalf("successor-only routing took %.2f hops on average; expected about n/2", mean)
	}
}

func TestJoinsAndLeavesStabilize(t *testing.T) {
	all := names(24)
	members := all[:16]
	s := newSim(t, all, members, Config{Replicas: 3})
	for i := range 20 {
		s.put(members[i%16], fmt.Sprintf("k%d", i), i)
	}
	for _, n := range all[16:] {
		joined := false
		s.nodes[n].Join(members[0], func(err error) {
			if err != nil {
				t.Fatalf("join %s: %v", n, err)
			}
			joined = true
		})
		s.run(300 * time.Millisecond)
		if !joined {
			t.Fatalf("%s did not join", n)
		}
	}
	for _, n := range []string{"n3", "n7", "n11"} {
		if err := s.nodes[n].Leave(); err != nil {
			t.Fatal(err)
		}
		s.run(300 * time.Millisecond)
	}
	s.run(3 * time.Second)
	var live []string
	for _, n := range all {
		if s.nodes[n].Member() {
			live = append(live, n)
		}
	}
	if len(live) != 21 {
		t.Fatalf("%d members, want 21", len(live))
	}
	// Every successor pointer is the true successor.
	sort.Slice(live, func(i, j int) bool { return Hash(live[i]) < Hash(live[j]) })
	for i, n := range live {
		want := live[(i+1)%len(live)]
		if got := s.nodes[n].Successors()[0]; got != want {
			t.Fatalf("%s's successor is %s, want %s", n, got, want)
		}
		if got := s.nodes[want].Predecessor(); got != n {
			t.Fatalf("%s's predecessor is %s, want %s", want, got, n)
		}
	}
	for i := range 20 {
		key := fmt.Sprintf("k%d", i)
		got, _ := s.lookup(live[i%len(live)], key)
		if want := owner(live, key); got[0] != want {
			t.Fatalf("lookup %s: %s, want %s", key, got[0], want)
		}
		if v, ok := s.get(live[(i+5)%len(live)], key); !ok || v != fmt.Sprint(i) {
			t.Fatalf("get %s = %q (found %v), want %d", key, v, ok, i)
		}
		// The owner itself holds it: the hand-off on join moved it.
		if e, ok := s.nodes[got[0]].Stored(key); !ok || string(e.Value) != fmt.Sprint(i) {
			t.Fatalf("owner %s of %s does not store it", got[0], key)
		}
	}
}

func TestDeathsBelowReplicasLoseNothing(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		lose     bool
	}{{3, false}, {1, true}} {
		t.Run(fmt.Sprintf("r=%d", tc.replicas), func(t *testing.T) {
			all := names(16)
			s := newSim(t, all, all, Config{Replicas: tc.replicas})
			keys := 40
			for i := range keys {
				s.put(all[i%16], fmt.Sprintf("k%d", i), i)
			}
			// Kill two nodes at once, each the owner of some keys.
			victims := []string{owner(all, "k0"), owner(all, "k1")}
			if victims[0] == victims[1] {
				victims[1] = owner(all, "k2")
			}
			for _, v := range victims {
				s.dead[v] = true
			}
			s.run(3 * time.Second)
			lost := 0
			from := ""
			for _, n := range all {
				if !s.dead[n] {
					from = n
				}
			}
			for i := range keys {
				v, ok := s.get(from, fmt.Sprintf("k%d", i))
				if !ok || v != fmt.Sprint(i) {
					t.Logf("k%d: got %q (found %v) after the deaths of %v", i, v, ok, victims)
					lost++
				}
			}
			if tc.lose && lost == 0 {
				t.Fatalf("with one replica, killing owners lost nothing: the test cannot tell")
			}
			if !tc.lose && lost > 0 {
				t.Fatalf("lost %d of %d keys with %d replicas after 2 deaths", lost, keys, tc.replicas)
			}
		})
	}
}

func TestLaterPutWins(t *testing.T) {
	all := names(8)
	s := newSim(t, all, all, Config{Replicas: 3})
	s.put("n1", "k", 1)
	s.put("n5", "k", 2)
	if v, _ := s.get("n3", "k"); v != "2" {
		t.Fatalf("get = %s, want 2", v)
	}
	if _, ok := s.get("n3", "absent"); ok {
		t.Fatal("a key never written was found")
	}
}
