package checker

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// DHTOp is the value of a dht workload's put or get: the key, the value
// written (put) or read (get; nil when the key was not found), and, on
// an acknowledgement, the hops the node's lookup took.
type DHTOp struct {
	Key   string `json:"key"`
	Value *int64 `json:"value"`
	Hops  *int   `json:"hops,omitempty"`
}

// DHTDetails is the evidence of the dht checkers.
type DHTDetails struct {
	Keys        int      `json:"keys"`
	PutsOK      int      `json:"puts-ok"`
	PutsUnsure  int      `json:"puts-unsure"` // :info or never completed
	GetsOK      int      `json:"gets-ok"`
	GetsMissing int      `json:"gets-not-found"`
	Joins       int      `json:"joins"`
	Leaves      int      `json:"leaves"`
	Deaths      []string `json:"deaths,omitempty"` // "n7 at 6.012s"
	BadGets     int      `json:"bad-gets"`
	LostKeys    []string `json:"lost-keys,omitempty"` // keys with a get that missed an acknowledged put
}

// DHTHops is the evidence of the hops checker.
type DHTHops struct {
	Lookups int     `json:"lookups"`
	Mean    float64 `json:"mean"`
	Max     int     `json:"max"`
	Bound   float64 `json:"bound"` // log2(n) + 1
	Nodes   int     `json:"nodes"`
}

// String renders the op as history lines show it: k3=17 (2 hops).
func (o DHTOp) String() string {
	s := o.Key
	if o.Value != nil {
		s += fmt.Sprintf("=%d", *o.Value)
	}
	if o.Hops != nil {
		s += fmt.Sprintf(" (%d hops)", *o.Hops)
	}
	return s
}

type dhtPut struct {
	p        op
	value    int64
	inv, end time.Duration // end: completion time, or forever when unsure
	acked    bool
}

