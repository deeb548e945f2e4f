package hashring

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
)

func nodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "n" + strconv.Itoa(i)
	}
	return out
}

// spread is the coefficient of variation (stddev/mean) of keys per node.
func spread(counts map[string]int, nodes []string) float64 {
	mean := 0.0
	for _, n := range nodes {
		mean += float64(counts[n])
	}
	mean /= float64(len(nodes))
	v := 0.0
	for _, n := range nodes {
		d := float64(counts[n]) - mean
		v += d * d
	}
	return math.Sqrt(v/float64(len(nodes))) / mean
}

func TestGetIsStableAndMovesLittle(t *testing.T) {
	r := New(100)
	r.Add(nodes(10)...)
	before := map[string]string{}
	for i := range 20000 {
		k := "key" + strconv.Itoa(i)
		before[k] = r.Get(k)
		if r.Get(k) != before[k] {
			t.Fatal("Get is not deterministic")
		}
	}
	r.Add("n10")
	moved := 0
	for k, owner := range before {
		now := r.Get(k)
		if now != owner {
			moved++
			if now != "n10" {
				t.Fatalf("key %s moved from %s to %s, not to the new node", k, owner, now)
			}
		}
	}
	// About 1/11 of the keys should move to the new node.
	if frac := float64(moved) / float64(len(before)); frac < 0.04 || frac > 0.15 {
		t.Fatalf("adding an 11th node moved %.1f%% of keys, want about 9%%", 100*frac)
	}
	r.Remove("n10")
	for k, owner := range before {
		if r.Get(k) != owner {
			t.Fatalf("after removing n10, %s belongs to %s, not %s", k, r.Get(k), owner)
		}
	}
}

func TestGetN(t *testing.T) {
	r := New(20)
	if r.Get("x") != "" || r.GetN("x", 2) != nil {
		t.Fatal("empty ring returned an owner")
	}
	r.Add(nodes(5)...)
	got := r.GetN("some key", 3)
	if len(got) != 3 || got[0] != r.Get("some key") {
		t.Fatalf("GetN = %v, owner %s", got, r.Get("some key"))
	}
	s := slices.Clone(got)
	slices.Sort(s)
	if len(slices.Compact(s)) != 3 {
		t.Fatalf("GetN repeats a node: %v", got)
	}
	if len(r.GetN("k", 9)) != 5 {
		t.Fatal("GetN did not stop at the node count")
	}
}

// TestSpreadFallsWithVirtualNodes measures what the lesson prints: keys
// per node over 10 nodes and 100 000 keys, as stddev/mean, for growing
// virtual-node counts and for the bounded-load variant. Run with -v to see
// the table.
func TestSpreadFallsWithVirtualNodes(t *testing.T) {
	const keys = 100000
	ns := nodes(10)
	var prev float64 = math.Inf(1)
	t.Logf("%-28s %-10s %s", "placement", "cv", "max/mean")
	for _, v := range []int{1, 10, 100, 1000} {
		r := New(v)
		r.Add(ns...)
		counts := map[string]int{}
		for i := range keys {
			counts[r.Get("key"+strconv.Itoa(i))]++
		}
		cv := spread(counts, ns)
		mx := 0
		for _, c := range counts {
			mx = max(mx, c)
		}
		t.Logf("%-28s %-10.3f %.2f", fmt.Sprintf("ring, %d vnodes", v), cv, float64(mx)/(keys/10))
		if v >= 10 && cv >= prev {
			t.Errorf("spread did not fall from %.3f to %d vnodes (%.3f)", prev, v, cv)
		}
		prev = cv
	}
	for _, eps := range []float64{0.25, 0.05} {
		r := New(10)
		r.Add(ns...)
		b, err := NewBounded(r, eps)
		if err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if b.Assign("key"+strconv.Itoa(i)) == "" {
				t.Fatal("Assign found no node")
			}
		}
		counts := map[string]int{}
		mx := 0
		for _, n := range ns {
			counts[n] = b.Load(n)
			mx = max(mx, counts[n])
		}
		bound := int(math.Ceil((1 + eps) * keys / 10))
		if mx > bound {
			t.Errorf("bounded ε=%v: a node holds %d keys, bound %d", eps, mx, bound)
		}
		t.Logf("%-28s %-10.3f %.2f", fmt.Sprintf("bounded ε=%.2f, 10 vnodes", eps), spread(counts, ns), float64(mx)/(keys/10))
	}
}

// TestBoundedNeverExceedsCapacity assigns and releases in a mixed pattern
// (requests coming and going, with a hot key) and checks the bound after
// every assignment.
func TestBoundedNeverExceedsCapacity(t *testing.T) {
	r := New(50)
	r.Add(nodes(4)...)
	b, _ := NewBounded(r, 0.1)
	var held []string
	for i := range 5000 {
		key := "hot"
		if i%3 == 0 {
			key = "k" + strconv.Itoa(i)
		}
		c := b.Capacity()
		n := b.Assign(key)
		if b.Load(n) > c {
			t.Fatalf("step %d: %s holds %d, capacity %d", i, n, b.Load(n), c)
		}
		held = append(held, n)
		if i%4 == 3 { // a request finishes
			b.Release(held[0])
			held = held[1:]
		}
	}
	if b.Total() != len(held) {
		t.Fatalf("total %d, held %d", b.Total(), len(held))
	}
	// The hot key must have spilled over to other nodes.
	if _, err := NewBounded(r, 0); err == nil {
		t.Fatal("ε = 0 accepted")
	}
}
