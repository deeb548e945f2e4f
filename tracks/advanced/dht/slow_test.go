package dht

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/rto"
)

// exponentialDelay is a slow, jittery network: each message's one-way
// delay is drawn from an exponential distribution of the given mean, so
// that one message in a hundred takes more than 4.6 times the mean, and
// replies overtake each other.
func exponentialDelay(seed uint64, mean time.Duration) func() time.Duration {
	r := rand.New(rand.NewPCG(seed, 1))
	return func() time.Duration {
		return time.Duration(r.ExpFloat64() * float64(mean))
	}
}

// keyClient drives one key: put, get, put, get, ... each from a random
// node, one operation at a time, so that every get must return the
// latest acknowledged put (or a put that failed, which may have landed).
type keyClient struct {
	key     string
	next    int
	allowed []string // values a get may return now; empty: never written
	busy    bool
	putting bool
	val     int
}

// TestSlowNetworkLosesNothing runs a ring of 32 Cores on a network whose
// delays are exponential with a mean of 100 ms (round trips up to a
// second and more), with many operations in flight at once. No get may
// miss the latest acknowledged put, as none may on a fast network: a slow
// reply must not shift the replica sets nodes hand out.
func TestSlowNetworkLosesNothing(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			all := names(32)
			s := newSim(t, all, all, Config{Replicas: 3})
			s.delay = exponentialDelay(seed, 100*time.Millisecond)
			pick := rand.New(rand.NewPCG(seed, 2))
			clients := make([]*keyClient, 24)
			for i := range clients {
				clients[i] = &keyClient{key: fmt.Sprintf("k%d", i)}
			}
			var acked, failed, gets, misses int
			for step := 0; step < 20*200; step++ { // 20 s of simulated time
				for _, c := range clients {
					if c.busy {
						continue
					}
					c.busy = true
					via := all[pick.IntN(len(all))]
					if c.putting = !c.putting; c.putting {
						c.next++
						c.val = c.next
						s.nodes[via].Put(c.key, json.RawMessage(fmt.Sprint(c.val)), func(_ int, err error) {
							c.busy = false
							if err != nil {
								failed++
								c.allowed = append(c.allowed, fmt.Sprint(c.val))
								return
							}
							acked++
							c.allowed = []string{fmt.Sprint(c.val)}
						})
						continue
					}
					s.nodes[via].Get(c.key, func(v json.RawMessage, found bool, _ int, err error) {
						c.busy = false
						if err != nil {
							failed++
							return
						}
						gets++
						got := string(v)
						if !found {
							got = "nothing"
						}
						if (found || len(c.allowed) > 0) && !slices.Contains(c.allowed, got) {
							misses++
							t.Errorf("get %s via %s at %v: %s, want one of %v", c.key, via, s.now.Sub(time.Unix(0, 0)), got, c.allowed)
						}
					})
				}
				s.run(5 * time.Millisecond)
			}
			t.Logf("seed %d: %d puts acknowledged, %d gets, %d operations failed, %d gets missed the latest put", seed, acked, gets, failed, misses)
			if acked < 200 || gets < 200 {
				t.Fatalf("too few operations completed (%d puts, %d gets): the ring is not available on a slow network", acked, gets)
			}
			if failed*10 > acked+gets {
				t.Fatalf("%d of %d operations failed", failed, failed+acked+gets)
			}
		})
	}
}

// TestNodeThatLostItsSuccessorsDoesNotAcknowledge: a node that suspects
// every successor takes itself for a ring of one and would answer a
// lookup for any key with itself alone. A put through it must not be
// acknowledged by that one-node "replica set": a later get through a
// node that knows the ring would read the key's true replicas and miss it.
func TestNodeThatLostItsSuccessorsDoesNotAcknowledge(t *testing.T) {
	all := names(16)
	s := newSim(t, all, all, Config{Replicas: 3})
	x := all[0]
	key := keyOwnedBy(t, all, successorsOf(all, x, 5)[4]) // far from x: x is none of its replicas
	s.run(200 * time.Millisecond)
	for _, n := range s.nodes[x].Successors() {
		s.nodes[x].markDead(n)
	}
	s.nodes[x].pred = ""
	if s.nodes[x].successor() != x {
		t.Fatalf("%s still has a successor: %v", x, s.nodes[x].Successors())
	}
	s.put(x, key, 7)
	if v, ok := s.get(all[8], key); !ok || v != "7" {
		t.Fatalf("get %s via %s after a put through %s, which had lost its successors: %q (found %v), want 7", key, all[8], x, v, ok)
	}
}

func TestRetransmissionTimeout(t *testing.T) {
	r := rtts{peers: map[string]*rto.Estimator{}}
	if r.rto("a") != 0 {
		t.Fatal("nothing measured, yet a timeout")
	}
	r.sample("a", 400*time.Millisecond)
	if got := r.rto("b"); got < 1199*time.Millisecond || got > 1201*time.Millisecond {
		t.Fatalf("a peer never measured: %v, want the network's figure, 400 ms + 4*200 ms", got)
	}
	c := New(Config{Self: "x", HopTimeout: 300 * time.Millisecond, MaxTimeout: time.Second}, nil, nil)
	if got := c.timeout("p", 300*time.Millisecond); got != 300*time.Millisecond {
		t.Fatalf("unmeasured peer: %v, want the configured 300 ms", got)
	}
	for range 10 {
		c.rtt.sample("p", 5*time.Second)
	}
	if got := c.timeout("p", 300*time.Millisecond); got != time.Second {
		t.Fatalf("very slow peer: %v, want the 1 s cap", got)
	}
}
