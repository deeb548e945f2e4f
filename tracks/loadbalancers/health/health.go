// Package health runs active health checks for the loadbalancers track's
// network front ends (l4, l7): every interval it probes each backend of a
// balance.Pool at once and reports the results to the pool, which decides
// when a backend turns unhealthy or healthy again. How to probe (a TCP
// connect, an HTTP GET) is the front end's business.
package health

import (
	"context"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
)

// Probe checks backend i of the pool; nil means healthy.
type Probe func(ctx context.Context, i int) error

// Round probes every backend once, each with timeout, and reports.
func Round(ctx context.Context, p *balance.Pool, timeout time.Duration, probe Probe) {
	var wg sync.WaitGroup
	for i := range p.Len() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := probe(cctx, i)
			if ctx.Err() == nil {
				p.HealthResult(i, err == nil)
			}
		}()
	}
	wg.Wait()
}

// Loop runs a Round every interval until ctx ends; each probe gets the
// interval to answer.
func Loop(ctx context.Context, p *balance.Pool, interval time.Duration, probe Probe) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			Round(ctx, p, interval, probe)
		}
	}
}
