package checker

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// MigrateOp is the migrate workload's history value. For write and read:
// the client's API version, the key, and Name, the person's full name
// ("First Last") written or read back whatever the shape on the wire;
// Release is the release the node says served the request. For deploy:
// Release and, for a canary, Canary.
type MigrateOp struct {
	API     int    `json:"api,omitempty"`
	Key     string `json:"key,omitempty"`
	Name    string `json:"name,omitempty"`
	Release int    `json:"release,omitempty"`
	Canary  bool   `json:"canary,omitempty"`
}

// MigrateParams: the canary's release and how long after its deployment
// it must stop serving.
type MigrateParams struct {
	CanaryRelease int
	RollbackBound time.Duration
	Releases      []int // the releases the run deploys, in order
}

// MigrateDetails are the migrate checker's figures.
type MigrateDetails struct {
	OKByAPI        map[int]int   `json:"ok-by-api"`
	OKByRelease    map[int]int   `json:"ok-by-release"`
	Deployed       map[int]int64 `json:"deployed-ms"` // release -> when its deploy completed
	CanaryServed   int           `json:"canary-served"`
	CanaryErrors   int           `json:"canary-errors"`
	RolledBackInMS int64         `json:"rolled-back-in-ms"` // last canary-served completion after its deploy; -1 if never served
}

// IsCanaryError reports whether an op's error is the canary's: the node
// says so in the text. Such errors are excused only within the rollback
// bound after the canary's deployment.
func IsCanaryError(e *history.Error) bool { return e != nil && strings.Contains(e.Text, "canary") }

