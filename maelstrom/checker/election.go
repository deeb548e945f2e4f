package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// ElectionStatus is the value of an ok "status" op of the election
// workload: what one node said about itself when polled.
type ElectionStatus struct {
	Role   string `json:"role"`             // leader, follower or candidate
	Term   int64  `json:"term"`             // the node's current term
	Leader string `json:"leader,omitempty"` // the leader it follows in Term, if known
}

// LinkTraffic counts the messages one node sent another during a run.
type LinkTraffic struct {
	Src    string           `json:"src"`
	Dest   string           `json:"dest"`
	Count  int64            `json:"count"`
	ByType map[string]int64 `json:"by_type"`
}

// ElectionLimits are the election checker's bounds.
type ElectionLimits struct {
	// Failover bounds the time from a heal (no fault active any more) to a
	// leader that a majority follows. Default 2 s.
	Failover time.Duration
	// PerLinkRate bounds the messages per second any node sends any one
	// peer, averaged over the run: with no client commands the leader's
	// traffic to a follower is its heartbeats. Default 10.
	PerLinkRate float64
}

// Failover is one healthy window's way to a leader.
type Failover struct {
	Healed  time.Duration `json:"healed"`            // the heal (0: the start of the run)
	Elected time.Duration `json:"elected,omitempty"` // when a majority followed the leader
	Took    time.Duration `json:"took,omitempty"`
	Term    int64         `json:"term,omitempty"`
	Leader  string        `json:"leader,omitempty"`
	// Skipped: the window closed (next fault, end of run) before the bound
	// and before a leader, so it was not judged.
	Skipped bool `json:"skipped,omitempty"`
}

// ElectionDetails are the election checker's findings.
type ElectionDetails struct {
	Polls       int                `json:"polls"`
	Leaders     map[int64]string   `json:"leaders"` // term -> leader seen
	Failovers   []Failover         `json:"failovers"`
	FailoverP50 time.Duration      `json:"failover_p50"`
	FailoverMax time.Duration      `json:"failover_max"`
	Traffic     []LinkTraffic      `json:"traffic"`
	BusiestRate float64            `json:"busiest_rate"` // messages/s on the busiest link
	Busiest     string             `json:"busiest"`      // "n1->n2"
	TypeRates   map[string]float64 `json:"type_rates"`   // messages/s per body type, all links
}

type poll struct {
	node string
	at   time.Duration
	st   ElectionStatus
	op   history.Op
}

