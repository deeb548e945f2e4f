package netsim

import "time"

// recentSize is how many of the latest sends between non-clients the
// network remembers for Broadcaster, journal or not.
const recentSize = 4096

type recentSend struct {
	at        time.Duration
	src, dest string
}

// noteLocked remembers a send between non-clients.
func (n *Net) noteLocked(m Message) {
	if IsClient(m.Src) || IsClient(m.Dest) || m.Src == m.Dest {
		return
	}
	if n.recent == nil {
		n.recent = make([]recentSend, recentSize)
	}
	n.recent[n.recentNext%recentSize] = recentSend{at: time.Since(n.start), src: m.Src, dest: m.Dest}
	n.recentNext++
}

// Broadcaster returns the node of nodes that sent messages to the most
// other nodes of nodes in the last window (ties: the most messages), or
// "" when none sent any. In a Raft cluster that is the leader: it alone
// sends to every follower, heartbeats included, while followers answer
// only it. The aimed faults (package nemesis) use it as their guess at the
// leader, whatever the workload.
func (n *Net) Broadcaster(nodes []string, window time.Duration) string {
	in := make(map[string]bool, len(nodes))
	for _, id := range nodes {
		in[id] = true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	since := time.Since(n.start) - window
	dests := map[string]map[string]bool{}
	count := map[string]int{}
	for k := 1; k <= recentSize && k <= n.recentNext; k++ {
		e := n.recent[(n.recentNext-k)%recentSize]
		if e.at < since {
			break
		}
		if !in[e.src] || !in[e.dest] {
			continue
		}
		if dests[e.src] == nil {
			dests[e.src] = map[string]bool{}
		}
		dests[e.src][e.dest] = true
		count[e.src]++
	}
	best := ""
	for _, id := range nodes {
		if count[id] == 0 {
			continue
		}
		if best == "" || len(dests[id]) > len(dests[best]) ||
			(len(dests[id]) == len(dests[best]) && count[id] > count[best]) {
			best = id
		}
	}
	return best
}
