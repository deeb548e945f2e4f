package watcher

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

func TestParseArgs(t *testing.T) {
	for _, args := range [][]string{{"--watch", "push"}, {"--bogus"}, {"extra"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q) accepted", args)
		}
	}
	if o, err := ParseArgs([]string{"--watch", "poll"}); err != nil || !o.Poll {
		t.Fatalf("ParseArgs(--watch poll): %+v, %v", o, err)
	}
}

// memConn serves the client package straight from a state machine, with
// no Raft in between: one replica, every command applied at once. It lets
// the recipes run against the real key, lease and event logic.
type memConn struct {
	mu  sync.Mutex
	m   *machine
	seq uint64
}

func newMemConn() *memConn { return &memConn{m: newMachine(time.Now)} }

func (c *memConn) apply(cmd command) outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	cmd.Client, cmd.Seq = "test", c.seq
	data, _ := json.Marshal(cmd)
	var o outcome
	_ = json.Unmarshal(c.m.Apply(c.seq, data).(json.RawMessage), &o)
	return o
}

// expire does the leader's job: end every lease silent past its ttl.
func (c *memConn) expire() {
	c.mu.Lock()
	due := c.m.expired()
	c.mu.Unlock()
	for _, cmd := range due {
		c.apply(cmd)
	}
}

func (c *memConn) Call(ctx context.Context, req client.Request) (client.Response, error) {
	var cmd command
	switch req.Type {
	case "put":
		cmd = command{Op: "put", Key: req.Key, Value: req.Value, Lease: req.Lease, Sequential: req.Sequential, Create: req.Create}
	case "delete":
		cmd = command{Op: "delete", Key: req.Key}
	case "lease_grant":
		cmd = command{Op: "grant", TTL: req.TTL}
	case "lease_keepalive":
		cmd = command{Op: "keepalive", Lease: req.Lease}
	case "lease_revoke":
		cmd = command{Op: "revoke", Lease: req.Lease}
	case "list":
		c.mu.Lock()
		defer c.mu.Unlock()
		return client.Response{Keys: c.m.list(req.Prefix), Rev: c.m.Rev}, nil
	case "watch_once":
		for {
			c.mu.Lock()
			evs, through := c.m.eventsFrom(req.Rev, 1, func(k string) bool { return k == req.Key })
			ch := c.m.notify
			c.mu.Unlock()
			if len(evs) > 0 {
				return client.Response{Events: evs, Rev: through}, nil
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return client.Response{}, ctx.Err()
			}
		}
	default:
		return client.Response{}, fmt.Errorf("memConn: %s not supported", req.Type)
	}
	o := c.apply(cmd)
	if o.Code != 0 {
		return client.Response{}, node.NewRPCError(o.Code, o.Text)
	}
	return client.Response{Rev: o.Rev, Key: o.Key, Lease: o.Lease}, nil
}

func TestMachineRevisionsVersionsAndEvents(t *testing.T) {
	c := newMemConn()
	cl := client.Client{Conn: c}
	ctx := context.Background()
	r1, _ := cl.Put(ctx, "/a", 1, 0)
	r2, _ := cl.Put(ctx, "/a", 2, 0)
	k, r3, _ := cl.PutSequential(ctx, "/q/n-", 0, 0)
	k2, _, _ := cl.PutSequential(ctx, "/q/n-", 0, 0)
	if r1 != 1 || r2 != 2 || r3 != 3 || k != "/q/n-0000000001" || k2 != "/q/n-0000000002" {
		t.Fatalf("revisions %d %d %d, sequential keys %q %q", r1, r2, r3, k, k2)
	}
	if e := c.m.Keys["/a"]; e.Version != 2 || e.CreateRev != 1 || e.ModRev != 2 {
		t.Fatalf("/a: %+v, want version 2 created at 1 changed at 2", e)
	}
	if _, err := cl.Create(ctx, "/a", 3, 0); client.ErrorCode(err) != node.KeyAlreadyExists {
		t.Fatalf("create of an existing key: %v, want error 21", err)
	}
	if _, err := cl.Delete(ctx, "/missing"); client.ErrorCode(err) != node.KeyDoesNotExist {
		t.Fatalf("delete of a missing key: %v, want error 20", err)
	}
	evs, through := c.m.eventsFrom(2, 10, func(k string) bool { return strings.HasPrefix(k, "/a") })
	if len(evs) != 1 || evs[0].Rev != 2 || through != 4 {
		t.Fatalf("events of /a from 2: %+v through %d", evs, through)
	}
	// The counter-example sees only the latest value of each key.
	polled, _ := c.m.polled(1, func(k string) bool { return k == "/a" })
	if len(polled) != 1 || polled[0].Rev != 2 {
		t.Fatalf("polled: %+v", polled)
	}
	// A duplicate of an applied command changes nothing.
	data, _ := json.Marshal(command{Client: "test", Seq: 1, Op: "put", Key: "/a", Value: json.RawMessage("9")})
	c.m.Apply(0, data)
	if string(c.m.Keys["/a"].Value) != "2" || c.m.Rev != 4 {
		t.Fatalf("a duplicate put was applied: %s at rev %d", c.m.Keys["/a"].Value, c.m.Rev)
	}
	// Snapshots carry keys, leases and events.
	snap, _ := c.m.Snapshot()
	m2 := newMachine(time.Now)
	if err := m2.Restore(snap); err != nil || m2.Rev != 4 || len(m2.Events) != 4 || m2.Keys["/a"].Version != 2 {
		t.Fatalf("restore: %v, %+v", err, m2)
	}
}

func TestEphemeralKeysDieWithTheirLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newMemConn()
		cl := client.Client{Conn: c}
		ctx := context.Background()
		lease, _ := cl.Grant(ctx, time.Second)
		if _, err := cl.Put(ctx, "/eph", 1, lease); err != nil {
			t.Fatal(err)
		}
		time.Sleep(900 * time.Millisecond)
		_ = cl.KeepAlive(ctx, lease)
		time.Sleep(900 * time.Millisecond)
		c.expire()
		if c.m.Keys["/eph"] == nil {
			t.Fatal("the key died although its lease was kept alive")
		}
		time.Sleep(200 * time.Millisecond)
		c.expire()
		if c.m.Keys["/eph"] != nil {
			t.Fatal("the key outlived its lease")
		}
		if last := c.m.Events[len(c.m.Events)-1]; last.Type != "delete" || last.Key != "/eph" {
			t.Fatalf("last event %+v, want the delete of /eph", last)
		}
		if err := cl.KeepAlive(ctx, lease); client.ErrorCode(err) != node.KeyDoesNotExist {
			t.Fatalf("keepalive of an expired lease: %v, want error 20", err)
		}
		if _, err := cl.Put(ctx, "/eph", 1, lease); client.ErrorCode(err) != node.KeyDoesNotExist {
			t.Fatalf("put with an expired lease: %v, want error 20", err)
		}
	})
}

// TestLockRecipe runs contenders on one lock: at most one holds it at a
// time and tokens grow with each holder.
func TestLockRecipe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newMemConn()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var mu sync.Mutex
		holders, last := 0, int64(0)
		var wg sync.WaitGroup
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := client.NewSession(ctx, client.Client{Conn: c}, time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				defer s.Close(ctx)
				for j := 0; j < 3; j++ {
					m := client.NewMutex(s, "/lock")
					tok, err := m.Lock(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					holders++
					if holders > 1 || tok <= last {
						t.Errorf("token %d after %d with %d holders", tok, last, holders)
					}
					last = tok
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					mu.Lock()
					holders--
					mu.Unlock()
					if err := m.Unlock(ctx); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
	})
}

// TestLockPassesOnWhenHolderDies: a holder that stops its heartbeats
// loses the lock once its lease expires, and the next one gets a higher
// token.
func TestLockPassesOnWhenHolderDies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newMemConn()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cl := client.Client{Conn: c}
		// The dead holder: a lease nobody renews and a lock key under it.
		lease, _ := cl.Grant(ctx, 500*time.Millisecond)
		_, deadTok, _ := cl.PutSequential(ctx, "/lock/", lease, lease)
		s, _ := client.NewSession(ctx, cl, time.Second)
		defer s.Close(ctx)
		e := client.NewElection(s, "/lock")
		got := make(chan int64, 1)
		go func() {
			tok, err := e.Campaign(ctx)
			if err != nil {
				t.Error(err)
			}
			got <- tok
		}()
		time.Sleep(100 * time.Millisecond)
		if l, term, _ := e.Leader(ctx); l != lease || term != deadTok {
			t.Fatalf("leader %d term %d, want the dead holder %d at %d", l, term, lease, deadTok)
		}
		for i := 0; i < 10; i++ {
			time.Sleep(100 * time.Millisecond)
			c.expire()
		}
		select {
		case tok := <-got:
			if tok <= deadTok {
				t.Fatalf("new leader's term %d, want above %d", tok, deadTok)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the lock never passed on")
		}
	})
}

func TestBarrier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newMemConn()
		ctx := context.Background()
		b := client.Barrier{C: client.Client{Conn: c}, Key: "/barrier"}
		if err := b.Hold(ctx, 0); err != nil {
			t.Fatal(err)
		}
		passed := make(chan struct{})
		go func() {
			if err := b.Wait(ctx); err != nil {
				t.Error(err)
			}
			close(passed)
		}()
		synctest.Wait()
		select {
		case <-passed:
			t.Fatal("passed a raised barrier")
		default:
		}
		if err := b.Release(ctx); err != nil {
			t.Fatal(err)
		}
		<-passed
	})
}

// TestExpireCancelledByLaterKeepalive: an expiry decided before a
// keepalive that reached the log first (a new leader that had not applied
// it yet, or a race) must not end the live session.
func TestExpireCancelledByLaterKeepalive(t *testing.T) {
	c := newMemConn()
	cl := client.Client{Conn: c}
	ctx := context.Background()
	lease, _ := cl.Grant(ctx, time.Second)
	_, _ = cl.Put(ctx, "/eph", 1, lease)
	stale := command{Op: "expire", Lease: lease, Renewed: c.m.Leases[lease].Renewed}
	if err := cl.KeepAlive(ctx, lease); err != nil {
		t.Fatal(err)
	}
	c.apply(stale)
	if c.m.Keys["/eph"] == nil || c.m.Leases[lease] == nil {
		t.Fatal("a stale expiry ended a lease renewed after it was decided")
	}
	c.apply(command{Op: "expire", Lease: lease, Renewed: c.m.Leases[lease].Renewed})
	if c.m.Keys["/eph"] != nil {
		t.Fatal("an up-to-date expiry left the key")
	}
}

// A compare-and-set's expected value matches the stored one however its
// object keys are ordered or spaced.
func TestCanonicalIgnoresKeyOrder(t *testing.T) {
	if canonical([]byte(`{"b": 2, "a": {"y":1,"x":[1, 2]}}`)) != canonical([]byte(`{"a":{"x":[1,2],"y":1},"b":2}`)) {
		t.Fatal("the same object in another key order does not compare equal")
	}
	if canonical([]byte(`1`)) == canonical([]byte(`2`)) {
		t.Fatal("different values compare equal")
	}
}
