package services

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// client drives one service as one node would, numbering its requests.
type client struct {
	t     *testing.T
	svc   Service
	src   string
	msgID int
}

type reply struct {
	Type      string          `json:"type"`
	InReplyTo *int            `json:"in_reply_to"`
	MsgID     *int            `json:"msg_id"`
	Value     json.RawMessage `json:"value"`
	TS        *uint64         `json:"ts"`
	Code      int             `json:"code"`
	Text      string          `json:"text"`
}

func (c *client) call(body map[string]any) reply {
	c.t.Helper()
	c.msgID++
	body["msg_id"] = c.msgID
	raw, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	out, ok := c.svc.Handle(c.src, raw)
	if !ok {
		c.t.Fatalf("%s: no reply to %s", c.src, raw)
	}
	var r reply
	if err := json.Unmarshal(out, &r); err != nil {
		c.t.Fatalf("reply %s: %v", out, err)
	}
	if r.InReplyTo == nil || *r.InReplyTo != c.msgID {
		c.t.Fatalf("reply %s does not answer msg_id %d", out, c.msgID)
	}
	if r.MsgID != nil {
		c.t.Fatalf("reply %s carries a msg_id", out)
	}
	return r
}

func (c *client) read(key any) (int, bool) {
	c.t.Helper()
	r := c.call(map[string]any{"type": "read", "key": key})
	if r.Type == "error" {
		if r.Code != CodeKeyDoesNotExist {
			c.t.Fatalf("read: unexpected error %d %q", r.Code, r.Text)
		}
		return 0, false
	}
	var v int
	if err := json.Unmarshal(r.Value, &v); err != nil {
		c.t.Fatalf("read value %s: %v", r.Value, err)
	}
	return v, true
}

func (c *client) write(key, value any) {
	c.t.Helper()
	if r := c.call(map[string]any{"type": "write", "key": key, "value": value}); r.Type != "write_ok" {
		c.t.Fatalf("write: %+v", r)
	}
}

func (c *client) cas(key, from, to any) reply {
	c.t.Helper()
	return c.call(map[string]any{"type": "cas", "key": key, "from": from, "to": to})
}

