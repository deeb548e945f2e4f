package mrdht

import (
	"slices"
	"testing"
)

func TestParseArgs(t *testing.T) {
	if o, err := ParseArgs(nil); err != nil || o.Replicas != 3 || o.Anywhere {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"--replicas", "0"}, {"--schedule", "nearby"}, {"--locality-wait", "-1s"}, {"extra"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Owners are r distinct nodes, the same on every node, and spread over
// the cluster.
func TestRingOwners(t *testing.T) {
	ids := []string{"n0", "n1", "n2", "n3", "n4"}
	g := &Ring{r: 3, vnodes: 16, points: ringPoints(ids, 16)}
	g.once.Do(func() {}) // built above: no node needed
	load := map[string]int{}
	for i := range 1000 {
		key := "input/j/doc-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		o := g.Owners(key)
		if len(o) != 3 || len(slices.Compact(slices.Sorted(slices.Values(o)))) != 3 {
			t.Fatalf("owners of %s: %v", key, o)
		}
		if !slices.Equal(o, g.Owners(key)) {
			t.Fatalf("owners of %s change", key)
		}
		for _, n := range o {
			load[n]++
		}
	}
	for _, id := range ids {
		if load[id] < 300 || load[id] > 900 {
			t.Errorf("%s owns %d of 1000 keys (x3 replicas): badly spread %v", id, load[id], load)
		}
	}
}
