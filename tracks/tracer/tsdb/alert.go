package tsdb

import "github.com/distsys-curriculum/distsys/tracks/tracer/gorilla"

// Rule is an alert: it is pending while every sample of its series is
// above Threshold, fires once the condition has held for For
// milliseconds of sample time, and resolves at the first sample below.
// The `for` duration is what keeps a single spike from paging anyone.
type Rule struct {
	Name      string  `json:"name"`
	Metric    string  `json:"metric"`
	Labels    Labels  `json:"labels"` // the series, exactly
	Threshold float64 `json:"threshold"`
	For       int64   `json:"for"` // milliseconds
}

// Event is a transition of a rule: "firing" or "resolved" at a sample time.
type Event struct {
	Rule  string `json:"rule"`
	State string `json:"state"`
	T     int64  `json:"t"`
}

// Evaluator is a rule's state machine, stepped with its series' samples
// in time order.
type Evaluator struct {
	Rule    Rule
	pending bool
	since   int64
	firing  bool
	Events  []Event
}

// Step evaluates the rule at one sample.
func (e *Evaluator) Step(s gorilla.Sample) {
	if s.V > e.Rule.Threshold {
		if !e.pending {
			e.pending, e.since = true, s.T
		}
		if !e.firing && s.T-e.since >= e.Rule.For {
			e.firing = true
			e.Events = append(e.Events, Event{e.Rule.Name, "firing", s.T})
		}
		return
	}
	if e.firing {
		e.Events = append(e.Events, Event{e.Rule.Name, "resolved", s.T})
	}
	e.pending, e.firing = false, false
}

type rule struct {
	eval Evaluator
}

func (r *rule) matches(se *Series) bool {
	if se.Metric != r.eval.Rule.Metric || len(se.Labels) != len(r.eval.Rule.Labels) {
		return false
	}
	for k, v := range r.eval.Rule.Labels {
		if se.Labels[k] != v {
			return false
		}
	}
	return true
}

// AddRule installs a rule. Rules are evaluated as samples leave the head
// (in time order, once they can no longer be overtaken); Alerts finishes
// the evaluation over the head without committing it.
func (db *DB) AddRule(r Rule) {
	ru := &rule{eval: Evaluator{Rule: r}}
	db.rules = append(db.rules, ru)
	for _, se := range db.series {
		if ru.matches(se) {
			se.rules = append(se.rules, ru)
			all, _ := se.chunk.Samples()
			for _, s := range all {
				ru.eval.Step(s)
			}
		}
	}
}

// Alerts returns every rule's events so far, in rule order.
func (db *DB) Alerts() []Event {
	out := []Event{}
	for _, r := range db.rules {
		e := r.eval
		e.Events = append([]Event(nil), e.Events...)
		for _, se := range db.series {
			if r.matches(se) {
				for _, s := range se.head {
					e.Step(s)
				}
			}
		}
		out = append(out, e.Events...)
	}
	return out
}

// HasRule reports whether a rule of that name is installed.
func (db *DB) HasRule(name string) bool {
	for _, r := range db.rules {
		if r.eval.Rule.Name == name {
			return true
		}
	}
	return false
}