// Election judges a history of status polls (workload election) together
// with the traffic between nodes: never two leaders in one term (each
// node's own claim and the leader its followers name), a leader followed by
// a majority within limits.Failover of every heal (and of the start), no
// new term while the network stays healthy once that leader is
// established, and at most limits.PerLinkRate messages per second from any
// node to any one peer. nodes are the cluster's ids; duration is the
// length of the run the traffic was counted over.
func Election(h history.History, nodes []string, traffic []LinkTraffic, duration time.Duration, limits ElectionLimits) Result {
	if limits.Failover <= 0 {
		limits.Failover = 2 * time.Second
	}
	if limits.PerLinkRate <= 0 {
		limits.PerLinkRate = 10
	}
	res := Result{Checker: "election", Valid: Valid}
	d := ElectionDetails{Leaders: map[int64]string{}, TypeRates: map[string]float64{}}

	var polls []poll
	for _, p := range pairUp(h) {
		if p.outcome() != history.OK || p.invoke.F != "status" {
			continue
		}
		st, ok := p.completion.Value.(ElectionStatus)
		if !ok {
			res.Valid = Unknown
			res.Summary = fmt.Sprintf("status op %s has a value of type %T, not an election status", p.completion, p.completion.Value)
			return res
		}
		polls = append(polls, poll{node: p.node(), at: p.completion.Time, st: st, op: *p.completion})
	}
	sort.SliceStable(polls, func(i, j int) bool { return polls[i].at < polls[j].at })
	d.Polls = len(polls)
	var vs []Violation
	add := func(v Violation) {
		if len(vs) < 20 {
			vs = append(vs, v)
		}
	}

	// 1. Election safety: one leader per term.
	type claim struct {
		node, by string
		p        poll
	}
	claims := map[int64]claim{}
	for _, p := range polls {
		var who, by string
		switch {
		case p.st.Role == "leader":
			who, by = p.node, p.node+" itself"
		case p.st.Leader != "" && p.st.Role == "follower":
			who, by = p.st.Leader, "its follower "+p.node
		default:
			continue
		}
		c, seen := claims[p.st.Term]
		if !seen {
			claims[p.st.Term] = claim{node: who, by: by, p: p}
			d.Leaders[p.st.Term] = who
			continue
		}
		if c.node != who {
			op := p.op
			add(Violation{What: "two leaders in one term", Node: who, Op: &op, Value: p.st.Term, Time: p.at,
				Detail: fmt.Sprintf("term %d has two leaders: %s (said %s at %s) and %s (said %s at %s). A node may vote once per term and a leader needs a majority of votes, so two leaders in one term means a vote was counted twice or a candidate won without a majority.",
					p.st.Term, c.node, c.by, at(c.p.at), who, by, at(p.at))})
		}
	}

	// 2 and 3. After every heal a leader within the bound, then a stable term.
	majority := len(nodes)/2 + 1
	end := time.Duration(0)
	if len(h) > 0 {
		end = h[len(h)-1].Time
	}
	var took []time.Duration
	// end+1: the last window includes the run's last poll.
	for _, w := range HealthyWindows(h, end+1) {
		f := Failover{Healed: w.From}
		latest := map[string]ElectionStatus{}
		established := false
		var est poll
		for _, p := range polls {
			if p.at < w.From || p.at >= w.To {
				continue
			}
			if established {
				if p.st.Term > est.st.Term {
					op := p.op
					add(Violation{What: "election while healthy", Node: p.node, Op: &op, Value: p.st.Term, Time: p.at,
						Detail: fmt.Sprintf("%s is in term %d at %s, but %s had led term %d with a majority since %s and no fault was active: a follower timed out although the leader was reachable (heartbeats too rare for the election timeout?), or a node disrupted a healthy leader (pre-vote and check-quorum prevent that).",
							p.node, p.st.Term, at(p.at), est.node, est.st.Term, at(est.at))})
					break
				}
				continue
			}
			if p.at > w.From+limits.Failover {
				break
			}
			latest[p.node] = p.st
			if l, t, ok := followed(latest, majority); ok {
				established = true
				est = poll{node: l, at: p.at, st: ElectionStatus{Role: "leader", Term: t, Leader: l}}
				f.Elected, f.Took, f.Term, f.Leader = p.at, p.at-w.From, t, l
				took = append(took, f.Took)
			}
		}
		if !established {
			if w.To < w.From+limits.Failover || end < w.From+limits.Failover {
				f.Skipped = true
			} else {
				what := "the start of the run"
				if w.From > 0 {
					what = "the heal at " + at(w.From)
				}
				add(Violation{What: "no leader after heal", Time: w.From + limits.Failover,
					Detail: fmt.Sprintf("within %v of %s no node was seen as leader by a majority (%d of %d nodes polled in that time reported the same term and leader): %s. Split votes repeat when every node uses the same election timeout; randomize it.",
						limits.Failover, what, majority, len(nodes), describeLatest(latest))})
			}
		}
		d.Failovers = append(d.Failovers, f)
	}
	if len(took) > 0 {
		slices.Sort(took)
		d.FailoverP50 = took[(len(took)-1)/2]
		d.FailoverMax = took[len(took)-1]
	}

	// 4. The heartbeat budget, busiest link first.
	d.Traffic = traffic
	if duration > 0 {
		byRate := slices.Clone(traffic)
		sort.SliceStable(byRate, func(i, j int) bool { return byRate[i].Count > byRate[j].Count })
		for _, l := range byRate {
			rate := float64(l.Count) / duration.Seconds()
			for t, c := range l.ByType {
				d.TypeRates[t] += float64(c) / duration.Seconds()
			}
			if rate > d.BusiestRate {
				d.BusiestRate, d.Busiest = rate, l.Src+"->"+l.Dest
			}
			if rate > limits.PerLinkRate {
				add(Violation{What: "heartbeat budget exceeded", Node: l.Src, Value: fmt.Sprintf("%.1f/s", rate), Time: duration,
					Detail: fmt.Sprintf("%s sent %s %d messages in %.1fs, %.1f per second (%s); the budget is %.0f per second per peer. A leader only needs to heartbeat a few times per election timeout.",
						l.Src, l.Dest, l.Count, duration.Seconds(), rate, typeRates(l.ByType, duration), limits.PerLinkRate)})
			}
		}
	}
	res.Details = d
	res.Violations = vs
	skipped := 0
	for _, f := range d.Failovers {
		if f.Skipped {
			skipped++
		}
	}
	stats := fmt.Sprintf("%d polls, %d terms with a leader, failover p50 %s max %s over %d healthy window(s) (%d too short to judge), busiest link %s %.1f msgs/s",
		d.Polls, len(d.Leaders), msText(d.FailoverP50), msText(d.FailoverMax), len(took), skipped, d.Busiest, d.BusiestRate)
	switch {
	case len(vs) > 0:
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%s: %s", vs[0].What, stats)
	case d.Polls == 0:
		res.Valid = Unknown
		res.Summary = "no status poll succeeded, so nothing can be judged"
	case len(took) == 0:
		res.Valid = Unknown
		res.Summary = "no healthy window was long enough to see a leader elected: " + stats
	default:
		res.Summary = stats
	}
	return res
}

