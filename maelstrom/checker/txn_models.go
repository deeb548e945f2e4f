package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// txnModel is a consistency model Txn can check: the anomalies it forbids
// beyond the weaker models it implies, and the order edges it needs.
type txnModel struct {
	weaker   []string
	forbids  []string
	process  bool
	realtime bool
}

// txnModels follows Adya's generalized isolation levels as Elle names
// them. Every model forbids internal inconsistency, duplicate elements,
// reads of values nobody wrote and incompatible orders: those are not
// isolation anomalies but a store that loses track of its own data.
var txnModels = map[string]txnModel{
	"read-uncommitted": {forbids: []string{"G0", "internal", "duplicate-elements", "garbage-read", "incompatible-order"}},
	"read-committed":   {weaker: []string{"read-uncommitted"}, forbids: []string{"G1"}},
	"repeatable-read":  {weaker: []string{"read-committed"}, forbids: []string{"G2-item"}},
	"snapshot-isolation": {
		weaker:  []string{"read-committed"},
		forbids: []string{"G-single", "G-nonadjacent"},
	},
	"serializable": {weaker: []string{"repeatable-read", "snapshot-isolation"}, forbids: []string{"G2"}},
	"strong-session-snapshot-isolation": {
		weaker:  []string{"snapshot-isolation"},
		forbids: []string{"G1-process", "G-nonadjacent-process"},
		process: true,
	},
	"strong-snapshot-isolation": {
		weaker:   []string{"strong-session-snapshot-isolation"},
		forbids:  []string{"G1-realtime", "G-nonadjacent-realtime"},
		realtime: true,
	},
	"strong-session-serializable": {
		weaker:  []string{"serializable", "strong-session-snapshot-isolation"},
		forbids: []string{"G1-process", "G2-process"},
		process: true,
	},
	"strict-serializable": {
		weaker:   []string{"strong-session-serializable", "strong-snapshot-isolation"},
		forbids:  []string{"G1-realtime", "G2-realtime"},
		realtime: true,
	},
}

// txnModelAliases maps Elle's other names (Adya's PL levels included) to
// the names above.
var txnModelAliases = map[string]string{
	"PL-1":                  "read-uncommitted",
	"PL-2":                  "read-committed",
	"PL-2.99":               "repeatable-read",
	"PL-SI":                 "snapshot-isolation",
	"PL-3":                  "serializable",
	"conflict-serializable": "serializable",
	"PL-SS":                 "strict-serializable",
	"strong-serializable":   "strict-serializable",
}

