package sharder

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/hashring"
)

// The alternative to a controller's shard table is consistent hashing
// (internal/hashring): no table to keep, but the load is only as even as
// the ring. TestLoadSpread measures it: 100 000 keys on 10 nodes, the
// coefficient of variation (stddev/mean) of keys per node and the busiest
// node's share over the mean, as the number of virtual nodes grows, and
// with bounded loads (ε = 0.25 and 0.1). It also counts the keys that move
// when an 11th node joins (ideally 1/11 ≈ 9.1%). Run with -v to print the
// table the lesson quotes.

const (
	spreadKeys  = 100_000
	spreadNodes = 10
)

type spreadRow struct {
	label       string
	cv, maxMean float64
	movedOnAdd  float64 // fraction of keys that changed node when one node joined; -1: not measured
}

func loadStats(counts map[string]int) (cv, maxMean float64) {
	mean := float64(spreadKeys) / spreadNodes
	var sq float64
	peak := 0
	for i := range spreadNodes {
		c := counts["n"+strconv.Itoa(i)]
		sq += (float64(c) - mean) * (float64(c) - mean)
		peak = max(peak, c)
	}
	return math.Sqrt(sq/spreadNodes) / mean, float64(peak) / mean
}

func ringWith(vnodes, nodes int) *hashring.Ring {
	r := hashring.New(vnodes)
	for i := range nodes {
		r.Add("n" + strconv.Itoa(i))
	}
	return r
}

func measureSpread(t *testing.T) []spreadRow {
	t.Helper()
	var rows []spreadRow
	for _, v := range []int{1, 10, 50, 100, 200, 500} {
		r, bigger := ringWith(v, spreadNodes), ringWith(v, spreadNodes+1)
		counts := map[string]int{}
		moved := 0
		for k := range spreadKeys {
			key := "key" + strconv.Itoa(k)
			owner := r.Get(key)
			counts[owner]++
			if bigger.Get(key) != owner {
				moved++
			}
		}
		cv, mm := loadStats(counts)
		rows = append(rows, spreadRow{fmt.Sprintf("%d vnodes", v), cv, mm, float64(moved) / spreadKeys})
	}
	for _, v := range []int{1, 100} {
		for _, eps := range []float64{0.25, 0.1} {
			b, err := hashring.NewBounded(ringWith(v, spreadNodes), eps)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for k := range spreadKeys {
				counts[b.Assign("key"+strconv.Itoa(k))]++
			}
			cv, mm := loadStats(counts)
			rows = append(rows, spreadRow{fmt.Sprintf("%d vnodes, bounded ε=%.2g", v, eps), cv, mm, -1})
		}
	}
	return rows
}

func TestLoadSpread(t *testing.T) {
	rows := measureSpread(t)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| ring (%d keys, %d nodes) | stddev/mean | busiest/mean | keys moved when an 11th node joins |\n|---|---|---|---|\n", spreadKeys, spreadNodes)
	for _, r := range rows {
		moved := "—"
		if r.movedOnAdd >= 0 {
			moved = fmt.Sprintf("%.1f%%", 100*r.movedOnAdd)
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.2f | %s |\n", r.label, r.cv, r.maxMean, moved)
	}
	t.Log(b.String())
	byLabel := map[string]spreadRow{}
	for _, r := range rows {
		byLabel[r.label] = r
	}
	// More points per node even the load out; bounded loads cap the
	// busiest node at 1+ε of the mean (plus one key of rounding).
	if one, many := byLabel["1 vnodes"], byLabel["500 vnodes"]; !(many.cv < one.cv/3) {
		t.Errorf("500 vnodes spread %.3f, 1 vnode %.3f: want a much smaller spread with more points", many.cv, one.cv)
	}
	for _, r := range rows {
		if r.movedOnAdd > 0.2 {
			t.Errorf("%s: %.1f%% of keys moved when one node joined; consistent hashing moves about 1/11", r.label, 100*r.movedOnAdd)
		}
		if strings.Contains(r.label, "ε=0.25") && r.maxMean > 1.25+1e-3 || strings.Contains(r.label, "ε=0.1") && r.maxMean > 1.1+1e-3 {
			t.Errorf("%s: busiest node at %.3f of the mean, over its bound", r.label, r.maxMean)
		}
	}
}
