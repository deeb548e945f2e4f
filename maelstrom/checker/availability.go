package checker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// DefaultMajorityGoal is the goal of --availability majority: the share of
// requests sent to majority-side nodes during partitions that must be
// answered. A Raft leader cut off with the minority keeps its followers on
// the majority side waiting until they elect a new leader (an election
// timeout or two), so a correct store loses a few percent there; 0.9 leaves
// room for that and still fails a store whose majority side stops serving.
const DefaultMajorityGoal = 0.9

// AvailabilityShare counts client operations of one group.
type AvailabilityShare struct {
	Count   int `json:"count"`
	OKCount int `json:"ok-count"`
	// Answered counts ok ops and ops the node refused on their merits
	// (errors 20, 21, 22: key-does-not-exist, key-already-exists,
	// precondition-failed): the node served the request.
	Answered   int     `json:"answered"`
	OKFraction float64 `json:"ok-fraction"`
	// AnsweredFraction is Answered / Count.
	AnsweredFraction float64 `json:"answered-fraction"`
}

func (s *AvailabilityShare) add(p op) {
	s.Count++
	if p.outcome() == history.OK {
		s.OKCount++
	}
	if answered(p) {
		s.Answered++
	}
	s.OKFraction = float64(s.OKCount) / float64(s.Count)
	s.AnsweredFraction = float64(s.Answered) / float64(s.Count)
}

func (s AvailabilityShare) String() string {
	if s.Count == 0 {
		return "no ops"
	}
	str := fmt.Sprintf("ok %.4f (%d of %d", s.OKFraction, s.OKCount, s.Count)
	if s.Answered != s.OKCount {
		str += fmt.Sprintf("; answered %.4f", s.AnsweredFraction)
	}
	return str + ")"
}

// AvailabilityDetails is Availability's evidence.
type AvailabilityDetails struct {
	OKFraction float64 `json:"ok-fraction"`
	OKCount    int     `json:"ok-count"`
	Count      int     `json:"count"`
	Goal       string  `json:"goal,omitempty"`
	// Ops invoked while a partition was active, by the side of the node
	// they went to: the majority side can reach a strict majority of all
	// nodes (itself included) under the grudge in force, counting two
	// nodes as connected when neither ignores the other.
	MajoritySide AvailabilityShare `json:"majority-side"`
	MinoritySide AvailabilityShare `json:"minority-side"`
	// Ops invoked while no partition was active.
	OutsidePartitions AvailabilityShare `json:"outside-partitions"`
}

// answered reports whether the node served the request: ok, or refused
// because of the data (a missing key, an existing key, a failed
// precondition) rather than because it could not serve.
func answered(p op) bool {
	if p.outcome() == history.OK {
		return true
	}
	if p.outcome() != history.Fail || p.completion.Error == nil {
		return false
	}
	switch p.completion.Error.Code {
	case 20, 21, 22:
		return true
	}
	return false
}

// Availability measures the fraction of client invocations that completed
// :ok, and during partitions splits it by side (see AvailabilityDetails).
// spec is Maelstrom's --availability: "" (no goal: always valid), "total"
// (every op must succeed), or a fraction between 0 and 1; or this grader's
// "majority" / "majority:F": at least F (DefaultMajorityGoal) of the ops
// sent to majority-side nodes during partitions were answered. The nodes
// are those named in the history (ops and grudges); AvailabilityOf takes
// them from the caller.
func Availability(h history.History, spec string) Result {
	return AvailabilityOf(h, spec, nil)
}

// ParseAvailabilityGoal checks an --availability spec: it returns the goal
// fraction and whether it applies to the majority side during partitions.
func ParseAvailabilityGoal(spec string) (goal float64, majority bool, err error) {
	switch {
	case spec == "":
		return 0, false, nil
	case spec == "total":
		return 1, false, nil
	case spec == "majority":
		return DefaultMajorityGoal, true, nil
	}
	rest, majority := strings.CutPrefix(spec, "majority:")
	g, err := strconv.ParseFloat(rest, 64)
	if err != nil || g < 0 || g > 1 {
		return 0, false, fmt.Errorf("availability goal %q is neither \"total\", \"majority\", \"majority:F\" nor a fraction F between 0 and 1", spec)
	}
	return g, majority, nil
}

