// Package canary is the migrator track's canary rule: a new release
// serves a share of the traffic, and the rule watches the outcomes of the
// canary's requests; once it has seen enough of them and the error rate of
// the last Window ones exceeds the limit, it says to roll back. The rule
// is pure: the node feeds it outcomes and acts on its answer (kill switch
// on the release's flag).
package canary

// Rule: roll back when, over the last Window canary requests (at least
// MinRequests of them), the share of errors exceeds MaxErrorRate.
type Rule struct {
	Window       int
	MinRequests  int
	MaxErrorRate float64
}

// Watch applies a Rule to one canary's outcomes.
type Watch struct {
	rule     Rule
	ring     []bool // true: an error
	next, n  int
	errors   int
	Seen     int  // canary requests observed
	Tripped  bool // the rule fired; stays set
	TripSeen int  // Seen when it fired
}

// NewWatch starts watching a canary.
func NewWatch(r Rule) *Watch {
	r.Window = max(r.Window, 1)
	r.MinRequests = min(max(r.MinRequests, 1), r.Window)
	return &Watch{rule: r, ring: make([]bool, r.Window)}
}

// Observe records one canary request's outcome and reports whether the
// canary must be rolled back (true from the request that trips the rule
// on).
func (w *Watch) Observe(failed bool) bool {
	w.Seen++
	if w.n == len(w.ring) {
		if w.ring[w.next] {
			w.errors--
		}
	} else {
		w.n++
	}
	w.ring[w.next] = failed
	if failed {
		w.errors++
	}
	w.next = (w.next + 1) % len(w.ring)
	if !w.Tripped && w.n >= w.rule.MinRequests && float64(w.errors)/float64(w.n) > w.rule.MaxErrorRate {
		w.Tripped, w.TripSeen = true, w.Seen
	}
	return w.Tripped
}

// ErrorRate is the share of errors in the window.
func (w *Watch) ErrorRate() float64 {
	if w.n == 0 {
		return 0
	}
	return float64(w.errors) / float64(w.n)
}
