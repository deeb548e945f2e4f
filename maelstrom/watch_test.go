package maelstrom

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// watchNode is a single-node coordination service for the watch workload,
// correct unless fault names a way to break it:
//
//	skip      every 5th event a watch would deliver is left out
//	dup       every 5th event is delivered twice
//	reorder   the first two events of a reply are swapped
//	immortal  leases never expire
//	token     every lock gets token 1 (no fencing)
func watchNode(fault string) program.Program {
	type event struct {
		Rev   int64           `json:"rev"`
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value,omitempty"`
	}
	type lease struct {
		ttl  time.Duration
		seen time.Time
		keys map[string]bool
	}
	type lockOp struct {
		req         testnodes.Msg
		token, step int64
	}
	return testnodes.Program(func() testnodes.Handlers {
		var (
			rev       int64
			keys      = map[string]json.RawMessage{}
			versions  = map[string]int64{}
			events    []event
			leases    = map[int64]*lease{}
			nextLease int64
			delivered int
			pending   = map[int64]*lockOp{}
			nextToken int64
		)
		change := func(key string, typ string, v json.RawMessage) {
			rev++
			if typ == "put" {
				keys[key] = v
				versions[key]++
			} else {
				delete(keys, key)
				delete(versions, key)
			}
			events = append(events, event{rev, key, typ, v})
		}
		fenced := func(n *testnodes.Node, op *lockOp) {
			step := "begin"
			if op.step == 1 {
				step = "end"
			}
			id := n.RPC("fenced", map[string]any{"type": "fenced_write", "token": op.token, "value": op.req.Int("value"), "step": step})
			pending[id] = op
		}
		return testnodes.Handlers{Every: 50 * time.Millisecond,
			Tick: func(*testnodes.Node) {
				if fault == "immortal" {
					return
				}
				var ids []int64
				for id, l := range leases {
					if time.Since(l.seen) > l.ttl {
						ids = append(ids, id)
					}
				}
				sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
				for _, id := range ids {
					var ks []string
					for k := range leases[id].keys {
						ks = append(ks, k)
					}
					sort.Strings(ks)
					for _, k := range ks {
						change(k, "delete", nil)
					}
					delete(leases, id)
				}
			},
			Handle: func(n *testnodes.Node, m testnodes.Msg) error {
				str := func(f string) string {
					var s string
					_ = json.Unmarshal(m.Body[f], &s)
					return s
				}
				if m.Src == "fenced" {
					op := pending[m.Int("in_reply_to")]
					delete(pending, m.Int("in_reply_to"))
					if op == nil {
						return nil
					}
					if m.Type() != "fenced_write_ok" {
						n.Reply(op.req, map[string]any{"type": "error", "code": 14, "text": "fenced write refused"})
						return nil
					}
					if op.step++; op.step == 2 {
						n.Reply(op.req, map[string]any{"type": "lock_ok", "token": op.token})
						return nil
					}
					fenced(n, op)
					return nil
				}
				switch m.Type() {
				case "put":
					if l := m.Int("lease"); l != 0 {
						if leases[l] == nil {
							n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "no such lease"})
							return nil
						}
						leases[l].keys[str("key")] = true
					}
					change(str("key"), "put", m.Body["value"])
					n.Reply(m, map[string]any{"type": "put_ok", "rev": rev})
				case "get":
					v, ok := keys[str("key")]
					if !ok {
						v = json.RawMessage("null")
					}
					n.Reply(m, map[string]any{"type": "get_ok", "value": v, "version": versions[str("key")]})
				case "cas":
					v, ok := keys[str("key")]
					switch {
					case !ok:
						n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "missing"})
					case string(v) != string(m.Body["from"]):
						n.Reply(m, map[string]any{"type": "error", "code": 22, "text": "mismatch"})
					default:
						change(str("key"), "put", m.Body["to"])
						n.Reply(m, map[string]any{"type": "cas_ok", "rev": rev})
					}
				case "lease_grant":
					nextLease++
					leases[nextLease] = &lease{ttl: time.Duration(m.Int("ttl")) * time.Millisecond, seen: time.Now(), keys: map[string]bool{}}
					n.Reply(m, map[string]any{"type": "lease_grant_ok", "lease": nextLease})
				case "lease_keepalive":
					l := leases[m.Int("lease")]
					if l == nil {
						n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "no such lease"})
						return nil
					}
					l.seen = time.Now()
					n.Reply(m, map[string]any{"type": "lease_keepalive_ok"})
				case "watch", "watch_once":
					from := m.Int("rev")
					out := []event{}
					for _, ev := range events {
						if ev.Rev < from {
							continue
						}
						if (m.Type() == "watch" && strings.HasPrefix(ev.Key, str("prefix"))) || (m.Type() == "watch_once" && ev.Key == str("key")) {
							delivered++
							switch {
							case fault == "skip" && delivered%5 == 0:
								continue
							case fault == "dup" && delivered%5 == 0:
								out = append(out, ev)
							}
							out = append(out, ev)
							if m.Type() == "watch_once" {
								break
							}
						}
					}
					if fault == "reorder" && len(out) >= 2 {
						out[0], out[1] = out[1], out[0]
					}
					n.Reply(m, map[string]any{"type": m.Type() + "_ok", "events": out, "rev": rev})
				case "lock":
					tok := int64(1)
					if fault != "token" {
						nextToken++
						tok = nextToken
					}
					fenced(n, &lockOp{req: m, token: tok})
				}
				return nil
			}}
	})
}