// AvailabilityOf is Availability for a cluster of the given nodes (nil:
// the nodes the history names).
func AvailabilityOf(h history.History, spec string, nodes []string) Result {
	res := Result{Checker: "availability", Valid: Valid}
	var d AvailabilityDetails
	var firstBad, firstMajorityBad *op
	var badGrudge map[string][]string
	if nodes == nil {
		nodes = nodesOf(h)
	}
	pos := map[int]op{} // invocation position -> op
	for _, p := range clientOps(h) {
		pos[p.inv] = p
	}
	var grudge map[string][]string // in force; nil when none
	for i, o := range h {
		if o.Process < 0 {
			switch o.F {
			case "start-partition":
				grudge = asGrudge(o.Value)
			case "stop-partition":
				grudge = nil
			}
			continue
		}
		p, ok := pos[i]
		if !ok {
			continue
		}
		d.Count++
		if p.outcome() == history.OK {
			d.OKCount++
		} else if firstBad == nil {
			firstBad = &p
		}
		switch {
		case grudge == nil:
			d.OutsidePartitions.add(p)
		case p.invoke.Node == "":
			// A client that never reached a node: no side.
		case reachesMajority(p.invoke.Node, grudge, nodes):
			d.MajoritySide.add(p)
			if !answered(p) && firstMajorityBad == nil {
				firstMajorityBad, badGrudge = &p, grudge
			}
		default:
			d.MinoritySide.add(p)
		}
	}
	if d.Count > 0 {
		d.OKFraction = float64(d.OKCount) / float64(d.Count)
	}
	d.Goal = spec
	res.Details = d
	figures := fmt.Sprintf("ok fraction %.4f (%d of %d)", d.OKFraction, d.OKCount, d.Count)
	if d.MajoritySide.Count+d.MinoritySide.Count > 0 {
		figures += fmt.Sprintf("; during partitions: majority side %s, minority side %s; outside partitions %s",
			d.MajoritySide, d.MinoritySide, d.OutsidePartitions)
	}
	goal, majority, err := ParseAvailabilityGoal(spec)
	switch {
	case err != nil:
		res.Valid = Unknown
		res.Summary = err.Error()
		return res
	case spec == "":
		res.Summary = figures + "; no availability goal set"
		return res
	case majority && d.MajoritySide.Count == 0:
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("%s; no client operation went to a majority-side node during a partition, so the availability goal %s cannot be judged", figures, spec)
		return res
	case majority && d.MajoritySide.AnsweredFraction >= goal:
		res.Summary = fmt.Sprintf("%s; the majority side's answered fraction meets the goal %s (%g)", figures, spec, goal)
		return res
	case majority:
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("majority side during partitions answered %.4f (%d of %d), below the availability goal %s (%g); %s",
			d.MajoritySide.AnsweredFraction, d.MajoritySide.Answered, d.MajoritySide.Count, spec, goal, figures)
		if p := firstMajorityBad; p != nil {
			o := p.observed()
			res.Violations = append(res.Violations, Violation{
				What: "majority side unavailable", Node: p.invoke.Node, Op: o, Value: o.Value, Time: o.Time,
				Detail: fmt.Sprintf("the first op sent to a majority-side node during a partition that got no answer was %s %s, invoked at %s, ending %s at %s%s; %s could reach %s under the partition %s",
					p.invoke.F, where(p.invoke.Node, p.invoke.Process), at(p.invoke.Time), p.outcome(), at(o.Time), errorSuffix(o),
					p.invoke.Node, strings.Join(reachable(p.invoke.Node, badGrudge, nodes), ", "), formatGrudge(badGrudge)),
			})
			res.Summary += "; " + res.Violations[0].Detail
		}
		return res
	}
	if d.Count == 0 {
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("no client operations, so the availability goal %s cannot be judged", spec)
		return res
	}
	if d.OKFraction >= goal {
		res.Summary = fmt.Sprintf("%s meets the goal %s", figures, spec)
		return res
	}
	res.Valid = Invalid
	res.Summary = fmt.Sprintf("ok fraction %.4f (%d of %d) is below the availability goal %s", d.OKFraction, d.OKCount, d.Count, spec)
	if firstBad != nil {
		o := firstBad.observed()
		res.Violations = append(res.Violations, Violation{
			What: "unavailable", Node: firstBad.node(), Op: o, Value: o.Value, Time: o.Time,
			Detail: fmt.Sprintf("the first op that did not succeed was %s %s, invoked at %s, ending %s at %s%s", firstBad.invoke.F, where(firstBad.node(), firstBad.invoke.Process), at(firstBad.invoke.Time), firstBad.outcome(), at(o.Time), errorSuffix(o)),
		})
		res.Summary += "; " + res.Violations[0].Detail
	}
	return res
}

// asGrudge reads a start-partition value: receiver -> senders it ignores,
// as the nemesis records it or as decoded from JSON.
func asGrudge(v any) map[string][]string {
	g := map[string][]string{}
	switch x := v.(type) {
	case map[string][]string:
		for k, vs := range x {
			g[k] = vs
		}
	case map[string]any:
		for k, vs := range x {
			list, _ := vs.([]any)
			for _, s := range list {
				if s, ok := s.(string); ok {
					g[k] = append(g[k], s)
				}
			}
		}
	}
	return g
}

// connected reports whether a and b hear each other under grudge g.
func connected(a, b string, g map[string][]string) bool {
	return a == b || (!slices.Contains(g[a], b) && !slices.Contains(g[b], a))
}

// reachable lists the nodes (node itself included) that node is connected
// to under g.
func reachable(node string, g map[string][]string, nodes []string) []string {
	var out []string
	for _, o := range nodes {
		if connected(node, o, g) {
			out = append(out, o)
		}
	}
	if !slices.Contains(nodes, node) {
		out = append(out, node)
	}
	return out
}

func reachesMajority(node string, g map[string][]string, nodes []string) bool {
	n := max(len(nodes), 1)
	return 2*len(reachable(node, g, nodes)) > n
}

// nodesOf lists the nodes a history names: clients' nodes and grudges'.
func nodesOf(h history.History) []string {
	seen := map[string]bool{}
	for _, o := range h {
		if o.Node != "" {
			seen[o.Node] = true
		}
		if o.Process < 0 && o.F == "start-partition" {
			for k, vs := range asGrudge(o.Value) {
				seen[k] = true
				for _, v := range vs {
					seen[v] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// formatGrudge renders a grudge as "{n0 ignores n3 n4; ...}".
func formatGrudge(g map[string][]string) string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if len(g[k]) > 0 {
			parts = append(parts, k+" ignores "+strings.Join(g[k], " "))
		}
	}
	return "{" + strings.Join(parts, "; ") + "}"
}
