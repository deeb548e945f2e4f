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
	// Sends are the link's messages in the order sent, for the windowed
	// heartbeat budget (not written to results.json).
	Sends []Send `json:"-"`
}

// Send is one message on a link: when it was sent, its body type and the
// length of its "entries" array (0 when it has none).
type Send struct {
	At      time.Duration
	Type    string
	Entries int
}

// HeartbeatTypes are the body types that are heartbeats wherever they
// appear; EmptyAppendTypes are the append types that are heartbeats when
// they carry no entries. A link from a leader to a follower that carries
// none of these types (a node with its own message names) has every
// message counted.
var (
	HeartbeatTypes   = []string{"raft_heartbeat", "heartbeat"}
	EmptyAppendTypes = []string{"raft_append", "append_entries"}
)

// heartbeats keeps the sends that count against the heartbeat budget: the
// heartbeats and empty appends when the link uses the known names, else all.
func heartbeats(sends []Send) []Send {
	known := slices.ContainsFunc(sends, func(s Send) bool {
		return slices.Contains(HeartbeatTypes, s.Type) || slices.Contains(EmptyAppendTypes, s.Type)
	})
	if !known {
		return sends
	}
	var out []Send
	for _, s := range sends {
		if slices.Contains(HeartbeatTypes, s.Type) || (slices.Contains(EmptyAppendTypes, s.Type) && s.Entries == 0) {
			out = append(out, s)
		}
	}
	return out
}

// HeartbeatRate is one follower's heartbeat traffic from its leader: the
// most messages the leader sent it in any window of ElectionLimits.Window
// while healthy, and where that window starts.
type HeartbeatRate struct {
	Leader   string        `json:"leader"`
	Follower string        `json:"follower"`
	Max      int           `json:"max"`  // messages in the busiest window
	Rate     float64       `json:"rate"` // Max per second
	At       time.Duration `json:"at"`   // start of the busiest window
}

