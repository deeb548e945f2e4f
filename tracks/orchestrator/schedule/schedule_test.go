package schedule

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
)

func nodes(n, capacity int) []Node {
	out := make([]Node, n)
	for i := range out {
		out[i] = Node{Name: fmt.Sprintf("n%d", i), Capacity: capacity}
	}
	return out
}

func pods(sizes ...int) []Pod {
	out := make([]Pod, len(sizes))
	for i, s := range sizes {
		out[i] = Pod{Name: fmt.Sprintf("p%02d", i), CPU: s}
	}
	return out
}

func used(bound []Binding) map[string]int {
	u := map[string]int{}
	for _, b := range bound {
		u[b.Node] += b.Pod.CPU
	}
	return u
}

func TestPackFillsFewMachines(t *testing.T) {
	bound, unplaced := Place(Profile{Filters: []Filter{Fits}, Score: MostAllocated}, pods(500, 300, 200, 500, 400, 100), nodes(4, 1000))
	if len(unplaced) != 0 {
		t.Fatalf("unplaced %v", unplaced)
	}
	u := used(bound)
	if len(u) != 2 || u["n0"] != 1000 || u["n1"] != 1000 {
		t.Fatalf("want two full machines, got %v", u)
	}
}

func TestSpreadUsesEveryMachine(t *testing.T) {
	bound, _ := Place(Profile{Filters: []Filter{Fits}, Score: LeastAllocated}, pods(100, 100, 100, 100), nodes(4, 1000))
	if u := used(bound); len(u) != 4 {
		t.Fatalf("want one pod per machine, got %v", u)
	}
}

func TestFitsFilterLeavesWhatDoesNotFit(t *testing.T) {
	n := nodes(2, 1000)
	n[0].Used, n[1].Used = 900, 800
	bound, unplaced := Place(Profile{Filters: []Filter{Fits}, Score: MostAllocated}, pods(300, 200, 100), n)
	if len(unplaced) != 1 || unplaced[0].CPU != 300 {
		t.Fatalf("unplaced %v", unplaced)
	}
	if u := used(bound); u["n1"] != 200 || u["n0"] != 100 {
		t.Fatalf("%v", u)
	}
}

func TestWithoutFilterOvercommits(t *testing.T) {
	bound, unplaced := Place(Profile{Score: MostAllocated}, pods(600, 600), nodes(2, 1000))
	if len(unplaced) != 0 || used(bound)["n0"] != 1200 {
		t.Fatalf("a scheduler without the fit filter packs past capacity: %v", used(bound))
	}
}

// TestPackingAgainstFFD places random pod sets of the orchestrate
// workload's shape (100m to 400m in 50m steps on 1000m machines, at most
// 60% of the cluster) with both scores, and compares the machines used
// with first-fit decreasing (the grader's) and the lower bound
// ceil(total / capacity). Run with -v for the table.
func TestPackingAgainstFFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const trials, machines, capacity = 1000, 20, 1000
	var lb, ffd, pack, spread int
	worse := 0
	for range trials {
		var sizes []int
		total := 0
		for {
			s := 100 + 50*rng.IntN(7)
			if total+s > machines*capacity*6/10 {
				break
			}
			sizes = append(sizes, s)
			total += s
		}
		l := (total + capacity - 1) / capacity
		f := checker.FirstFitDecreasing(sizes, capacity)
		bp, up := Place(Profile{Filters: []Filter{Fits}, Score: MostAllocated}, pods(sizes...), nodes(machines, capacity))
		bs, us := Place(Profile{Filters: []Filter{Fits}, Score: LeastAllocated}, pods(sizes...), nodes(machines, capacity))
		if len(up) > 0 || len(us) > 0 {
			t.Fatalf("unplaced pods: %v %v", up, us)
		}
		p, s := len(used(bp)), len(used(bs))
		if p < l || f < l {
			t.Fatalf("below the lower bound: pack %d ffd %d bound %d", p, f, l)
		}
		if p > f {
			worse++
		}
		lb, ffd, pack, spread = lb+l, ffd+f, pack+p, spread+s
	}
	t.Logf("%d random pod sets on %d machines of %dm: machines used on average", trials, machines, capacity)
	t.Logf("lower bound %.2f | first-fit decreasing %.2f | pack (best-fit decreasing) %.2f | spread %.2f; pack used more than FFD in %d sets",
		float64(lb)/trials, float64(ffd)/trials, float64(pack)/trials, float64(spread)/trials, worse)
	if pack > ffd+trials/10 {
		t.Fatalf("packing is far from FFD: %d vs %d machines", pack, ffd)
	}
}
