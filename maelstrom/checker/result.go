// Package checker holds the grader's checkers: pure functions from a
// history (and what the grader observed) to a verdict with evidence.
//
// Every checker answers valid, invalid or unknown, never valid when it
// could not decide, and when invalid it names the first violation: what
// went wrong, on which node, in which operation, with which value, when.
package checker

import (
	"encoding/json"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// Validity is a three-valued verdict. Composition is "worst wins":
// Invalid > Unknown > Valid.
type Validity string

const (
	Valid   Validity = "valid"
	Invalid Validity = "invalid"
	Unknown Validity = "unknown"
)

// Worst returns the worse of two verdicts.
func Worst(a, b Validity) Validity {
	rank := map[Validity]int{Valid: 0, Unknown: 1, Invalid: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Violation explains one thing that went wrong.
type Violation struct {
	What  string        `json:"what"`            // e.g. "lost write", "duplicate id"
	Node  string        `json:"node,omitempty"`  // the node responsible or observed
	Op    *history.Op   `json:"op,omitempty"`    // the operation that shows it
	Value any           `json:"value,omitempty"` // the offending value
	Time  time.Duration `json:"time"`            // when (since the start of the run)
	// Detail is a full sentence a learner can act on.
	Detail string `json:"detail"`
}

// Result is one checker's verdict.
type Result struct {
	Checker    string      `json:"checker"`
	Valid      Validity    `json:"valid"`
	Summary    string      `json:"summary"`              // one line
	Violations []Violation `json:"violations,omitempty"` // first one first; capped by the checker
	Details    any         `json:"details,omitempty"`    // checker-specific, JSON-encodable
	// Warnings are findings that do not change the verdict but that a
	// learner should read (the summary lists them prominently).
	Warnings []string `json:"warnings,omitempty"`
}

// First returns the first violation or nil.
func (r Result) First() *Violation {
	if len(r.Violations) == 0 {
		return nil
	}
	return &r.Violations[0]
}

// MarshalIndent renders the result for results.json.
func (r Result) MarshalIndent() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Quantiles summarises a latency distribution.
type Quantiles struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50"`
	P95   time.Duration `json:"p95"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
}
