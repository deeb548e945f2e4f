package checker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// ShardChange is the value of a completed reconfiguration in a sharded-kv
// history: the controller op the grader made (join, leave or move) and
// the shard-to-group table before and after it (After is nil when the
// grader could not read it back).
type ShardChange struct {
	Op     string `json:"op"`
	GID    int    `json:"gid"`
	Shard  int    `json:"shard,omitempty"`
	Num    int    `json:"num"` // configuration number after the change
	Before []int  `json:"before"`
	After  []int  `json:"after,omitempty"`
}

func (c ShardChange) String() string {
	switch c.Op {
	case "move":
		return fmt.Sprintf("move shard %d to group %d (config %d)", c.Shard, c.GID, c.Num)
	default:
		return fmt.Sprintf("%s group %d (config %d)", c.Op, c.GID, c.Num)
	}
}

// Moved lists the shards whose group differs between Before and After;
// every shard when After is unknown.
func (c ShardChange) Moved() []int {
	var out []int
	for s := range c.Before {
		if c.After == nil || s >= len(c.After) || c.After[s] != c.Before[s] {
			out = append(out, s)
		}
	}
	return out
}

// ShardWait is one shard's unavailability after a change: the longest a
// request on the shard, sent at the change or later (until the next
// change), waited for the first success on that shard.
type ShardWait struct {
	Shard int           `json:"shard"`
	Moved bool          `json:"moved"`
	Wait  time.Duration `json:"wait"`
	// Never: no request on the shard succeeded after that point; Wait runs
	// to the end of the history.
	Never bool `json:"never,omitempty"`
}

// ShardChangeReport is what one change cost.
type ShardChangeReport struct {
	Time   time.Duration `json:"time"` // when the change was acknowledged
	Node   string        `json:"node"`
	Change ShardChange   `json:"change"`
	// Calm: no fault was active from the change's request until Bound
	// after its acknowledgement, so the bound applies to it.
	Calm       bool          `json:"calm"`
	WorstMoved time.Duration `json:"worst-moved"`
	WorstStill time.Duration `json:"worst-still"`
	Shards     []ShardWait   `json:"shards"`
}

// ShardAvailabilityDetails is ShardAvailability's evidence.
type ShardAvailabilityDetails struct {
	Bound   time.Duration       `json:"bound"`
	Changes []ShardChangeReport `json:"changes"`
	// Judged counts the calm changes, the ones the bound applies to.
	Judged int `json:"judged"`
	// WorstMoved and WorstStill are the longest waits over all changes,
	// on shards that moved and on shards that did not.
	WorstMoved time.Duration `json:"worst-moved"`
	WorstStill time.Duration `json:"worst-still"`
}