func gradeWatch(t *testing.T, fault string, extra ...string) *Report {
	t.Helper()
	args := append([]string{"-w", "watch", "--node-count", "1", "--time-limit", "10", "--rate", "100", "--concurrency", "8"}, extra...)
	return grade(t, watchNode(fault), args...)
}

// firstViolation returns the checker's first violation, failing t when
// the checker did not reject the run or its evidence lacks node, op,
// value or time.
func firstViolation(t *testing.T, rep *Report, name, what string) checker.Violation {
	t.Helper()
	res, ok := rep.Result(name)
	if !ok || res.Valid != checker.Invalid {
		t.Fatalf("%s: want invalid\n%s", name, rep.Summary())
	}
	v := res.Violations[0]
	if v.What != what || v.Node == "" || v.Value == nil || v.Time <= 0 {
		t.Fatalf("%s: first violation %+v, want %q with node, value and time", name, v, what)
	}
	return v
}

func TestWatchCorrectNode(t *testing.T) {
	rep := gradeWatch(t, "", "--locks", "true")
	wantVerdict(t, rep, checker.Valid)
	for _, name := range []string{"linearizable", "watch", "ephemeral", "fencing"} {
		if res, ok := rep.Result(name); !ok || res.Valid != checker.Valid {
			t.Fatalf("%s: %+v", name, res)
		}
	}
	res, _ := rep.Result("watch")
	if d := res.Details.(checker.WatchDetails); d.Delivered < 100 || d.Streams == 0 || d.OneShots == 0 {
		t.Fatalf("watch figures %+v: the workload did not exercise both kinds of watch", d)
	}
}

func TestWatchSkippedEvent(t *testing.T) {
	v := firstViolation(t, gradeWatch(t, "skip"), "watch", "missed event")
	if v.Op == nil || !strings.Contains(v.Detail, "never delivered") {
		t.Fatalf("violation %+v does not name the watch op and the missed change", v)
	}
}

func TestWatchDuplicatedEvent(t *testing.T) {
	firstViolation(t, gradeWatch(t, "dup"), "watch", "duplicate event")
}

func TestWatchEventsOutOfOrder(t *testing.T) {
	firstViolation(t, gradeWatch(t, "reorder"), "watch", "event out of order")
}

func TestWatchEphemeralOutlivesSession(t *testing.T) {
	v := firstViolation(t, gradeWatch(t, "immortal"), "ephemeral", "ephemeral key outlived its session")
	if v.Op == nil || !strings.Contains(v.Detail, "/eph/") {
		t.Fatalf("violation %+v does not name the probe and the key", v)
	}
}

func TestWatchLockWithoutFencing(t *testing.T) {
	rep := gradeWatch(t, "token", "--locks", "true")
	res, _ := rep.Result("fencing")
	if res.Valid != checker.Invalid {
		t.Fatalf("fencing: want invalid\n%s", rep.Summary())
	}
	if v := res.Violations[0]; v.Node == "" || v.Value == nil || v.Time <= 0 {
		t.Fatalf("first violation %+v lacks node, value or time", v)
	}
}