// Migrate judges the migrate workload: every request of both API versions
// served at every moment (the only failures allowed are the canary's, and
// only until the rollback bound), every read equal to the key's last
// write (or to a write whose outcome is unknown), in the shape of the
// client's version; every release deployed; the canary served some
// requests and none after the bound.
func Migrate(h history.History, p MigrateParams) Result {
	r := Result{Checker: "migrate", Valid: Valid}
	d := MigrateDetails{OKByAPI: map[int]int{}, OKByRelease: map[int]int{}, Deployed: map[int]int64{}, RolledBackInMS: -1}
	pairs := h.Pairs()
	add := func(what string, op history.Op, value any, detail string) {
		r.Valid = Invalid
		if len(r.Violations) < 20 {
			o := op
			r.Violations = append(r.Violations, Violation{What: what, Node: op.Node, Op: &o, Value: value, Time: op.Time, Detail: detail})
		}
	}
	// Deploys first: the stable release at each moment and the canary's
	// deployment time.
	type deploy struct {
		release int
		canary  bool
		invoked time.Duration
		done    time.Duration
	}
	var deploys []deploy
	for _, pr := range pairs {
		if pr.Invoke.F != "deploy" || pr.Outcome() != history.OK {
			continue
		}
		v, _ := pr.Invoke.Value.(MigrateOp)
		deploys = append(deploys, deploy{release: v.Release, canary: v.Canary, invoked: pr.Invoke.Time, done: pr.Completion.Time})
		d.Deployed[v.Release] = pr.Completion.Time.Milliseconds()
	}
	var last history.Op
	if len(h) > 0 {
		last = h[len(h)-1]
	}
	for _, rel := range p.Releases {
		if _, ok := d.Deployed[rel]; !ok {
			add("release never deployed", last, rel, fmt.Sprintf("release %d was never acknowledged: the run must reach every release (is the time limit long enough for the --deploys schedule?)", rel))
		}
	}
	canaryAt, canaryInv, hasCanary := time.Duration(0), time.Duration(0), false
	for _, dp := range deploys {
		if dp.canary {
			canaryAt, canaryInv, hasCanary = dp.done, dp.invoked, true
		}
	}
	// stableAt is the release every request invoked at t must at least be
	// served by: the last non-canary release whose deploy completed before t.
	stableAt := func(t time.Duration) int {
		s := 1
		for _, dp := range deploys {
			if !dp.canary && dp.done < t {
				s = max(s, dp.release)
			}
		}
		return s
	}
	possible := map[string]map[string]bool{} // key -> names a read may return ("" = absent)
	var lastCanary time.Duration
	canarySeen := false
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].Invoke.Index < pairs[j].Invoke.Index })
	for _, pr := range pairs {
		if pr.Invoke.F == "deploy" {
			continue
		}
		inv, _ := pr.Invoke.Value.(MigrateOp)
		if possible[inv.Key] == nil {
			possible[inv.Key] = map[string]bool{"": true}
		}
		ps := possible[inv.Key]
		out := pr.Outcome()
		comp := pr.Invoke
		if pr.Completion != nil {
			comp = *pr.Completion
		}
		if out != history.OK {
			if pr.Completion != nil && pr.Completion.Error != nil && pr.Completion.Error.Code == 20 && inv.API > 0 && pr.Invoke.F == "read" {
				if !ps[""] {
					add("lost record", comp, inv.Key, fmt.Sprintf("read of %s (api %d) said the key does not exist, but it was written", inv.Key, inv.API))
				}
				continue
			}
			if pr.Completion != nil && IsCanaryError(pr.Completion.Error) {
				d.CanaryErrors++
				canarySeen = true
				lastCanary = max(lastCanary, comp.Time)
				if !hasCanary || comp.Time < canaryInv || comp.Time > canaryAt+p.RollbackBound {
					add("canary error outside its window", comp, inv.Key, fmt.Sprintf("the canary's error on %s came %v after the canary's deployment (bound %v)", inv.Key, comp.Time-canaryAt, p.RollbackBound))
				}
			} else {
				what := "request failed"
				if pr.Completion != nil && pr.Completion.Error != nil && pr.Completion.Error.Name == "malformed-response" {
					what = "mis-shaped record"
				}
				add(what, comp, inv.Key, fmt.Sprintf("a client of API version %d was not served (%s on %s): both versions must be served at every moment", inv.API, describeErr(pr.Completion), inv.Key))
			}
			if pr.Invoke.F == "write" && out == history.Info {
				ps[inv.Name] = true
			}
			continue
		}
		got, _ := comp.Value.(MigrateOp)
		d.OKByAPI[inv.API]++
		d.OKByRelease[got.Release]++
		if got.Release == p.CanaryRelease {
			d.CanaryServed++
			canarySeen = true
			lastCanary = max(lastCanary, comp.Time)
			if comp.Time > canaryAt+p.RollbackBound {
				add("canary not rolled back", comp, got.Release, fmt.Sprintf("release %d (the canary) still served %s %v after its deployment (bound %v)", got.Release, inv.Key, comp.Time-canaryAt, p.RollbackBound))
			}
		} else if want := stableAt(pr.Invoke.Time); got.Release < want {
			add("stale release", comp, got.Release, fmt.Sprintf("release %d served %s after release %d was deployed", got.Release, inv.Key, want))
		}
		switch pr.Invoke.F {
		case "write":
			possible[inv.Key] = map[string]bool{inv.Name: true}
		case "read":
			if !ps[got.Name] {
				add("wrong record", comp, got.Name, fmt.Sprintf("read of %s (api %d) returned %q; the last write was %s", inv.Key, inv.API, got.Name, names(ps)))
			}
		}
	}
	if hasCanary {
		if !canarySeen {
			add("canary never served", last, p.CanaryRelease, "the canary was deployed but no request was served by it: a canary must take a share of the traffic")
		} else {
			d.RolledBackInMS = max(lastCanary-canaryAt, 0).Milliseconds()
		}
	}
	r.Details = d
	total := 0
	for _, n := range d.OKByAPI {
		total += n
	}
	r.Summary = fmt.Sprintf("%d requests served (api 1: %d, api 2: %d); canary: %d served, %d errors, last served %d ms after its deployment (bound %d ms)",
		total, d.OKByAPI[1], d.OKByAPI[2], d.CanaryServed, d.CanaryErrors, d.RolledBackInMS, p.RollbackBound.Milliseconds())
	if r.Valid == Invalid {
		r.Summary = fmt.Sprintf("%s: %s", r.Violations[0].What, r.Summary)
	}
	return r
}

func describeErr(c *history.Op) string {
	if c == nil || c.Error == nil {
		return "no reply"
	}
	return c.Error.String()
}

func names(ps map[string]bool) string {
	var out []string
	for n := range ps {
		if n == "" {
			n = "(none)"
		}
		out = append(out, fmt.Sprintf("%q", n))
	}
	sort.Strings(out)
	return strings.Join(out, " or ")
}
