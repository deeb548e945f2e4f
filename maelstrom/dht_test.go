package maelstrom

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// dhtCluster is a test double of a DHT: every node reads and writes one
// map shared by the in-process cluster, so no value is ever lost, and
// reports a fixed number of hops. forget makes every node acknowledge
// every third put without storing it; hops sets what nodes report.
type dhtCluster struct {
	mu      sync.Mutex
	data    map[string]int64
	members map[string]bool
	puts    int
	forget  bool
	hops    int
}

func newDHTCluster(forget bool, hops int) *dhtCluster {
	return &dhtCluster{data: map[string]int64{}, members: map[string]bool{}, forget: forget, hops: hops}
}

func (c *dhtCluster) program() program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			switch m.Type() {
			case "ring", "join":
				c.members[n.ID] = true
				n.Reply(m, map[string]any{"type": m.Type() + "_ok"})
				return nil
			case "leave":
				delete(c.members, n.ID)
				n.Reply(m, map[string]any{"type": "leave_ok"})
				return nil
			}
			if !c.members[n.ID] {
				n.Reply(m, map[string]any{"type": "error", "code": 11, "text": "not in the ring"})
				return nil
			}
			key := string(m.Field("key"))
			switch m.Type() {
			case "put":
				c.puts++
				if !c.forget || c.puts%3 != 0 {
					c.data[key] = m.Int("value")
				}
				n.Reply(m, map[string]any{"type": "put_ok", "hops": c.hops})
			case "get":
				v, ok := c.data[key]
				if !ok {
					n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "not found"})
					return nil
				}
				n.Reply(m, map[string]any{"type": "get_ok", "value": v, "hops": c.hops})
			default:
				n.Reply(m, map[string]any{"type": "error", "code": 10, "text": "unsupported"})
			}
			return nil
		}}
	})
}

var dhtArgs = []string{"-w", "dht", "--node-count", "8", "--time-limit", "6", "--rate", "50",
	"--concurrency", "1n", "--keys", "8", "--dormant", "1", "--leaves", "1", "--deaths", "1", "--churn-every", "1"}

func dhtDetails(t *testing.T, rep *Report) checker.DHTDetails {
	t.Helper()
	res, ok := rep.Result("dht")
	if !ok {
		t.Fatalf("no dht result\n%s", rep.Summary())
	}
	return res.Details.(checker.DHTDetails)
}

func TestDHTValid(t *testing.T) {
	rep := grade(t, newDHTCluster(false, 2).program(), dhtArgs...)
	wantVerdict(t, rep, checker.Valid, "saw the latest acknowledged put", "1 deaths, 1 joins, 1 leaves", "2.00 hops on average")
	d := dhtDetails(t, rep)
	if d.PutsOK < 50 || d.GetsOK < 50 || d.GetsMissing == 0 {
		t.Fatalf("too little judged: %+v", d)
	}
	// The killed node stays dead: its thread's requests after the kill
	// all fail (no answer), none succeeds.
	if len(d.Deaths) != 1 {
		t.Fatalf("deaths %v, want one", d.Deaths)
	}
	if c := rep.ByF["kill"]; c.OK != 1 {
		t.Fatalf("kill counts %+v", c)
	}
}

// TestDHTLostValues: nodes acknowledge puts they never store.
func TestDHTLostValues(t *testing.T) {
	rep := grade(t, newDHTCluster(true, 2).program(), dhtArgs...)
	wantVerdict(t, rep, checker.Invalid, "missed the latest acknowledged put")
	res, _ := rep.Result("dht")
	v := res.First()
	if v == nil || v.Node == "" || v.Op == nil || v.Value == nil || v.Time == 0 {
		t.Fatalf("violation without node, op, value or time: %+v", v)
	}
	if v.What != "stale value" && v.What != "lost value" {
		t.Fatalf("violation %q", v.What)
	}
	if v.What == "stale value" && !strings.Contains(v.Detail, "was acknowledged at") {
		t.Fatalf("detail does not name the acknowledged put: %s", v.Detail)
	}
}

// TestDHTTooManyHops: nodes claim lookups of 9 hops among 8 nodes; the
// values are right, the routing is not logarithmic.
func TestDHTTooManyHops(t *testing.T) {
	rep := grade(t, newDHTCluster(false, 9).program(), dhtArgs...)
	wantVerdict(t, rep, checker.Invalid, "9.00 hops on average", "log2(8)+1 = 4.00")
	res, _ := rep.Result("dht-hops")
	v := res.First()
	if v == nil || v.Node == "" || v.Op == nil || v.Value != 9 || v.Time == 0 {
		t.Fatalf("violation without node, op, value or time: %+v", v)
	}
	if r, _ := rep.Result("dht"); r.Valid != checker.Valid {
		t.Fatalf("values judged %s; only the hops are wrong\n%s", r.Valid, rep.Summary())
	}
}

// TestDHTNegativeHops: a reply claiming -1 hops is malformed.
func TestDHTNegativeHops(t *testing.T) {
	rep := grade(t, newDHTCluster(false, -1).program(), dhtArgs...)
	if rep.Valid == checker.Valid {
		t.Fatalf("negative hops accepted\n%s", rep.Summary())
	}
	if !strings.Contains(rep.Summary(), "hops must be at least 0") {
		t.Fatalf("summary does not explain the malformed hops:\n%s", rep.Summary())
	}
}

func TestDHTRefusesTooSmallARing(t *testing.T) {
	args := []string{"-w", "dht", "--node-count", "5", "--time-limit", "1", "--dormant", "1", "--deaths", "2"}
	opts, err := ParseArgs(args)
	if err == nil {
		_, err = Run(context.Background(), opts, InProcess{Program: newDHTCluster(false, 1).program()})
	}
	if err == nil || !strings.Contains(err.Error(), "fewer than 3") {
		t.Fatalf("err = %v", err)
	}
}