// DHT judges a dht history. The values checker: every acknowledged get
// returns the value of a put that could be the latest one, i.e. a put
// invoked before the get completed and not overwritten, before the get
// began, by an acknowledged put invoked after it was acknowledged; a get
// that finds nothing is wrong once any put of its key was acknowledged
// before it began. Puts with an unsure outcome may take effect at any
// later time; failed puts never do. The hops checker: the hops nodes
// report in put_ok and get_ok average at most log2(nodes) + 1.
//
// The workload kills fewer nodes than the stage's replication factor, so
// every key keeps a live replica and the values checker demands every
// get, with no exception for keys whose replicas died.
func DHT(h history.History, nodes int) (values, hops Result) {
	var d DHTDetails
	puts := map[string][]*dhtPut{}
	byValue := map[int64]*dhtPut{}
	var gets []op
	var hd DHTHops
	hd.Nodes = nodes
	hd.Bound = math.Log2(float64(nodes)) + 1
	total := 0
	var worst *op
	type death struct {
		node string
		at   time.Duration
	}
	var deaths []death
	for _, p := range pairUp(h) {
		switch p.invoke.F {
		case "join":
			if p.outcome() == history.OK {
				d.Joins++
			}
			continue
		case "leave":
			if p.outcome() == history.OK {
				d.Leaves++
			}
			continue
		case "kill":
			if p.outcome() != history.Fail {
				d.Deaths = append(d.Deaths, fmt.Sprintf("%v at %s", p.invoke.Value, at(p.invoke.Time)))
				deaths = append(deaths, death{fmt.Sprint(p.invoke.Value), p.invoke.Time})
			}
			continue
		case "put", "get":
		default:
			continue
		}
		in, ok := p.invoke.Value.(DHTOp)
		if !ok {
			continue
		}
		if p.outcome() == history.OK {
			if out, ok := p.completion.Value.(DHTOp); ok && out.Hops != nil {
				total += *out.Hops
				hd.Lookups++
				if worst == nil || *out.Hops >= hd.Max {
					hd.Max = *out.Hops
					pp := p
					worst = &pp
				}
			}
		}
		if p.invoke.F == "get" {
			if p.outcome() == history.OK {
				gets = append(gets, p)
			}
			continue
		}
		if in.Value == nil || p.outcome() == history.Fail {
			continue
		}
		w := &dhtPut{p: p, value: *in.Value, inv: p.invoke.Time, end: time.Duration(math.MaxInt64)}
		if p.outcome() == history.OK {
			w.acked, w.end = true, p.completion.Time
			d.PutsOK++
		} else {
			d.PutsUnsure++
		}
		puts[in.Key] = append(puts[in.Key], w)
		byValue[w.value] = w
	}
	d.Keys = len(puts)
	values = Result{Checker: "dht", Valid: Valid}
	lost := map[string]bool{}
	sort.Slice(gets, func(i, j int) bool { return gets[i].completion.Time < gets[j].completion.Time })
	for _, g := range gets {
		out, _ := g.completion.Value.(DHTOp)
		key := out.Key
		gi, gc := g.invoke.Time, g.completion.Time
		d.GetsOK++
		// latest is the acknowledged put of the key that completed last
		// before the get began: the one it must at least see.
		var latest *dhtPut
		for _, w := range puts[key] {
			if w.acked && w.end < gi && (latest == nil || w.end > latest.end) {
				latest = w
			}
		}
		var what, detail string
		if out.Value == nil {
			d.GetsMissing++
			if latest != nil {
				what = "lost value"
				detail = fmt.Sprintf("get of %q %s at %s found nothing, but put %d was acknowledged at %s", key, where(g.node(), g.invoke.Process), at(gc), latest.value, at(latest.end))
			}
		} else {
			v := *out.Value
			w := byValue[v]
			switch {
			case w == nil || w.p.invoke.Value.(DHTOp).Key != key:
				what = "value never written"
				detail = fmt.Sprintf("get of %q %s at %s returned %d, which no put of that key wrote", key, where(g.node(), g.invoke.Process), at(gc), v)
			case w.inv > gc:
				what = "value from the future"
				detail = fmt.Sprintf("get of %q %s returned %d at %s, before the put of %d was invoked at %s", key, where(g.node(), g.invoke.Process), v, at(gc), v, at(w.inv))
			default:
				for _, q := range puts[key] {
					if q != w && q.acked && w.end < q.inv && q.end < gi {
						what = "stale value"
						detail = fmt.Sprintf("get of %q %s at %s returned %d (put acknowledged at %s), but put %d, invoked after that, was acknowledged at %s, before the get began at %s",
							key, where(g.node(), g.invoke.Process), at(gc), v, at(w.end), q.value, at(q.end), at(gi))
						break
					}
				}
			}
		}
		if what == "" {
			continue
		}
		d.BadGets++
		lost[key] = true
		if len(values.Violations) < 10 {
			var val any
			if out.Value != nil {
				val = *out.Value
			} else if latest != nil {
				val = latest.value // the value the get should have returned
			}
			var before []string
			for _, x := range deaths {
				if x.at < gc {
					before = append(before, x.node+" at "+at(x.at))
				}
			}
			if len(before) > 0 {
				detail += fmt.Sprintf("; nodes killed before it: %s", strings.Join(before, ", "))
			}
			values.Violations = append(values.Violations, Violation{What: what, Node: g.node(), Op: g.completion, Value: val, Time: gc, Detail: detail})
		}
	}
	for k := range lost {
		d.LostKeys = append(d.LostKeys, k)
	}
	sort.Strings(d.LostKeys)
	values.Details = d
	switch {
	case d.BadGets > 0:
		values.Valid = Invalid
		values.Summary = fmt.Sprintf("%d of %d gets missed the latest acknowledged put (keys %v); %d deaths, %d joins, %d leaves",
			d.BadGets, d.GetsOK, d.LostKeys, len(d.Deaths), d.Joins, d.Leaves)
	case d.GetsOK == 0 || d.PutsOK == 0:
		values.Valid = Unknown
		values.Summary = fmt.Sprintf("nothing to judge: %d acknowledged puts, %d acknowledged gets", d.PutsOK, d.GetsOK)
	default:
		values.Summary = fmt.Sprintf("all %d gets (%d not found) saw the latest acknowledged put of their key; %d puts acknowledged over %d keys; %d deaths, %d joins, %d leaves",
			d.GetsOK, d.GetsMissing, d.PutsOK, d.Keys, len(d.Deaths), d.Joins, d.Leaves)
	}

	hops = Result{Checker: "dht-hops", Valid: Valid}
	if hd.Lookups > 0 {
		hd.Mean = float64(total) / float64(hd.Lookups)
	}
	hops.Details = hd
	switch {
	case hd.Lookups == 0:
		hops.Valid = Unknown
		hops.Summary = "no acknowledged put or get reported its hops"
	case hd.Mean > hd.Bound || total < 0:
		hops.Valid = Invalid
		hops.Summary = fmt.Sprintf("lookups took %.2f hops on average (max %d over %d lookups), above log2(%d)+1 = %.2f", hd.Mean, hd.Max, hd.Lookups, nodes, hd.Bound)
		hops.Violations = []Violation{{What: "too many hops", Node: worst.node(), Op: worst.completion, Value: hd.Max, Time: worst.completion.Time,
			Detail: fmt.Sprintf("mean %.2f hops per lookup is above log2(n)+1 = %.2f for n = %d; the longest, %d hops, was this %s", hd.Mean, hd.Bound, nodes, hd.Max, worst.invoke.F)}}
	default:
		hops.Summary = fmt.Sprintf("lookups took %.2f hops on average, max %d, over %d lookups (bound log2(%d)+1 = %.2f)", hd.Mean, hd.Max, hd.Lookups, nodes, hd.Bound)
	}
	return values, hops
}
