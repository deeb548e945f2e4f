// Package balance is the loadbalancers track's core: which backend gets
// the next request. It knows nothing of sockets, messages or wall-clock
// time — the clock and the random source are passed in — so the three
// front ends (the Maelstrom node in tracks/loadbalancers, the TCP
// balancer in l4 and the HTTP balancer in l7) share it unchanged.
//
// A Pool holds the backends and what is known of each: requests
// outstanding, the verdict of active health checks (HealthResult) and of
// passive outlier detection (Done). A backend takes requests only while
// it is healthy and not ejected; Pick asks the Algorithm to choose among
// those — or, when none is, among all of them (panic routing: a balancer
// that believes every backend is down is more likely wrong itself). The
// algorithms are round robin, nginx's smooth weighted round
// robin, least outstanding requests, power of two choices, and consistent
// hashing with bounded loads (internal/hashring).
package balance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// ErrNoBackend is returned by Pick when no backend may take a request.
var ErrNoBackend = errors.New("balance: no backend available")

// Backend is one server behind the balancer.
type Backend struct {
	Name   string
	Weight int // smooth weighted round robin only; 0 counts as 1
}

// Health configures active health checks: a backend turns unhealthy after
// Fall failed checks in a row and healthy again after Rise passed checks
// in a row. The front end sends the checks; the Pool only counts.
type Health struct {
	Rise, Fall int
}

// Outlier configures passive outlier ejection, as in Envoy: after
// Consecutive failed requests in a row a backend is ejected for
// BaseEjection times the number of times it has been ejected, but never
// when that would leave more than MaxEjectionPercent of the backends
// ejected. Consecutive 0 turns it off.
type Outlier struct {
	Consecutive        int
	BaseEjection       time.Duration
	MaxEjectionPercent int
}

// Options configure a Pool.
type Options struct {
	Algorithm Algorithm
	Health    *Health // nil: no active checks, every backend counts as healthy
	Outlier   Outlier //
	Now       func() time.Time
	Rand      *rand.Rand // power of two choices; nil: a fixed seed
}

// state is what the pool knows of one backend.
type state struct {
	Backend
	outstanding  int
	healthy      bool
	checksInRow  int // passed (>0) or failed (<0) health checks in a row
	failsInRow   int // failed requests in a row (passive)
	ejectedUntil time.Time
	ejections    int
	picks        int
}

// Pool chooses backends. It is safe for concurrent use.
type Pool struct {
	mu     sync.Mutex
	o      Options
	b      []*state
	rng    *rand.Rand
	elig   []bool // scratch
	panics int
	algoS  any // the algorithm's own state, set by init
}

// New returns a pool over backends.
func New(backends []Backend, o Options) (*Pool, error) {
	if len(backends) == 0 {
		return nil, fmt.Errorf("balance: no backends")
	}
	if o.Algorithm == nil {
		return nil, fmt.Errorf("balance: no algorithm")
	}
	if o.Now == nil {
		return nil, fmt.Errorf("balance: no clock")
	}
	if o.Health != nil && (o.Health.Rise < 1 || o.Health.Fall < 1) {
		return nil, fmt.Errorf("balance: health rise and fall must be at least 1")
	}
	if o.Outlier.Consecutive > 0 && (o.Outlier.BaseEjection <= 0 || o.Outlier.MaxEjectionPercent < 0 || o.Outlier.MaxEjectionPercent > 100) {
		return nil, fmt.Errorf("balance: outlier ejection needs a positive base ejection time and a max ejection percent from 0 to 100")
	}
	p := &Pool{o: o, rng: o.Rand, elig: make([]bool, len(backends))}
	if p.rng == nil {
		p.rng = rand.New(rand.NewPCG(1, 2))
	}
	seen := map[string]bool{}
	for _, b := range backends {
		if seen[b.Name] {
			return nil, fmt.Errorf("balance: backend %q listed twice", b.Name)
		}
		seen[b.Name] = true
		if b.Weight < 0 {
			return nil, fmt.Errorf("balance: backend %q has a negative weight", b.Name)
		}
		if b.Weight == 0 {
			b.Weight = 1
		}
		p.b = append(p.b, &state{Backend: b, healthy: true})
	}
	p.algoS = o.Algorithm.init(p)
	return p, nil
}