// ShardAvailability measures, for every acknowledged reconfiguration
// (ops with f "reconfigure" whose value is a ShardChange), how long each
// shard was unavailable after it: for every moment t from the
// acknowledgement until the next reconfiguration is requested (t = the
// acknowledgement and each later request on the shard), the time from t
// to the first successful completion of a request on the shard sent at t
// or later; the shard's wait is the longest of these. Keys are integers,
// in shard key mod shards. A change made while no fault was active (see
// Calm) must keep every shard's wait within bound; changes during faults
// are reported, since a migration cut off by a partition must wait for
// the heal.
func ShardAvailability(h history.History, shards int, bound time.Duration) Result {
	res := Result{Checker: "shard-availability", Valid: Valid}
	d := ShardAvailabilityDetails{Bound: bound}
	type kvOp struct {
		invoke, done time.Duration
		ok           bool
	}
	perShard := make([][]kvOp, shards)
	var changes []op
	var end time.Duration
	for _, o := range h {
		end = max(end, o.Time)
	}
	for _, p := range pairUp(h) {
		if p.invoke.F == "reconfigure" {
			if p.outcome() == history.OK {
				if _, ok := asShardChange(p.completion.Value); ok {
					changes = append(changes, p)
				}
			}
			continue
		}
		kv, ok := kvOf(p.invoke.Value)
		if !ok {
			continue
		}
		s := int(((kv.Key % int64(shards)) + int64(shards)) % int64(shards))
		k := kvOp{invoke: p.invoke.Time, ok: p.outcome() == history.OK}
		if k.ok {
			k.done = p.completion.Time
		}
		perShard[s] = append(perShard[s], k)
	}
	// Requests on a shard that failed on their merits (a cas whose
	// precondition failed) were served: they count as successes.
	for _, p := range pairUp(h) {
		kv, ok := kvOf(p.invoke.Value)
		if !ok || p.outcome() != history.Fail || !answered(p) {
			continue
		}
		s := int(((kv.Key % int64(shards)) + int64(shards)) % int64(shards))
		perShard[s] = append(perShard[s], kvOp{invoke: p.invoke.Time, done: p.completion.Time, ok: true})
	}
	faults := faultIntervals(h, end)
	// waitFrom is the time from t to the first success on shard s sent at
	// t or later; never when none succeeded. A shard nobody asked for
	// after t waited for nothing (0).
	waitFrom := func(s int, t time.Duration) (wait time.Duration, never bool) {
		best, found, asked := end, false, false
		for _, k := range perShard[s] {
			if k.invoke < t {
				continue
			}
			asked = true
			if k.ok && (!found || k.done < best) {
				best, found = k.done, true
			}
		}
		if !asked {
			return 0, false
		}
		return best - t, !found
	}
	var firstBad *Violation
	for i, c := range changes {
		ch, _ := asShardChange(c.completion.Value)
		from := c.completion.Time
		until := end
		if i+1 < len(changes) {
			until = changes[i+1].invoke.Time
		}
		rep := ShardChangeReport{Time: from, Node: c.node(), Change: ch,
			Calm: !faulty(faults, c.invoke.Time, from+bound)}
		moved := ch.Moved()
		for s := range shards {
			w := ShardWait{Shard: s, Moved: slices.Contains(moved, s)}
			w.Wait, w.Never = waitFrom(s, from)
			for _, k := range perShard[s] {
				if k.invoke > from && k.invoke < until {
					if wt, never := waitFrom(s, k.invoke); wt > w.Wait {
						w.Wait, w.Never = wt, never
					}
				}
			}
			rep.Shards = append(rep.Shards, w)
			if w.Moved {
				rep.WorstMoved = max(rep.WorstMoved, w.Wait)
			} else {
				rep.WorstStill = max(rep.WorstStill, w.Wait)
			}
			if rep.Calm && w.Wait > bound && firstBad == nil {
				how := fmt.Sprintf("%s later", w.Wait.Round(time.Millisecond))
				if w.Never {
					how = "never, by the end of the run"
				}
				firstBad = &Violation{What: "shard unavailable too long after a change", Node: c.node(),
					Op: c.completion, Value: ch, Time: from,
					Detail: fmt.Sprintf("after %s, acknowledged at %s through %s, a request on shard %d (moved: %v) first succeeded %s: over the bound of %s",
						ch, from.Round(time.Millisecond), c.node(), s, w.Moved, how, bound)}
			}
		}
		if rep.Calm {
			d.Judged++
		}
		d.WorstMoved = max(d.WorstMoved, rep.WorstMoved)
		d.WorstStill = max(d.WorstStill, rep.WorstStill)
		d.Changes = append(d.Changes, rep)
	}
	res.Details = d
	res.Summary = fmt.Sprintf("%d changes (%d without faults, judged against %s): longest wait %s on moved shards, %s on shards that stayed",
		len(changes), d.Judged, bound, d.WorstMoved.Round(time.Millisecond), d.WorstStill.Round(time.Millisecond))
	if firstBad != nil {
		res.Valid = Invalid
		res.Violations = []Violation{*firstBad}
		res.Summary = "shard unavailable too long after a change: " + firstBad.Detail
	}
	return res
}

func asShardChange(v any) (ShardChange, bool) {
	switch x := v.(type) {
	case ShardChange:
		return x, true
	case *ShardChange:
		if x != nil {
			return *x, true
		}
	}
	return ShardChange{}, false
}

// faultInterval is a stretch of the run during which a fault was active.
type faultInterval struct{ from, to time.Duration }

// faultIntervals reads the nemesis steps of a history: start-X to stop-X,
// kill to restart, pause to resume.
func faultIntervals(h history.History, end time.Duration) []faultInterval {
	open := map[string]time.Duration{}
	var out []faultInterval
	stops := map[string]string{"restart": "kill", "resume": "pause"}
	for _, o := range h {
		if o.Process >= 0 || o.Type != history.Info {
			continue
		}
		switch {
		case strings.HasPrefix(o.F, "start-"):
			open[strings.TrimPrefix(o.F, "start-")] = o.Time
		case strings.HasPrefix(o.F, "stop-"):
			k := strings.TrimPrefix(o.F, "stop-")
			if t, ok := open[k]; ok {
				out = append(out, faultInterval{t, o.Time})
				delete(open, k)
			}
		case o.F == "kill" || o.F == "pause":
			if _, ok := open[o.F]; !ok {
				open[o.F] = o.Time
			}
		case stops[o.F] != "":
			k := stops[o.F]
			if t, ok := open[k]; ok {
				out = append(out, faultInterval{t, o.Time})
				delete(open, k)
			}
		}
	}
	for _, t := range open {
		out = append(out, faultInterval{t, end})
	}
	return out
}

func faulty(fs []faultInterval, from, to time.Duration) bool {
	for _, f := range fs {
		if f.from <= to && f.to >= from {
			return true
		}
	}
	return false
}