// followed finds a leader that a majority follows in latest: the leader
// itself reports role leader in term t and the others report term t with
// that leader.
func followed(latest map[string]ElectionStatus, majority int) (string, int64, bool) {
	for l, st := range latest {
		if st.Role != "leader" {
			continue
		}
		n := 0
		for id, o := range latest {
			if o.Term == st.Term && (id == l || o.Leader == l) {
				n++
			}
		}
		if n >= majority {
			return l, st.Term, true
		}
	}
	return "", 0, false
}

func describeLatest(latest map[string]ElectionStatus) string {
	if len(latest) == 0 {
		return "no node answered a status poll"
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		st := latest[id]
		s := fmt.Sprintf("%s %s of term %d", id, st.Role, st.Term)
		if st.Leader != "" && st.Role != "leader" {
			s += " following " + st.Leader
		}
		parts = append(parts, s)
	}
	return "last seen " + strings.Join(parts, ", ")
}

func typeRates(by map[string]int64, d time.Duration) string {
	types := make([]string, 0, len(by))
	for t := range by {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return by[types[i]] > by[types[j]] })
	var parts []string
	for _, t := range types {
		parts = append(parts, fmt.Sprintf("%s %.1f/s", t, float64(by[t])/d.Seconds()))
	}
	return strings.Join(parts, ", ")
}

func msText(d time.Duration) string { return fmt.Sprintf("%.0fms", ms(d)) }

// Window is a span of a run with no fault active: [From, To).
type Window struct {
	From, To time.Duration
}

// HealthyWindows splits a run ending at end into the spans in which no
// fault was active, from the nemesis steps (process -1) in h. A fault
// starts with start-partition, kill or pause (any start-* step) and ends
// with stop-partition, restart or resume (any stop-* step); the run starts
// healthy.
func HealthyWindows(h history.History, end time.Duration) []Window {
	active := 0
	healthyFrom := time.Duration(0)
	var out []Window
	for _, o := range h {
		if o.Process >= 0 || o.Type != history.Info {
			continue
		}
		switch faultEdge(o.F) {
		case +1:
			if active == 0 && o.Time > healthyFrom {
				out = append(out, Window{From: healthyFrom, To: o.Time})
			}
			active++
		case -1:
			if active > 0 {
				active--
				if active == 0 {
					healthyFrom = o.Time
				}
			}
		}
	}
	if active == 0 && end > healthyFrom {
		out = append(out, Window{From: healthyFrom, To: end})
	}
	return out
}

// faultEdge says whether a nemesis step starts (+1) or ends (-1) a fault.
func faultEdge(f string) int {
	switch {
	case f == "kill" || f == "pause" || strings.HasPrefix(f, "start-"):
		return +1
	case f == "restart" || f == "resume" || strings.HasPrefix(f, "stop-"):
		return -1
	}
	return 0
}
