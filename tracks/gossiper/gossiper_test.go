package gossiper

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
	"github.com/distsys-curriculum/distsys/internal/program"
	"pgregory.net/rapid"
)

func TestTreeIsASpanningTree(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 60).Draw(rt, "nodes")
		fanout := rapid.IntRange(0, 70).Draw(rt, "fanout")
		var nodes []string
		for i := range n {
			nodes = append(nodes, fmt.Sprintf("n%d", i))
		}
		edges := 0
		adj := map[string][]string{}
		for _, id := range nodes {
			adj[id] = Tree(nodes, id, fanout)
			edges += len(adj[id])
		}
		// Symmetric, n-1 links, connected: a spanning tree.
		for a, ns := range adj {
			for _, b := range ns {
				if !slices.Contains(adj[b], a) {
					rt.Fatalf("%s lists %s but not the other way round", a, b)
				}
			}
		}
		if edges != 2*(n-1) {
			rt.Fatalf("%d nodes, fanout %d: %d link ends, want %d", n, fanout, edges, 2*(n-1))
		}
		seen := map[string]bool{nodes[0]: true}
		for todo := []string{nodes[0]}; len(todo) > 0; todo = todo[1:] {
			for _, b := range adj[todo[0]] {
				if !seen[b] {
					seen[b] = true
					todo = append(todo, b)
				}
			}
		}
		if len(seen) != n {
			rt.Fatalf("%d nodes, fanout %d: only %d reachable", n, fanout, len(seen))
		}
	})
	star := Tree([]string{"n0", "n1", "n2", "n3"}, "n0", 0)
	if !slices.Equal(star, []string{"n1", "n2", "n3"}) {
		t.Fatalf("star root neighbours %v", star)
	}
	if got := Tree([]string{"n0", "n1", "n2", "n3"}, "n3", 2); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("binary tree: n3's neighbours %v, want its parent n1", got)
	}
}

func TestStoreVectorCountsGaplessPrefix(t *testing.T) {
	s := newStore()
	for _, e := range []Entry{{"n2", 1, 10}, {"n2", 3, 12}, {"n1", 1, 20}} {
		if !s.add(e) {
			t.Fatalf("%v not new", e)
		}
	}
	if s.add(Entry{"n2", 1, 10}) {
		t.Fatal("a repeated entry counted as new")
	}
	if v := s.vector(); v["n2"] != 1 || v["n1"] != 1 {
		t.Fatalf("vector %v, want n2:1 (seq 2 missing) n1:1", v)
	}
	s.add(Entry{"n2", 2, 11})
	if v := s.vector(); v["n2"] != 3 {
		t.Fatalf("vector %v after the gap filled, want n2:3", v)
	}
	// A peer with n2:1 lacks n2 2 and 3, but only what is counted in upTo
	// is offered.
	got := s.missing(Vector{"n2": 1}, Vector{"n2": 2, "n1": 1})
	want := []Entry{{"n1", 1, 20}, {"n2", 2, 11}}
	if !slices.Equal(got, want) {
		t.Fatalf("missing = %v, want %v", got, want)
	}
	if s.behind(Vector{"n2": 3, "n1": 1}) || !s.behind(Vector{"n0": 1}) {
		t.Fatal("behind misjudged")
	}
	if e, fresh := s.local("n0", 11); fresh {
		t.Fatalf("a value already known was accepted again as %v", e)
	}
	if r := s.read(); len(r) != 4 {
		t.Fatalf("read %v, want 4 distinct values", r)
	}
}

// peer plays the grader and the other nodes around one node under test.
type peer struct {
	t *testing.T
	*nodetest.Conn
}

type envelope struct {
	Src, Dest string
	Body      map[string]json.RawMessage
}

func (e envelope) typ() string {
	var s string
	_ = json.Unmarshal(e.Body["type"], &s)
	return s
}

func start(t *testing.T, id string, ids []string, args ...string) *peer {
	t.Helper()
	p := &peer{t: t, Conn: nodetest.Start(t, node.Program(Configure), args, nil)}
	idsJSON, _ := json.Marshal(ids)
	p.Send("c0", id, fmt.Sprintf(`{"type":"init","msg_id":1,"node_id":%q,"node_ids":%s}`, id, idsJSON))
	if e := p.expect("init_ok", "c0"); e.Dest != "c0" {
		t.Fatalf("init answered with %v", e)
	}
	return p
}

// expect reads until a message of type typ to dest, skipping the periodic
// traffic (digests, batches) the test is not about.
func (p *peer) expect(typ, dest string) envelope {
	p.t.Helper()
	for range 100 {
		line, err := p.ReadLine()
		if err != nil {
			p.t.Fatalf("no %s to %s: %v", typ, dest, err)
		}
		var e envelope
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			p.t.Fatalf("bad line %q: %v", line, err)
		}
		if e.typ() == typ && e.Dest == dest {
			return e
		}
	}
	p.t.Fatalf("no %s to %s in 100 messages", typ, dest)
	return envelope{}
}

func entries(t *testing.T, e envelope) []Entry {
	t.Helper()
	var es []Entry
	if err := json.Unmarshal(e.Body["entries"], &es); err != nil {
		t.Fatalf("entries of %v: %v", e, err)
	}
	return es
}

