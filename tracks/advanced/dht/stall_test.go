package dht

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"
)

// ringOrder is the members in identifier order.
func ringOrder(members []string) []string {
	ring := append([]string(nil), members...)
	sort.Slice(ring, func(i, j int) bool { return Hash(ring[i]) < Hash(ring[j]) })
	return ring
}

// keyOwnedBy finds a key whose owner is node n.
func keyOwnedBy(t *testing.T, members []string, n string) string {
	t.Helper()
	for i := range 10000 {
		if k := fmt.Sprintf("k%d", i); owner(members, k) == n {
			return k
		}
	}
	t.Fatalf("no key owned by %s", n)
	return ""
}

// successorsOf is n's next k members clockwise.
func successorsOf(members []string, n string, k int) []string {
	ring := ringOrder(members)
	i := 0
	for ring[i] != n {
		i++
	}
	var out []string
	for j := 1; j <= k; j++ {
		out = append(out, ring[(i+j)%len(ring)])
	}
	return out
}

// The interleaving of a loaded machine: a node starts reads on its
// successors, then its process stops for longer than every timeout. When
// it runs again its timers fire before the replies queued for it are
// handled. It must not conclude that its successors died, lose them all,
// and then answer the retried lookups as the only node of the ring,
// reading the key from itself and reporting an acknowledged put missing.
func TestPausedNodeDoesNotLoseItsSuccessors(t *testing.T) {
	members := names(8)
	s := newSim(t, members, members, Config{Replicas: 3})
	x := members[6]
	succ := successorsOf(members, x, 2)
	keys := []string{keyOwnedBy(t, members, succ[0]), keyOwnedBy(t, members, succ[1])}
	for i, k := range keys {
		s.put(members[0], k, 10+i)
	}
	s.run(100 * time.Millisecond)

	type res struct {
		val         string
		found, done bool
	}
	got := make([]res, len(keys))
	for i, k := range keys {
		s.nodes[x].Get(k, func(v json.RawMessage, f bool, _ int, err error) {
			if err != nil {
				t.Errorf("get %s via %s: %v", k, x, err)
			}
			got[i] = res{string(v), f, true}
		})
	}
	// x's reads are out; x stops before any reply reaches it, and wakes
	// with its timers running before its queued messages.
	s.paused[x] = true
	s.run(time.Second)
	delete(s.paused, x)
	s.nodes[x].Tick()
	for i := 0; i < 400 && !(got[0].done && got[1].done); i++ {
		s.run(5 * time.Millisecond)
	}
	for i, k := range keys {
		if !got[i].done || !got[i].found || got[i].val != fmt.Sprint(10+i) {
			t.Errorf("get %s via %s after a pause: %+v, want %d (successors now %v)", k, x, got[i], 10+i, s.nodes[x].Successors())
		}
	}
	if s.nodes[x].successor() != succ[0] {
		t.Errorf("%s's successor after its pause: %s, want %s", x, s.nodes[x].successor(), succ[0])
	}
}
