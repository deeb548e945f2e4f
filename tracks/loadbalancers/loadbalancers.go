// Package loadbalancers is the reference solution of the loadbalancers
// track's Maelstrom stages: a node that balances clients' requests over
// backends the grader runs (the lb workload, ours), some slow, one
// failing now and then, one flapping and one killed during the run.
//
// The choice of backend is package balance, the track's core, shared
// with the TCP balancer (l4) and the HTTP balancer (l7). This package is
// only the Maelstrom front end: it turns a client's request into serve
// requests to backends, retries a refused or unanswered one on another
// backend (requests are idempotent), feeds each outcome to passive outlier
// ejection and sends the active health checks.
//
// tracks/loadbalancers/stages.tsv says how each stage is graded and
// README.md is the lesson.
package loadbalancers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/hashring"
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
)

// Options configure a balancing node.
type Options struct {
	Balance        string        // an algorithm balance.ByName knows
	Backends       []string      // names of the backends
	Weights        []int         // weighted only; empty: all 1
	HealthInterval time.Duration // 0: no active health checks
	Rise, Fall     int           // health checks in a row to turn healthy, unhealthy
	EjectAfter     int           // failed requests in a row that eject (0: no ejection)
	Ejection       time.Duration // base ejection time
	MaxEjection    int           // most backends ejected at once, in percent
	AttemptTimeout time.Duration // how long one backend gets to answer
	Attempts       int           // backends tried per request
}

// DefaultOptions: least outstanding requests over b0..b3, health checks
// every 200 ms (down after 2 failures, up after 2 passes), ejection after
// 3 failures for 1 s (at most half the backends), 250 ms per attempt,
// 3 attempts.
func DefaultOptions() Options {
	return Options{Balance: "least-outstanding", Backends: []string{"b0", "b1", "b2", "b3"},
		HealthInterval: 200 * time.Millisecond, Rise: 2, Fall: 2,
		EjectAfter: 3, Ejection: time.Second, MaxEjection: 50,
		AttemptTimeout: 250 * time.Millisecond, Attempts: 3}
}

const usage = "usage: loadbalancers [--balance round-robin|weighted|least-outstanding|p2c|bounded-hash] [--backends b0,b1,..] [--weights 1,1,..] " +
	"[--health-interval D (0: none)] [--rise N] [--fall N] [--eject-after N (0: none)] [--ejection D] [--max-ejection PCT] [--attempt-timeout D] [--attempts N]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("loadbalancers")
	var backends, weights string
	fs.StringVar(&o.Balance, "balance", o.Balance, "algorithm")
	fs.StringVar(&backends, "backends", strings.Join(o.Backends, ","), "backend names")
	fs.StringVar(&weights, "weights", "", "backend weights")
	fs.DurationVar(&o.HealthInterval, "health-interval", o.HealthInterval, "time between health checks")
	fs.IntVar(&o.Rise, "rise", o.Rise, "passed checks to turn healthy")
	fs.IntVar(&o.Fall, "fall", o.Fall, "failed checks to turn unhealthy")
	fs.IntVar(&o.EjectAfter, "eject-after", o.EjectAfter, "failed requests in a row that eject")
	fs.DurationVar(&o.Ejection, "ejection", o.Ejection, "base ejection time")
	fs.IntVar(&o.MaxEjection, "max-ejection", o.MaxEjection, "most backends ejected, percent")
	fs.DurationVar(&o.AttemptTimeout, "attempt-timeout", o.AttemptTimeout, "time per backend attempt")
	fs.IntVar(&o.Attempts, "attempts", o.Attempts, "backends tried per request")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	o.Backends = strings.Split(backends, ",")
	if weights != "" {
		for _, s := range strings.Split(weights, ",") {
			w, err := strconv.Atoi(s)
			if err != nil || w < 1 {
				return o, fmt.Errorf("loadbalancers: --weights %q: want positive integers", weights)
			}
			o.Weights = append(o.Weights, w)
		}
		if len(o.Weights) != len(o.Backends) {
			return o, fmt.Errorf("loadbalancers: %d weights for %d backends", len(o.Weights), len(o.Backends))
		}
	}
	if _, err := balance.ByName(o.Balance); err != nil {
		return o, fmt.Errorf("loadbalancers: %w", err)
	}
	if o.HealthInterval < 0 || o.AttemptTimeout <= 0 || o.Attempts < 1 || o.EjectAfter < 0 {
		return o, fmt.Errorf("loadbalancers: negative interval, or no attempt time or attempts (%s)", usage)
	}
	return o, nil
}