// TestGossipBatchesAndRepairsOnlyWhatWasLost drives a leaf of the gossip
// strategy's star: a value finding the link idle leaves at once, the next
// ones wait to leave together, its digest goes to the root, and a digest
// showing a loss is answered with the lost entries and nothing newer.
func TestGossipBatchesAndRepairsOnlyWhatWasLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := start(t, "n1", []string{"n0", "n1", "n2"}, "--strategy", "gossip", "--batch", "100ms", "--sync", "1s")
		p.Send("c1", "n1", `{"type":"broadcast","msg_id":2,"message":5}`)
		first := p.expect("gossip", "n0") // sent before the reply
		p.expect("broadcast_ok", "c1")
		if got, want := entries(t, first), []Entry{{"n1", 1, 5}}; !slices.Equal(got, want) {
			t.Fatalf("first message %v, want %v at once", got, want)
		}
		sent := time.Now()
		p.Send("c1", "n1", `{"type":"broadcast","msg_id":3,"message":6}`)
		p.expect("broadcast_ok", "c1")
		p.Send("c1", "n1", `{"type":"broadcast","msg_id":4,"message":9}`)
		p.expect("broadcast_ok", "c1")
		batch := p.expect("gossip", "n0")
		if got, want := entries(t, batch), []Entry{{"n1", 2, 6}, {"n1", 3, 9}}; !slices.Equal(got, want) || time.Since(sent) < 100*time.Millisecond {
			t.Fatalf("batch %v after %v, want %v in one message a batch period after the first", got, time.Since(sent), want)
		}
		if _, ok := batch.Body["msg_id"]; ok {
			t.Fatal("a gossip batch asks for an acknowledgement")
		}
		// Values from the root are not sent back to it.
		p.Send("n0", "n1", `{"type":"gossip","entries":[{"o":"n2","s":1,"v":7}]}`)
		digest := p.expect("sync", "n0")
		var d syncMsg
		raw, _ := json.Marshal(digest.Body)
		_ = json.Unmarshal(raw, &d)
		if d.Vector["n1"] != 3 || d.Vector["n2"] != 1 {
			t.Fatalf("digest %v, want n1:3 n2:1", d.Vector)
		}
		// One more period: everything above is now a period old. A value
		// that arrives now, even one sync tick before the repair, is still
		// travelling, and not offered as a repair.
		p.expect("sync", "n0")
		p.Send("c1", "n1", `{"type":"broadcast","msg_id":5,"message":8}`)
		if got := entries(t, p.expect("gossip", "n0")); !slices.Equal(got, []Entry{{"n1", 4, 8}}) {
			t.Fatalf("push of value 8: %v", got)
		}
		p.expect("sync", "n0")
		p.Send("n0", "n1", `{"type":"sync","vector":{"n1":1,"n2":1},"stable":{}}`)
		repair := p.expect("gossip", "n0")
		if got, want := entries(t, repair), []Entry{{"n1", 2, 6}, {"n1", 3, 9}}; !slices.Equal(got, want) {
			t.Fatalf("repair %v, want only the lost %v", got, want)
		}
		// The root holds something stable this node lacks: it answers with
		// its own digest, marked as a reply.
		p.Send("n0", "n1", `{"type":"sync","vector":{"n0":1},"stable":{"n0":1}}`)
		back := p.expect("sync", "n0")
		if string(back.Body["reply"]) != "true" {
			t.Fatalf("answer to a digest showing a gap: %v, want a reply digest", back.Body)
		}
	})
}

// TestFloodAcknowledgesForwardsAndRetries: a flooding node acknowledges
// what it receives, forwards it to its other neighbours, and resends to
// the neighbour that did not acknowledge.
func TestFloodAcknowledgesForwardsAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := start(t, "n1", []string{"n0", "n1", "n2"}, "--strategy", "flood", "--retry", "500ms")
		p.Send("c1", "n1", `{"type":"topology","msg_id":2,"topology":{"n0":["n1"],"n1":["n0","n2"],"n2":["n1"]}}`)
		p.expect("topology_ok", "c1")
		p.Send("n0", "n1", `{"type":"gossip","msg_id":9,"entries":[{"o":"n0","s":1,"v":3}]}`)
		ack := p.expect("gossip_ok", "n0")
		if string(ack.Body["in_reply_to"]) != "9" {
			t.Fatalf("ack %v", ack.Body)
		}
		fwd := p.expect("gossip", "n2")
		if got := entries(t, fwd); !slices.Equal(got, []Entry{{"n0", 1, 3}}) {
			t.Fatalf("forwarded %v", got)
		}
		start := time.Now()
		again := p.expect("gossip", "n2")
		if !slices.Equal(entries(t, again), []Entry{{"n0", 1, 3}}) || time.Since(start) < 500*time.Millisecond {
			t.Fatalf("resend %v after %v", again.Body, time.Since(start))
		}
		p.Send("n2", "n1", fmt.Sprintf(`{"type":"gossip_ok","in_reply_to":%s}`, again.Body["msg_id"]))
		// Acknowledged: nothing more goes to n2, and nothing ever went back to n0.
		time.Sleep(2 * time.Second)
		p.Send("c1", "n1", `{"type":"read","msg_id":3}`)
		for {
			line, err := p.ReadLine()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(line, `"gossip"`) {
				t.Fatalf("sent after the acknowledgement: %s", line)
			}
			if strings.Contains(line, `"read_ok"`) {
				if !strings.Contains(line, `"messages":[3]`) {
					t.Fatalf("read %s", line)
				}
				break
			}
		}
	})
}

func TestConfigureRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"--strategy", "shout"}, {"--batch", "0s"}, {"--sync", "-1s"}, {"--fanout", "-2"}, {"--nope"}, {"extra"},
	} {
		err := node.Program(Configure)(context.Background(), program.IO{Stdin: program.NewPipe(), Args: args})
		if err == nil {
			t.Errorf("arguments %q accepted", args)
		}
	}
}