// Len is the number of backends.
func (p *Pool) Len() int { return len(p.b) }

// Name is backend i's name.
func (p *Pool) Name(i int) string { return p.b[i].Name }

// Index finds a backend by name, or -1.
func (p *Pool) Index(name string) int {
	for i, b := range p.b {
		if b.Name == name {
			return i
		}
	}
	return -1
}

// available says whether backend i may take requests at now.
func (p *Pool) available(i int, now time.Time) bool {
	b := p.b[i]
	return b.healthy && !now.Before(b.ejectedUntil)
}

// Pick chooses a backend for a request with key (used by consistent
// hashing only), skipping those in avoid (the ones a retry already
// tried), and counts the request as outstanding on it until Done. When
// no backend is healthy and unejected, it picks among all of them
// (panic routing); it fails only when every backend is in avoid.
func (p *Pool) Pick(key string, avoid ...int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.o.Now()
	some := false
	for i := range p.b {
		p.elig[i] = p.available(i, now) && !slices.Contains(avoid, i)
		some = some || p.elig[i]
	}
	if !some {
		// Panic routing, as in Envoy: when every backend looks down, the
		// balancer is more likely wrong than the whole fleet (a stall
		// made every health check late), and trying one beats refusing
		// everything.
		for i := range p.b {
			p.elig[i] = !slices.Contains(avoid, i)
			some = some || p.elig[i]
		}
		if !some {
			return -1, ErrNoBackend
		}
		p.panics++
	}
	i := p.o.Algorithm.pick(p, key)
	if i < 0 {
		return -1, ErrNoBackend
	}
	p.b[i].outstanding++
	p.b[i].picks++
	return i, nil
}

// Done ends a request Pick sent to backend i; failed says whether it
// failed in a way that counts against the backend (refused, timed out,
// connection error), which passive outlier detection counts.
func (p *Pool) Done(i int, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.b[i]
	if b.outstanding > 0 {
		b.outstanding--
	}
	p.o.Algorithm.done(p, i)
	if !failed {
		b.failsInRow = 0
		return
	}
	b.failsInRow++
	o := p.o.Outlier
	if o.Consecutive == 0 || b.failsInRow < o.Consecutive {
		return
	}
	now := p.o.Now()
	if now.Before(b.ejectedUntil) {
		return
	}
	ejected := 0
	for j := range p.b {
		if now.Before(p.b[j].ejectedUntil) {
			ejected++
		}
	}
	if 100*(ejected+1) > o.MaxEjectionPercent*len(p.b) {
		return // too many ejected already: keep serving from this one
	}
	b.ejections++
	b.ejectedUntil = now.Add(time.Duration(b.ejections) * o.BaseEjection)
	b.failsInRow = 0
}

// HealthResult records one active health check of backend i.
func (p *Pool) HealthResult(i int, passed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.o.Health
	if h == nil {
		return
	}
	b := p.b[i]
	if passed {
		b.checksInRow = max(b.checksInRow, 0) + 1
		if !b.healthy && b.checksInRow >= h.Rise {
			b.healthy = true
			b.failsInRow = 0
		}
		return
	}
	b.checksInRow = min(b.checksInRow, 0) - 1
	if b.healthy && -b.checksInRow >= h.Fall {
		b.healthy = false
	}
}

// Panics counts the picks made in panic routing.
func (p *Pool) Panics() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.panics
}

// Status is a snapshot of one backend.
type Status struct {
	Name        string
	Healthy     bool
	Ejected     bool
	Ejections   int
	Outstanding int
	Picks       int
}

// Status reports every backend.
func (p *Pool) Status() []Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.o.Now()
	out := make([]Status, len(p.b))
	for i, b := range p.b {
		out[i] = Status{Name: b.Name, Healthy: b.healthy, Ejected: now.Before(b.ejectedUntil),
			Ejections: b.ejections, Outstanding: b.outstanding, Picks: b.picks}
	}
	return out
}
