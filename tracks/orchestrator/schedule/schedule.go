// Package schedule places pods on machines the way Kubernetes' scheduler
// does: for each pod, filters drop the machines that cannot take it, then
// scores rank the rest and the best wins. It is pure: the orchestrator's
// controller feeds it the state it read from the coordination service and
// writes back the bindings it returns.
//
// Two scores come with it: MostAllocated (bin-packing: the machine left
// with the least free room, so that pods fill few machines and whole
// machines stay free for big pods) and LeastAllocated (spreading: the
// machine with the most free room, so that losing one machine loses few
// pods). Pods are placed largest first, which with MostAllocated is
// best-fit decreasing, a cousin of first-fit decreasing.
package schedule

import (
	"cmp"
	"slices"
)

// Node is a machine as the scheduler sees it: its capacity and the sum of
// the requests of the pods bound to it (cpu millicores).
type Node struct {
	Name     string
	Capacity int
	Used     int
}

// Pod is a pod waiting for a machine.
type Pod struct {
	Name       string
	Deployment string
	CPU        int
}

// Filter says whether node can take pod.
type Filter func(pod Pod, node Node) bool

// Score rates node for pod; higher is better.
type Score func(pod Pod, node Node) int

// Fits is the resource filter: the pod's request fits in the free room.
func Fits(pod Pod, node Node) bool { return node.Used+pod.CPU <= node.Capacity }

// MostAllocated prefers the fullest machine after placement (packing).
func MostAllocated(pod Pod, node Node) int { return node.Used + pod.CPU - node.Capacity }

// LeastAllocated prefers the emptiest machine after placement (spreading).
func LeastAllocated(pod Pod, node Node) int { return node.Capacity - node.Used - pod.CPU }

// Profile is a scheduler: the filters every machine must pass and the
// score that ranks those that do.
type Profile struct {
	Filters []Filter
	Score   Score
}

// Binding assigns a pod to a machine.
type Binding struct {
	Pod  Pod
	Node string
}

// Place binds pods, largest request first (ties by name), each to the
// best-scoring machine that passes every filter (ties by name), counting
// each binding in the machine's use before the next pod. Pods no machine
// passes are returned unplaced.
func Place(p Profile, pods []Pod, nodes []Node) (bound []Binding, unplaced []Pod) {
	pods = slices.Clone(pods)
	slices.SortFunc(pods, func(a, b Pod) int {
		return cmp.Or(cmp.Compare(b.CPU, a.CPU), cmp.Compare(a.Name, b.Name))
	})
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	for _, pod := range pods {
		best := -1
		var bestScore int
	next:
		for i, n := range nodes {
			for _, f := range p.Filters {
				if !f(pod, n) {
					continue next
				}
			}
			if s := p.Score(pod, n); best < 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
		if best < 0 {
			unplaced = append(unplaced, pod)
			continue
		}
		nodes[best].Used += pod.CPU
		bound = append(bound, Binding{Pod: pod, Node: nodes[best].Name})
	}
	return bound, unplaced
}