// Configure sets up a node from its arguments.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	_, err = Setup(n, o)
	return err
}

// Server is one balancing node.
type Server struct {
	n    *node.Node
	o    Options
	pool *balance.Pool
}

// NewPool builds the balance.Pool that o describes, on clock now, with
// random choices from rng.
func NewPool(o Options, now func() time.Time, rng *rand.Rand) (*balance.Pool, error) {
	alg, err := balance.ByName(o.Balance)
	if err != nil {
		return nil, err
	}
	bs := make([]balance.Backend, len(o.Backends))
	for i, name := range o.Backends {
		bs[i].Name = name
		if len(o.Weights) > 0 {
			bs[i].Weight = o.Weights[i]
		}
	}
	po := balance.Options{Algorithm: alg, Now: now, Rand: rng,
		Outlier: balance.Outlier{Consecutive: o.EjectAfter, BaseEjection: o.Ejection, MaxEjectionPercent: o.MaxEjection}}
	if o.HealthInterval > 0 {
		po.Health = &balance.Health{Rise: o.Rise, Fall: o.Fall}
	}
	return balance.New(bs, po)
}

// Setup serves request on n.
func Setup(n *node.Node, o Options) (*Server, error) {
	s := &Server{n: n, o: o}
	// Each node draws its own random choices (p2c), seeded by its id
	// once it has one.
	seed := rand.NewPCG(0, 0)
	pool, err := NewPool(o, n.Clock().Now, rand.New(seed))
	if err != nil {
		return nil, err
	}
	s.pool = pool
	n.OnInit(func() error {
		h := hashring.Hash(n.ID())
		seed.Seed(h, h>>1)
		return nil
	})
	node.HandleTyped(n, "request", s.request)
	if o.HealthInterval > 0 {
		n.Every(o.HealthInterval, s.checkHealth)
	}
	return s, nil
}

type requestBody struct {
	Key *int64 `json:"key"`
}

type serveOK struct {
	Backend string `json:"backend"`
}

func (s *Server) request(_ node.Message, req requestBody) (any, error) {
	if req.Key == nil {
		return nil, node.NewRPCError(node.MalformedRequest, "request needs an integer key")
	}
	key := strconv.FormatInt(*req.Key, 10)
	var tried []int
	var last error
	for range s.o.Attempts {
		i, err := s.pool.Pick(key, tried...)
		if errors.Is(err, balance.ErrNoBackend) && len(tried) > 0 {
			i, err = s.pool.Pick(key) // every eligible one failed once: try again anyway
		}
		if err != nil {
			return nil, node.NewRPCError(node.TemporarilyUnavailable, "no backend is available")
		}
		ctx, cancel := context.WithTimeout(s.n.Context(), s.o.AttemptTimeout)
		r, err := node.Call[serveOK](ctx, s.n, s.pool.Name(i), map[string]any{"type": "serve", "key": *req.Key})
		cancel()
		s.pool.Done(i, err != nil)
		if err == nil {
			return map[string]any{"type": "request_ok", "backend": r.Backend}, nil
		}
		tried, last = append(tried, i), err
	}
	return nil, node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("%d backends tried, the last said: %v", len(tried), last))
}

// checkHealth asks every backend at once, giving each until the next
// round to answer.
func (s *Server) checkHealth(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.o.HealthInterval)
	defer cancel()
	var wg sync.WaitGroup
	for i, name := range s.o.Backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.n.SyncRPC(ctx, name, map[string]any{"type": "health"})
			s.pool.HealthResult(i, err == nil)
		}()
	}
	wg.Wait()
}

// Pool is the node's balance.Pool, for tests.
func (s *Server) Pool() *balance.Pool { return s.pool }