// TxnModels lists the model names Txn accepts, aliases included.
func TxnModels() []string {
	var out []string
	for m := range txnModels {
		out = append(out, m)
	}
	for a := range txnModelAliases {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// anomalyImplies says which anomalies an anomaly is also an instance of.
// Our cycles are over single keys (items), so G-single and G-nonadjacent
// are G2-item too; process order is part of realtime order, so every
// -process anomaly is also a -realtime one; dirty updates and
// incompatible orders mean some transaction saw aborted state (G1a).
var anomalyImplies = map[string][]string{
	"G0":                     {"G1c", "G0-process"},
	"G0-process":             {"G1c-process", "G0-realtime"},
	"G0-realtime":            {"G1c-realtime"},
	"G1a":                    {"G1"},
	"G1b":                    {"G1"},
	"G1c":                    {"G1", "G1c-process"},
	"G1c-process":            {"G1-process", "G1c-realtime"},
	"G1c-realtime":           {"G1-realtime"},
	"G1":                     {"G1-process"},
	"G1-process":             {"G1-realtime"},
	"G-single":               {"G-nonadjacent", "G-single-process"},
	"G-single-process":       {"G-nonadjacent-process", "G-single-realtime"},
	"G-single-realtime":      {"G-nonadjacent-realtime"},
	"G-nonadjacent":          {"G2-item", "G-nonadjacent-process"},
	"G-nonadjacent-process":  {"G2-item-process", "G-nonadjacent-realtime"},
	"G-nonadjacent-realtime": {"G2-item-realtime"},
	"G2-item":                {"G2", "G2-item-process"},
	"G2-item-process":        {"G2-process", "G2-item-realtime"},
	"G2-item-realtime":       {"G2-realtime"},
	"G2":                     {"G2-process"},
	"G2-process":             {"G2-realtime"},
	"dirty-update":           {"G1a"},
	"incompatible-order":     {"G1a"},
}

// anomalyRank orders anomaly types for reports, worst first.
func anomalyRank(t string) int {
	order := []string{"internal", "duplicate-elements", "garbage-read", "incompatible-order", "G0", "G1a", "G1b", "dirty-update", "G1c",
		"G-single", "G-nonadjacent", "G2-item"}
	base := strings.TrimSuffix(strings.TrimSuffix(t, "-realtime"), "-process")
	r := slices.Index(order, base)
	if r < 0 {
		r = len(order)
	}
	switch {
	case strings.HasSuffix(t, "-process"):
		r += 100
	case strings.HasSuffix(t, "-realtime"):
		r += 200
	}
	return r
}

func impliedAnomalies(t string) map[string]bool {
	seen := map[string]bool{t: true}
	queue := []string{t}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for _, b := range anomalyImplies[a] {
			if !seen[b] {
				seen[b] = true
				queue = append(queue, b)
			}
		}
	}
	return seen
}

// modelForbidden is every anomaly a model forbids directly or through the
// weaker models it implies.
func modelForbidden(name string) map[string]bool {
	out := map[string]bool{}
	var walk func(string)
	walk = func(m string) {
		spec := txnModels[m]
		for _, f := range spec.forbids {
			out[f] = true
		}
		for _, w := range spec.weaker {
			walk(w)
		}
	}
	walk(name)
	return out
}

func modelRules(name, anomaly string) bool {
	forbidden := modelForbidden(name)
	for a := range impliedAnomalies(anomaly) {
		if forbidden[a] {
			return true
		}
	}
	return false
}

// modelSet is the models a check runs against.
type modelSet struct {
	names     []string
	canonical []string
	process   bool
	realtime  bool
}

func (ms modelSet) forbids(anomaly string) bool {
	for _, m := range ms.canonical {
		if modelRules(m, anomaly) {
			return true
		}
	}
	return false
}

func resolveModels(names []string) (modelSet, error) {
	if len(names) == 0 {
		names = []string{"strict-serializable"}
	}
	ms := modelSet{names: names}
	var unknown []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if a, ok := txnModelAliases[n]; ok {
			n = a
		}
		if _, ok := txnModels[n]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q", n))
			continue
		}
		ms.canonical = append(ms.canonical, n)
		var walk func(string)
		walk = func(m string) {
			spec := txnModels[m]
			ms.process = ms.process || spec.process
			ms.realtime = ms.realtime || spec.realtime
			for _, w := range spec.weaker {
				walk(w)
			}
		}
		walk(n)
	}
	if len(unknown) > 0 {
		return ms, fmt.Errorf("unknown consistency model %s; known models are %s",
			strings.Join(unknown, ", "), strings.Join(TxnModels(), ", "))
	}
	return ms, nil
}

// ruledOut returns the weakest models the anomalies rule out and the
// stronger ones they rule out too.
func ruledOut(anomalies []string) (not, alsoNot []string) {
	out := map[string]bool{}
	for m := range txnModels {
		for _, a := range anomalies {
			if modelRules(m, a) {
				out[m] = true
				break
			}
		}
	}
	for m := range out {
		weakest := true
		for _, w := range txnModels[m].weaker {
			if out[w] {
				weakest = false
			}
		}
		if weakest {
			not = append(not, m)
		} else {
			alsoNot = append(alsoNot, m)
		}
	}
	sort.Strings(not)
	sort.Strings(alsoNot)
	return not, alsoNot
}
