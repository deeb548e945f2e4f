package checker

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// LBRequest is the lb workload's operation: a request for key and, once
// answered, the backend that served it.
type LBRequest struct {
	Key     int64  `json:"key"`
	Backend string `json:"backend,omitempty"`
}

// LBOutage is a span during which a backend answered nothing; To is 0
// while it lasted to the end of the run (a killed backend).
type LBOutage struct {
	Backend string        `json:"backend"`
	From    time.Duration `json:"from"`
	To      time.Duration `json:"to,omitempty"`
}

// LBArrival is one request a balancer sent to a backend.
type LBArrival struct {
	Backend string        `json:"backend"`
	Node    string        `json:"node"`
	Key     int64         `json:"key"`
	At      time.Duration `json:"at"`
}

// LBBackends is what the lb workload's backends saw.
type LBBackends struct {
	Names        []string
	Arrivals     []LBArrival // requests (not health checks), in arrival order
	Outages      []LBOutage
	Refused      int           // requests refused with error 11
	HealthChecks int           //
	EjectWithin  time.Duration // how soon after an outage begins requests must stop
}

// LBDetails are the lb checker's figures.
type LBDetails struct {
	Requests     int            `json:"requests"`
	Answered     int            `json:"answered"`
	Unanswered   int            `json:"unanswered"`
	Latency      Quantiles      `json:"latency"`
	PerBackend   map[string]int `json:"per_backend"` // requests each backend received
	LoadCV       float64        `json:"load_cv"`     // coefficient of variation of PerBackend over backends never down
	LateRequests int            `json:"late_requests"`
	Refused      int            `json:"refused"`
	HealthChecks int            `json:"health_checks"`
	EjectWithin  time.Duration  `json:"eject_within"`
}

// LB judges the lb workload:
//
//   - every request is answered (ok) while at least one backend lives —
//     and the workload always keeps one alive. Requests still in flight
//     when the run ends are not counted;
//   - no request reaches a backend more than EjectWithin after the start of
//     an outage of that backend (the balancer must have noticed by then,
//     by health checks or by failed requests, and stopped sending).
//
// It reports latency quantiles and the load spread: requests per backend
// and their coefficient of variation over the backends that were never
// down.
func LB(h history.History, b LBBackends) Result {
	res := Result{Checker: "lb", Valid: Valid}
	d := LBDetails{PerBackend: map[string]int{}, Refused: b.Refused, HealthChecks: b.HealthChecks, EjectWithin: b.EjectWithin}
	ops := clientOps(h)
	var lat []time.Duration
	for _, p := range ops {
		if _, ok := p.invoke.Value.(LBRequest); !ok {
			continue
		}
		if p.outcome() != history.OK {
			// A request the end of the run cut short proves nothing.
			if p.completion == nil || (p.completion.Error != nil && p.completion.Error.Name == "client-error") {
				continue
			}
			d.Requests++
			d.Unanswered++
			why := "no answer"
			if e := p.completion.Error; e != nil {
				why = fmt.Sprintf("error %d (%s: %s)", e.Code, e.Name, e.Text)
			}
			res.Violations = append(res.Violations, Violation{
				What: "unanswered request", Node: p.node(), Op: p.observed(), Value: p.invoke.Value, Time: p.completion.Time,
				Detail: fmt.Sprintf("a request for key %d sent %s at %s ended with %s at %s, while backends were alive to serve it",
					p.invoke.Value.(LBRequest).Key, where(p.node(), p.invoke.Process), at(p.invoke.Time), why, at(p.completion.Time)),
			})
			continue
		}
		d.Requests++
		d.Answered++
		lat = append(lat, p.completion.Time-p.invoke.Time)
	}
	d.Latency = quantilesOf(lat)

	down := map[string]bool{}
	for _, o := range b.Outages {
		down[o.Backend] = true
	}
	for _, n := range b.Names {
		d.PerBackend[n] = 0
	}
	late := map[string]int{}
	for _, a := range b.Arrivals {
		d.PerBackend[a.Backend]++
		for _, o := range b.Outages {
			if o.Backend != a.Backend || a.At <= o.From+b.EjectWithin || (o.To > 0 && a.At >= o.To) {
				continue
			}
			d.LateRequests++
			late[a.Backend]++
			if late[a.Backend] > 3 {
				break // enough examples per backend
			}
			v := Violation{What: "request to a dead backend", Node: a.Node, Value: a.Backend, Time: a.At,
				Detail: fmt.Sprintf("%s sent a request for key %d to %s at %s, %s after %s stopped answering at %s; a balancer must stop within %s (health checks, outlier ejection)",
					a.Node, a.Key, a.Backend, at(a.At), msText(a.At-o.From), a.Backend, at(o.From), msText(b.EjectWithin))}
			// The client request it was serving, when one fits.
			for _, p := range ops {
				r, ok := p.invoke.Value.(LBRequest)
				if ok && r.Key == a.Key && p.node() == a.Node && p.invoke.Time <= a.At && (p.completion == nil || p.completion.Time >= a.At) {
					v.Op = p.observed()
					break
				}
			}
			res.Violations = append(res.Violations, v)
			break
		}
	}
	var steady []float64
	for _, n := range b.Names {
		if !down[n] {
			steady = append(steady, float64(d.PerBackend[n]))
		}
	}
	d.LoadCV = cv(steady)
	slices.SortStableFunc(res.Violations, func(a, b Violation) int { return int(a.Time - b.Time) })
	res.Details = d
	spread := ""
	for _, n := range b.Names {
		spread += fmt.Sprintf(" %s:%d", n, d.PerBackend[n])
	}
	figures := fmt.Sprintf("p50 %s p99 %s, load%s (CV %.2f), %d late requests to dead backends, %d health checks",
		msText(d.Latency.P50), msText(d.Latency.P99), spread, d.LoadCV, d.LateRequests, d.HealthChecks)
	if n := len(res.Violations); n > 0 {
		res.Valid = Invalid
		if n > 20 {
			res.Violations = res.Violations[:20]
		}
		res.Summary = fmt.Sprintf("%s (%d unanswered); %s", plural(n, "violation", "violations"), d.Unanswered, figures)
		return res
	}
	res.Summary = fmt.Sprintf("%d requests, all answered: %s", d.Requests, figures)
	return res
}

// cv is the coefficient of variation (standard deviation over mean).
func cv(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	if mean == 0 {
		return 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss/float64(len(xs))) / mean
}