func newService(t *testing.T, name string, seed uint64) Service {
	t.Helper()
	s, err := New(name, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewKnowsEveryName(t *testing.T) {
	for _, n := range Names {
		newService(t, n, 1)
	}
	if _, err := New("no-such-kv", rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("unknown name accepted")
	}
}

func TestKVOperationsAndErrors(t *testing.T) {
	// On seq-kv a single client always sees its own writes, and on lww-kv
	// a single client may not, so lww-kv has its own test below.
	for _, name := range []string{"lin-kv", "seq-kv"} {
		t.Run(name, func(t *testing.T) {
			c := &client{t: t, svc: newService(t, name, 7), src: "n0"}
			r := c.call(map[string]any{"type": "read", "key": "k"})
			if r.Type != "error" || r.Code != 20 || r.Text != "key does not exist" {
				t.Fatalf("read missing: %+v", r)
			}
			if r := c.cas("k", 1, 2); r.Type != "error" || r.Code != 20 {
				t.Fatalf("cas missing: %+v", r)
			}
			r = c.call(map[string]any{"type": "cas", "key": "k", "from": 9, "to": 3, "create_if_not_exists": true})
			if r.Type != "cas_ok" {
				t.Fatalf("cas create: %+v", r)
			}
			if v, ok := c.read("k"); !ok || v != 3 {
				t.Fatalf("read after create = %d, %v", v, ok)
			}
			r = c.cas("k", 4, 5)
			if r.Type != "error" || r.Code != 22 || r.Text != "current value 3 is not 4" {
				t.Fatalf("cas mismatch: %+v", r)
			}
			if r := c.cas("k", 3, 5); r.Type != "cas_ok" {
				t.Fatalf("cas: %+v", r)
			}
			c.write("k", 6)
			if v, _ := c.read("k"); v != 6 {
				t.Fatalf("read after write = %d", v)
			}
		})
	}
}

func TestKVValueEquality(t *testing.T) {
	c := &client{t: t, svc: NewLinKV(), src: "n0"}
	key := map[string]any{"b": []any{1, "x"}, "a": nil}
	c.call(map[string]any{"type": "write", "key": key, "value": json.RawMessage(`{"y":1,"x":[1.0,2]}`)})
	// The same key written with the other key order, and a structurally
	// equal value, must match; 1 and 1.0 must not.
	raw := json.RawMessage(`{"a":null,"b":[1,"x"]}`)
	if r := c.cas(raw, json.RawMessage(`{"x":[1,2],"y":1}`), 0); r.Code != 22 {
		t.Fatalf("1 matched 1.0: %+v", r)
	}
	if r := c.cas(raw, json.RawMessage(`{"x":[1.00,2],"y":1}`), 0); r.Type != "cas_ok" {
		t.Fatalf("structurally equal value did not match: %+v", r)
	}
	if r := c.call(map[string]any{"type": "read", "key": json.RawMessage(`{"a":null,"b":[1.0,"x"]}`)}); r.Code != 20 {
		t.Fatalf("key [1.0] found key [1]: %+v", r)
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		``:                               `null`,
		` 1 `:                            `1`,
		`-0`:                             `0`,
		`1.0`:                            `1.0`,
		`1.50`:                           `1.5`,
		`1e2`:                            `100.0`,
		`-0.0`:                           `0.0`,
		`123456789012345678901234567890`: `123456789012345678901234567890`,
		`{"b":1,"a":[true,"<"]}`:         `{"a":[true,"\u003c"],"b":1}`,
	} {
		got, err := canonical(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`{`, `1 2`, `1e999`, `01`, `"a`, `-`, `"\x"`} {
		if _, err := canonical(json.RawMessage(bad)); err == nil {
			t.Errorf("canonical(%q) accepted", bad)
		}
	}
}

func TestRepliesWithoutMsgIDAndSilence(t *testing.T) {
	for _, name := range Names {
		s := newService(t, name, 3)
		typ := "read"
		if name == "lin-tso" {
			typ = "ts"
		}
		out, ok := s.Handle("n0", json.RawMessage(`{"type":"`+typ+`","key":1}`))
		if !ok {
			t.Fatalf("%s: no reply", name)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		if string(m["in_reply_to"]) != "null" {
			t.Errorf("%s: in_reply_to = %s, want null", name, m["in_reply_to"])
		}
		for _, body := range []string{`{"type":"frobnicate","msg_id":1}`, `not json`} {
			if out, ok := s.Handle("n0", json.RawMessage(body)); ok {
				t.Errorf("%s answered %s with %s", name, body, out)
			}
		}
	}
}

func TestLinTSO(t *testing.T) {
	s := NewLinTSO()
	var wg sync.WaitGroup
	seen := make([][]uint64, 4)
	for i := range seen {
		wg.Go(func() {
			c := &client{t: t, svc: s, src: fmt.Sprintf("n%d", i)}
			for range 100 {
				r := c.call(map[string]any{"type": "ts"})
				if r.Type != "ts_ok" || r.TS == nil {
					t.Errorf("ts: %+v", r)
					return
				}
				seen[i] = append(seen[i], *r.TS)
			}
		})
	}
	wg.Wait()
	all := make(map[uint64]bool)
	for _, ts := range seen {
		for j, v := range ts {
			if j > 0 && v <= ts[j-1] {
				t.Fatalf("timestamps went back: %d after %d", v, ts[j-1])
			}
			all[v] = true
		}
	}
	for v := range uint64(400) {
		if !all[v] {
			t.Fatalf("timestamp %d never issued", v)
		}
	}
}

// increment adds one to key "n" the naive way: read, then write.
func naiveIncrement(c *client) {
	v, _ := c.read("n")
	c.write("n", v+1)
}

// casIncrement adds one with a compare-and-set loop, retrying stale reads.
func casIncrement(c *client) {
	for {
		v, _ := c.read("n")
		if r := c.cas("n", v, v+1); r.Type == "cas_ok" {
			return
		} else if r.Code != 22 && r.Code != 20 {
			// 20: a stale state from before the key was created.
			c.t.Fatalf("cas: %+v", r)
		}
	}
}

// finalRead takes the largest of many reads: seq-kv's reads are monotonic
// per node and eventually reach the newest state.
func finalRead(c *client) int {
	v := 0
	for range 200 {
		v = max(v, must(c.read("n")))
	}
	return v
}

func must(v int, _ bool) int { return v }

func TestSeqKVLosesNaiveIncrementsButNotCAS(t *testing.T) {
	const rounds = 40
	lostSomewhere := false
	for seed := range uint64(10) {
		svc := newService(t, "seq-kv", seed)
		init := &client{t: t, svc: svc, src: "c0"}
		init.write("n", 0)
		a, b := &client{t: t, svc: svc, src: "n0"}, &client{t: t, svc: svc, src: "n1"}
		// Strictly one operation at a time: on lin-kv nothing would be lost.
		for range rounds {
			naiveIncrement(a)
			naiveIncrement(b)
		}
		if got := finalRead(a); got < 2*rounds {
			lostSomewhere = true
		}

		svc = newService(t, "seq-kv", seed)
		init = &client{t: t, svc: svc, src: "c0"}
		init.write("n", 0)
		a, b = &client{t: t, svc: svc, src: "n0"}, &client{t: t, svc: svc, src: "n1"}
		for range rounds {
			casIncrement(a)
			casIncrement(b)
		}
		if got := finalRead(&client{t: t, svc: svc, src: "c1"}); got != 2*rounds {
			t.Fatalf("seed %d: CAS increments gave %d, want %d", seed, got, 2*rounds)
		}
	}
	if !lostSomewhere {
		t.Fatal("naive read-modify-write never lost an update on seq-kv")
	}

	lin := NewLinKV()
	a, b := &client{t: t, svc: lin, src: "n0"}, &client{t: t, svc: lin, src: "n1"}
	a.write("n", 0)
	for range rounds {
		naiveIncrement(a)
		naiveIncrement(b)
	}
	if v, _ := a.read("n"); v != 2*rounds {
		t.Fatalf("lin-kv lost sequential increments: %d", v)
	}
}

func TestSeqKVStaleMonotonicAndCatchesUp(t *testing.T) {
	staleSeen := false
	for seed := range uint64(20) {
		svc := newService(t, "seq-kv", seed)
		w := &client{t: t, svc: svc, src: "n0"}
		r := &client{t: t, svc: svc, src: "n1"}
		last := -1
		for i := range 10 {
			w.write("k", i)
			// The writer always sees its own write.
			if v, _ := w.read("k"); v != i {
				t.Fatalf("seed %d: writer read %d after writing %d", seed, v, i)
			}
			v, ok := r.read("k")
			if !ok {
				v = -1
			}
			if v < last {
				t.Fatalf("seed %d: reader went back from %d to %d", seed, last, v)
			}
			if v < i {
				staleSeen = true
			}
			last = v
		}
		caught := false
		for range 200 {
			v, _ := r.read("k")
			if v < last {
				t.Fatalf("seed %d: reader went back from %d to %d", seed, last, v)
			}
			last = v
			if v == 9 {
				caught = true
				break
			}
		}
		if !caught {
			t.Fatalf("seed %d: reader stuck at %d", seed, last)
		}
	}
	if !staleSeen {
		t.Fatal("seq-kv never served a stale read to a node that did not write")
	}
}

func TestSeqKVForgetsBeyondRing(t *testing.T) {
	s := NewSeqKV(rand.New(rand.NewPCG(1, 2)))
	w := &client{t: t, svc: s, src: "n0"}
	for i := range 3 * SeqStates {
		w.write("k", i)
	}
	if n := len(s.keys[`"k"`]); n > SeqStates+1 {
		t.Fatalf("kept %d versions of one key", n)
	}
	// A node that has never read must not see anything older than the ring.
	r := &client{t: t, svc: s, src: "n1"}
	for range 100 {
		if v, _ := r.read("k"); v < 3*SeqStates-SeqStates {
			t.Fatalf("read %d, older than the last %d states", v, SeqStates)
		}
	}
}

func TestLWWKVStaleThenConverges(t *testing.T) {
	staleSeen := false
	for seed := range uint64(20) {
		svc := newService(t, "lww-kv", seed)
		w := &client{t: t, svc: svc, src: "n0"}
		w.write("k", 1)
		w.write("k", 2)
		if _, ok := w.read("k"); !ok {
			staleSeen = true
		}
		// Reads by anyone eventually settle on the last write and stay there.
		settled := 0
		for range 400 {
			v, ok := w.read("k")
			if ok && v == 2 {
				settled++
			} else {
				staleSeen = true
				settled = 0
			}
		}
		if settled < 100 {
			t.Fatalf("seed %d: replicas did not converge on the last write", seed)
		}
		for i, rep := range svc.(*LWWKV).replicas {
			if rep[`"k"`].value != "2" {
				t.Fatalf("seed %d: replica %d holds %q", seed, i, rep[`"k"`].value)
			}
		}
	}
	if !staleSeen {
		t.Fatal("lww-kv never served a stale read")
	}
}

func TestLWWKVCasHasNoCreate(t *testing.T) {
	c := &client{t: t, svc: newService(t, "lww-kv", 1), src: "n0"}
	r := c.call(map[string]any{"type": "cas", "key": "k", "from": 1, "to": 2, "create_if_not_exists": true})
	if r.Type != "error" || r.Code != 20 {
		t.Fatalf("cas create on lww-kv: %+v", r)
	}
	for c.cas("k", 1, 2).Code != 20 {
		t.Fatal("cas on a missing key did not fail")
	}
	c.write("k", 1)
	for {
		// Retry until a replica holding the write answers.
		r := c.cas("k", 1, 2)
		if r.Type == "cas_ok" {
			break
		}
		if r.Code != 20 && r.Code != 22 {
			t.Fatalf("cas: %+v", r)
		}
	}
}

// Services are called from every node's goroutine at once: under -race
// (make test runs this package with it) any unguarded state fails here.
// The client helpers check each reply; the timestamps of lin-tso must
// still rise for each caller.
func TestConcurrentUse(t *testing.T) {
	for _, name := range Names {
		s := newService(t, name, 5)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				c := &client{t: t, svc: s, src: fmt.Sprintf("n%d", i)}
				var last *uint64
				for j := range 100 {
					if name == "lin-tso" {
						r := c.call(map[string]any{"type": "ts"})
						if r.Type != "ts_ok" || r.TS == nil || (last != nil && *r.TS <= *last) {
							t.Errorf("%s: ts reply %+v after %v", c.src, r, last)
							return
						}
						last = r.TS
						continue
					}
					c.write(j%3, j)
					c.read(j % 3)
					c.cas(j%3, j, j+1)
				}
			})
		}
		wg.Wait()
	}
}

func TestSeqKVNoOpMutationsAnsweredInPlace(t *testing.T) {
	s := NewSeqKV(rand.New(rand.NewPCG(4, 4)))
	w := &client{t: t, svc: s, src: "n0"}
	w.write("k", 1)
	before := s.newest
	// An identity cas and a write of the current value change nothing, so
	// they do not add states: the reason two identity cas can both succeed.
	if r := w.cas("k", 1, 1); r.Type != "cas_ok" {
		t.Fatalf("identity cas: %+v", r)
	}
	w.write("k", 1)
	if s.newest != before {
		t.Fatalf("no-op mutations added %d states", s.newest-before)
	}
	w.write("k", 2)
	if s.newest != before+1 {
		t.Fatal("a real write added no state")
	}
}

func BenchmarkHandle(b *testing.B) {
	bodies := []json.RawMessage{
		json.RawMessage(`{"type":"write","msg_id":1,"key":"k3","value":{"n":12,"tags":["a","b"]}}`),
		json.RawMessage(`{"type":"read","msg_id":2,"key":"k3"}`),
		json.RawMessage(`{"type":"cas","msg_id":3,"key":"k3","from":{"tags":["a","b"],"n":12},"to":13}`),
	}
	for _, name := range Names {
		b.Run(name, func(b *testing.B) {
			s, err := New(name, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				body := bodies[i%len(bodies)]
				if name == "lin-tso" {
					body = json.RawMessage(`{"type":"ts","msg_id":4}`)
				}
				s.Handle("n1", body)
				i++
			}
		})
	}
}

func TestCanonicalScalarAgreesWithDecoder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var raw string
		if rapid.Bool().Draw(t, "number") {
			raw = rapid.StringMatching(`-?[0-9]{1,25}`).Draw(t, "int")
		} else {
			b, _ := json.Marshal(rapid.String().Draw(t, "s"))
			raw = string(b)
		}
		fast, fok := canonicalScalar([]byte(raw))
		slow, err := canonicalSlow(json.RawMessage(raw))
		if fok && (err != nil || fast != slow) {
			t.Fatalf("%s: fast path %q, decoder %q (%v)", raw, fast, slow, err)
		}
	})
}
