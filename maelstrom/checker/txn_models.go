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

// txnModelNames lists the models Txn checks, weakest first.
func txnModelNames() []string {
	return []string{
		"read-uncommitted", "read-committed", "repeatable-read", "snapshot-isolation", "serializable",
		"strong-session-snapshot-isolation", "strong-snapshot-isolation", "strong-session-serializable", "strict-serializable",
	}
}

// txnModelSpec follows Adya's generalized isolation levels as Elle names
// them. Every model forbids internal inconsistency, duplicate elements,
// reads of values nobody wrote and incompatible orders: those are not
// isolation anomalies but a store that loses track of its own data.
func txnModelSpec(name string) (txnModel, bool) {
	switch name {
	case "read-uncommitted":
		return txnModel{forbids: []string{"G0", "internal", "duplicate-elements", "garbage-read", "incompatible-order"}}, true
	case "read-committed":
		return txnModel{weaker: []string{"read-uncommitted"}, forbids: []string{"G1"}}, true
	case "repeatable-read":
		return txnModel{weaker: []string{"read-committed"}, forbids: []string{"G2-item"}}, true
	case "snapshot-isolation":
		return txnModel{weaker: []string{"read-committed"}, forbids: []string{"G-single", "G-nonadjacent"}}, true
	case "serializable":
		return txnModel{weaker: []string{"repeatable-read", "snapshot-isolation"}, forbids: []string{"G2"}}, true
	case "strong-session-snapshot-isolation":
		return txnModel{weaker: []string{"snapshot-isolation"}, forbids: []string{"G1-process", "G-nonadjacent-process"}, process: true}, true
	case "strong-snapshot-isolation":
		return txnModel{weaker: []string{"strong-session-snapshot-isolation"}, forbids: []string{"G1-realtime", "G-nonadjacent-realtime"}, realtime: true}, true
	case "strong-session-serializable":
		return txnModel{weaker: []string{"serializable", "strong-session-snapshot-isolation"}, forbids: []string{"G1-process", "G2-process"}, process: true}, true
	case "strict-serializable":
		return txnModel{weaker: []string{"strong-session-serializable", "strong-snapshot-isolation"}, forbids: []string{"G1-realtime", "G2-realtime"}, realtime: true}, true
	}
	return txnModel{}, false
}

// txnModelAliases maps Elle's other names (Adya's PL levels included) to
// the names above.
func txnModelAliases() map[string]string {
	return map[string]string{
		"PL-1":                  "read-uncommitted",
		"PL-2":                  "read-committed",
		"PL-2.99":               "repeatable-read",
		"PL-SI":                 "snapshot-isolation",
		"PL-3":                  "serializable",
		"conflict-serializable": "serializable",
		"PL-SS":                 "strict-serializable",
		"strong-serializable":   "strict-serializable",
	}
}

// TxnModels lists the model names Txn accepts, aliases included.
func TxnModels() []string {
	out := txnModelNames()
	for a := range txnModelAliases() {
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
func anomalyImplies(a string) []string {
	switch a {
	case "G0":
		return []string{"G1c", "G0-process"}
	case "G0-process":
		return []string{"G1c-process", "G0-realtime"}
	case "G0-realtime":
		return []string{"G1c-realtime"}
	case "G1a", "G1b":
		return []string{"G1"}
	case "G1c":
		return []string{"G1", "G1c-process"}
	case "G1c-process":
		return []string{"G1-process", "G1c-realtime"}
	case "G1c-realtime":
		return []string{"G1-realtime"}
	case "G1":
		return []string{"G1-process"}
	case "G1-process":
		return []string{"G1-realtime"}
	case "G-single":
		return []string{"G-nonadjacent", "G-single-process"}
	case "G-single-process":
		return []string{"G-nonadjacent-process", "G-single-realtime"}
	case "G-single-realtime":
		return []string{"G-nonadjacent-realtime"}
	case "G-nonadjacent":
		return []string{"G2-item", "G-nonadjacent-process"}
	case "G-nonadjacent-process":
		return []string{"G2-item-process", "G-nonadjacent-realtime"}
	case "G-nonadjacent-realtime":
		return []string{"G2-item-realtime"}
	case "G2-item":
		return []string{"G2", "G2-item-process"}
	case "G2-item-process":
		return []string{"G2-process", "G2-item-realtime"}
	case "G2-item-realtime":
		return []string{"G2-realtime"}
	case "G2":
		return []string{"G2-process"}
	case "G2-process":
		return []string{"G2-realtime"}
	case "dirty-update", "incompatible-order":
		return []string{"G1a"}
	}
	return nil
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
		for _, b := range anomalyImplies(a) {
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
		spec, _ := txnModelSpec(m)
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
		if a, ok := txnModelAliases()[n]; ok {
			n = a
		}
		if _, ok := txnModelSpec(n); !ok {
			unknown = append(unknown, fmt.Sprintf("%q", n))
			continue
		}
		ms.canonical = append(ms.canonical, n)
		var walk func(string)
		walk = func(m string) {
			spec, _ := txnModelSpec(m)
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
	for _, m := range txnModelNames() {
		for _, a := range anomalies {
			if modelRules(m, a) {
				out[m] = true
				break
			}
		}
	}
	for m := range out {
		weakest := true
		spec, _ := txnModelSpec(m)
		for _, w := range spec.weaker {
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
