package health

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
)

func pool(t *testing.T) *balance.Pool {
	p, err := balance.New([]balance.Backend{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		balance.Options{Algorithm: balance.RoundRobin(), Now: time.Now, Health: &balance.Health{Rise: 1, Fall: 2}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRound: one round reports every backend, and a probe that outlives
// its timeout counts as failed.
func TestRound(t *testing.T) {
	p := pool(t)
	probe := func(ctx context.Context, i int) error {
		switch i {
		case 1:
			return errors.New("refused")
		case 2:
			<-ctx.Done() // hangs until the timeout
			return ctx.Err()
		}
		return nil
	}
	Round(context.Background(), p, 20*time.Millisecond, probe)
	if st := p.Status(); !st[1].Healthy || !st[2].Healthy {
		t.Fatalf("one failure of Fall 2 already unhealthy: %+v", st)
	}
	Round(context.Background(), p, 20*time.Millisecond, probe)
	if st := p.Status(); !st[0].Healthy || st[1].Healthy || st[2].Healthy {
		t.Fatalf("after two rounds: %+v", st)
	}
}

func TestLoopStops(t *testing.T) {
	p := pool(t)
	var rounds atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Loop(ctx, p, 5*time.Millisecond, func(context.Context, int) error { rounds.Add(1); return nil })
		close(done)
	}()
	for rounds.Load() < 6 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Loop did not stop")
	}
}