// ElectionLimits are the election checker's bounds.
type ElectionLimits struct {
	// Failover bounds the time from a heal (no fault active any more) to a
	// leader that a majority follows. Default 2 s.
	Failover time.Duration
	// HeartbeatRate bounds the heartbeats per second the leader sends each
	// follower while healthy (no fault active, from the leader's
	// establishment on), counted in sliding windows of Window: its
	// HeartbeatTypes and EmptyAppendTypes without entries, or every message
	// on a link that uses none of those names. Default 10.
	HeartbeatRate float64
	// Window is the length of the sliding window the heartbeats are
	// counted in. Default 1 s.
	Window time.Duration
	// Failovers is the least number of failovers a run must have judged
	// (a healthy window whose leader leads a later term than the leader of
	// the healthy window before it): a stage named for partitions or kills
	// has tested nothing if no fault ever took the leader away. A run with
	// fewer is unknown, saying so. Default 0.
	Failovers int
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
	BusiestRate float64            `json:"busiest_rate"` // messages/s on the busiest link, over the run
	Busiest     string             `json:"busiest"`      // "n1->n2"
	TypeRates   map[string]float64 `json:"type_rates"`   // messages/s per body type, all links
	// Heartbeats is, per leader and follower, the busiest window of the
	// leader's messages to that follower while healthy; MaxHeartbeat is
	// the busiest of them.
	Heartbeats   []HeartbeatRate `json:"heartbeats"`
	MaxHeartbeat HeartbeatRate   `json:"max_heartbeat"`
	// LeaderChanges counts the judged failovers: healthy windows whose
	// leader leads a later term than the previous window's.
	LeaderChanges int `json:"leader_changes"`
	// Isolations counts the isolations of a follower (isolate-follower)
	// judged: a leader before, and the window after it watched.
	Isolations int `json:"isolations"`
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
// established and the bound has passed (within it, elections the fault set
// going may still depose the first leader; the failover is then measured
// to the leader that stays), and at most limits.HeartbeatRate heartbeats per second from
// the leader to each follower in any window of limits.Window while healthy.
// nodes are the cluster's ids; duration is the length of the run the
// traffic was counted over.
func Election(h history.History, nodes []string, traffic []LinkTraffic, duration time.Duration, limits ElectionLimits) Result {
	if limits.Failover <= 0 {
		limits.Failover = 2 * time.Second
	}
	if limits.HeartbeatRate <= 0 {
		limits.HeartbeatRate = 10
	}
	if limits.Window <= 0 {
		limits.Window = time.Second
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
	// The spans in which an established leader's messages to its followers
	// are heartbeats: from its establishment to the window's end (or to the
	// election that ended it).
	type span struct {
		leader   string
		from, to time.Duration
	}
	var spans []span
	var prev *poll // the leader established in the previous healthy window
	prevTo := time.Duration(0)
	// end+1: the last window includes the run's last poll.
	for _, w := range HealthyWindows(h, end+1) {
		f := Failover{Healed: w.From}
		// Only a follower was cut off since the last window: its return
		// must not depose the leader that kept its majority meanwhile.
		var isolated []string
		if prev != nil {
			isolated = onlyIsolations(h, prevTo, w.From)
			if len(isolated) > 0 && !slices.Contains(isolated, prev.node) {
				d.Isolations++
				for _, p := range polls {
					if p.at < w.From || p.at >= w.To || p.st.Term <= prev.st.Term {
						continue
					}
					op := p.op
					add(Violation{What: "rejoining node disrupted the leader", Node: p.node, Op: &op, Value: p.st.Term, Time: p.at,
						Detail: fmt.Sprintf("%s was cut off from %s to %s while %s kept leading term %d with a majority; %s after the heal %s is in term %d. A node that cannot reach a leader must not raise its term on its own: with pre-vote it asks first whether it could win, and nobody who hears from a leader says yes.",
							strings.Join(isolated, ", "), at(prevTo), at(w.From), prev.node, prev.st.Term, at(p.at), p.node, p.st.Term)})
					break
				}
			}
		}
		latest := map[string]ElectionStatus{}
		established, changed := false, false
		var est poll
		for _, p := range polls {
			if p.at < w.From || p.at >= w.To {
				continue
			}
			if established {
				if p.st.Term > est.st.Term && p.at <= w.From+limits.Failover {
					// Still the failover: a follower whose timer ran
					// out during the fault, or just after the heal
					// before the leader's first heartbeat reached it,
					// may campaign although a leader has won. The
					// cluster must settle within the bound, so the
					// leader is looked for again.
					established = false
					spans[len(spans)-1].to = p.at
					took = took[:len(took)-1]
					if changed {
						d.LeaderChanges--
					}
					f = Failover{Healed: w.From}
					latest[p.node] = p.st
					continue
				}
				if p.st.Term > est.st.Term {
					op := p.op
					add(Violation{What: "election while healthy", Node: p.node, Op: &op, Value: p.st.Term, Time: p.at,
						Detail: fmt.Sprintf("%s is in term %d at %s, but %s had led term %d with a majority since %s, no fault was active and the heal was more than %v before: a follower timed out although the leader was reachable (heartbeats too rare for the election timeout?), or a node disrupted a healthy leader (pre-vote and check-quorum prevent that).",
							p.node, p.st.Term, at(p.at), est.node, est.st.Term, at(est.at), limits.Failover)})
					spans[len(spans)-1].to = p.at
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
				changed = prev != nil && t > prev.st.Term
				if changed {
					d.LeaderChanges++
				}
				spans = append(spans, span{leader: l, from: p.at, to: w.To})
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
		if established {
			e := est
			prev = &e
		} else if !f.Skipped {
			prev = nil
		}
		prevTo = w.To
	}
	if len(took) > 0 {
		slices.Sort(took)
		d.FailoverP50 = took[(len(took)-1)/2]
		d.FailoverMax = took[len(took)-1]
	}

	// 4. The heartbeat budget: per follower, the leader's messages in
	// sliding windows while healthy. The per-link totals over the run are
	// kept for the summary and results.json.
	d.Traffic = traffic
	if duration > 0 {
		for _, l := range traffic {
			rate := float64(l.Count) / duration.Seconds()
			for t, c := range l.ByType {
				d.TypeRates[t] += float64(c) / duration.Seconds()
			}
			if rate > d.BusiestRate || d.Busiest == "" {
				d.BusiestRate, d.Busiest = rate, l.Src+"->"+l.Dest
			}
		}
	}
	links := map[[2]string]LinkTraffic{}
	for _, l := range traffic {
		links[[2]string{l.Src, l.Dest}] = l
	}
	best := map[[2]string]int{} // leader, follower -> index in d.Heartbeats
	var over *Violation
	for _, sp := range spans {
		for _, f := range nodes {
			if f == sp.leader {
				continue
			}
			k := [2]string{sp.leader, f}
			var in []Send
			for _, s := range heartbeats(links[k].Sends) {
				if s.At >= sp.from && s.At < sp.to {
					in = append(in, s)
				}
			}
			n, start, first := busiestWindow(in, limits.Window, limits.HeartbeatRate)
			i, seen := best[k]
			if !seen {
				i = len(d.Heartbeats)
				best[k] = i
				d.Heartbeats = append(d.Heartbeats, HeartbeatRate{Leader: sp.leader, Follower: f, At: sp.from})
			}
			if n > d.Heartbeats[i].Max {
				d.Heartbeats[i].Max, d.Heartbeats[i].At = n, start
				d.Heartbeats[i].Rate = float64(n) / limits.Window.Seconds()
			}
			if first >= 0 && (over == nil || in[first].At < over.Time) {
				w := windowOf(in, first, limits.Window)
				over = &Violation{What: "heartbeat budget exceeded", Node: sp.leader, Value: fmt.Sprintf("%d in %v", len(w), limits.Window), Time: w[0].At,
					Detail: fmt.Sprintf("leader %s sent follower %s %d messages in the %v from %s (%s) while no fault was active; the budget is %.0f heartbeats per second per follower. A leader only needs to heartbeat a few times per election timeout.",
						sp.leader, f, len(w), limits.Window, at(w[0].At), windowTypes(w), limits.HeartbeatRate)}
			}
		}
	}
	for _, hb := range d.Heartbeats {
		if hb.Max > d.MaxHeartbeat.Max {
			d.MaxHeartbeat = hb
		}
	}
	if over != nil {
		add(*over)
	}
	res.Details = d
	res.Violations = vs
	skipped := 0
	for _, f := range d.Failovers {
		if f.Skipped {
			skipped++
		}
	}
	maxHB := "no heartbeats counted"
	if m := d.MaxHeartbeat; m.Max > 0 {
		maxHB = fmt.Sprintf("max heartbeats %d in %v (%s->%s from %s)", m.Max, limits.Window, m.Leader, m.Follower, at(m.At))
	}
	stats := fmt.Sprintf("%d polls, %d terms with a leader, %d failover(s) judged, failover p50 %s max %s over %d healthy window(s) (%d too short to judge), %s, busiest link %s %.1f msgs/s",
		d.Polls, len(d.Leaders), d.LeaderChanges, msText(d.FailoverP50), msText(d.FailoverMax), len(took), skipped, maxHB, d.Busiest, d.BusiestRate)
	if d.Isolations > 0 {
		stats += fmt.Sprintf(", %d isolated follower(s) rejoined", d.Isolations)
	}
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
	case d.LeaderChanges < limits.Failovers:
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("the faults never took the leader away, so no failover was tested (%d judged, the stage needs %d): %s",
			d.LeaderChanges, limits.Failovers, stats)
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

// busiestWindow finds, in sends ordered by time, the most sends in any
// window [t, t+w) and where it starts, and the index of the first send that
// starts a window with more than rate*w sends (-1 if none).
func busiestWindow(sends []Send, w time.Duration, rate float64) (most int, start time.Duration, first int) {
	first = -1
	budget := rate * w.Seconds()
	j := 0
	for i := range sends {
		for j < len(sends) && sends[j].At < sends[i].At+w {
			j++
		}
		n := j - i
		if n > most {
			most, start = n, sends[i].At
		}
		if first < 0 && float64(n) > budget {
			first = i
		}
	}
	return most, start, first
}

// windowOf is the sends in the window of length w starting at sends[i].
func windowOf(sends []Send, i int, w time.Duration) []Send {
	j := i
	for j < len(sends) && sends[j].At < sends[i].At+w {
		j++
	}
	return sends[i:j]
}

// windowTypes counts sends by body type, busiest first.
func windowTypes(sends []Send) string {
	by := map[string]int{}
	for _, s := range sends {
		by[s.Type]++
	}
	types := make([]string, 0, len(by))
	for t := range by {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		if by[types[i]] != by[types[j]] {
			return by[types[i]] > by[types[j]]
		}
		return types[i] < types[j]
	})
	var parts []string
	for _, t := range types {
		parts = append(parts, fmt.Sprintf("%s %d", t, by[t]))
	}
	return strings.Join(parts, ", ")
}

func msText(d time.Duration) string { return fmt.Sprintf("%.0fms", ms(d)) }

// onlyIsolations returns the nodes cut off by isolate-follower steps in
// [from, to], or nil when any other fault step happened there.
func onlyIsolations(h history.History, from, to time.Duration) []string {
	var nodes []string
	for _, o := range h {
		if o.Process >= 0 || o.Type != history.Info || o.Time < from || o.Time > to || faultEdge(o.F) == 0 {
			continue
		}
		if o.F != "start-isolate" && o.F != "stop-isolate" {
			return nil
		}
		if o.F == "start-isolate" {
			nodes = append(nodes, faultNodes(o.Value)...)
		}
	}
	return nodes
}
