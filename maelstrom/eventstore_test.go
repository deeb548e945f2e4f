package maelstrom

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// eventStoreNode is a single-node event store for the eventstore
// workload, correct unless fault names a way to break it:
//
//	nocheck  appends ignore the expected version (the reactor track's
//	         counter-example)
//	gap      every 7th event skips a version number
//	lose     every 10th append is acknowledged but not stored
//	model    the read model adds 1 to the first balance
//	asof     as-of-time answers include one event past the time
//
// It applies appends every 20 ms, in a batch, so that commands overlap,
// and its read model catches up every 100 ms, so it is stale in between.
func eventStoreNode(fault string) program.Program {
	type event struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Amount int64  `json:"amount,omitempty"`
		Peer   string `json:"peer,omitempty"`
		At     int64  `json:"at"`
	}
	type record struct {
		Stream   string `json:"stream"`
		Version  int64  `json:"version"`
		Position int64  `json:"position"`
		Event    event  `json:"event"`
	}
	type write struct {
		Stream   string  `json:"stream"`
		Expected int64   `json:"expected_version"`
		Events   []event `json:"events"`
	}
	type account struct {
		Open    bool  `json:"open"`
		Balance int64 `json:"balance"`
	}
	fold := func(s account, e event) account {
		switch e.Type {
		case "opened":
			s.Open = true
		case "deposited", "transfer_in":
			s.Balance += e.Amount
		case "withdrawn", "transfer_out":
			s.Balance -= e.Amount
		}
		return s
	}
	return testnodes.Program(func() testnodes.Handlers {
		var (
			log      []record
			streams  = map[string][]record{}
			appended int
			events   int
			modelPos int64
			balances = map[string]int64{}
			accounts = map[string]account{}
			pending  []testnodes.Msg
			ticks    int
		)
		state := func(stream string, v int64) account {
			var s account
			for _, r := range streams[stream][:v] {
				s = fold(s, r.Event)
			}
			return s
		}
		appendEvents := func(n *testnodes.Node, m testnodes.Msg) {
			var ws []write
			_ = json.Unmarshal(m.Body["writes"], &ws)
			if fault != "nocheck" {
				for _, w := range ws {
					if int64(len(streams[w.Stream])) != w.Expected {
						n.Reply(m, map[string]any{"type": "error", "code": 22, "text": "wrong expected version"})
						return
					}
				}
			}
			appended++
			versions := []int64{}
			for _, w := range ws {
				v := int64(len(streams[w.Stream]))
				if len(streams[w.Stream]) > 0 {
					v = streams[w.Stream][len(streams[w.Stream])-1].Version
				}
				for _, e := range w.Events {
					events++
					v++
					if fault == "gap" && events%7 == 0 {
						v++
					}
					r := record{Stream: w.Stream, Version: v, Position: int64(len(log) + 1), Event: e}
					if fault != "lose" || appended%10 != 0 {
						log = append(log, r)
						streams[w.Stream] = append(streams[w.Stream], r)
					}
				}
				versions = append(versions, v)
			}
			n.Reply(m, map[string]any{"type": "append_ok", "versions": versions, "position": len(log)})
		}
		return testnodes.Handlers{Every: 20 * time.Millisecond,
			Tick: func(n *testnodes.Node) {
				batch := pending
				pending = nil
				for _, m := range batch {
					appendEvents(n, m)
				}
				if ticks++; ticks%5 != 0 {
					return
				}
				for ; modelPos < int64(len(log)); modelPos++ {
					r := log[modelPos]
					accounts[r.Stream] = fold(accounts[r.Stream], r.Event)
					balances[r.Stream] = accounts[r.Stream].Balance
				}
			},
			Handle: func(n *testnodes.Node, m testnodes.Msg) error {
				var stream string
				_ = json.Unmarshal(m.Body["stream"], &stream)
				switch m.Type() {
				case "append":
					pending = append(pending, m)
				case "load":
					v := int64(len(streams[stream]))
					n.Reply(m, map[string]any{"type": "load_ok", "version": v, "state": state(stream, v)})
				case "as_of":
					v := int64(len(streams[stream]))
					if _, ok := m.Body["version"]; ok {
						v = min(m.Int("version"), v)
					} else {
						t := m.Int("time")
						for i, r := range streams[stream] {
							if r.Event.At > t {
								v = int64(i)
								if fault == "asof" {
									v++
								}
								break
							}
						}
					}
					n.Reply(m, map[string]any{"type": "as_of_ok", "version": v, "state": state(stream, v)})
				case "read_all", "read_stream":
					src := log
					if m.Type() == "read_stream" {
						src = streams[stream]
					}
					from, limit := m.Int("from"), m.Int("max")
					out := []record{}
					for i := max(from-1, 0); i < int64(len(src)) && int64(len(out)) < limit; i++ {
						out = append(out, src[i])
					}
					n.Reply(m, map[string]any{"type": m.Type() + "_ok", "events": out})
				case "read_model":
					b := map[string]int64{}
					for k, v := range balances {
						b[k] = v
					}
					if fault == "model" {
						for k := range b {
							if k == "acct-0" {
								b[k]++
							}
						}
					}
					n.Reply(m, map[string]any{"type": "read_model_ok", "position": modelPos, "balances": b})
				}
				return nil
			}}
	})
}

func gradeEventStore(t *testing.T, fault string) *Report {
	t.Helper()
	return grade(t, eventStoreNode(fault), "-w", "eventstore", "--node-count", "1", "--time-limit", "5", "--rate", "100", "--concurrency", "8")
}

func TestEventStoreCorrectNode(t *testing.T) {
	rep := gradeEventStore(t, "")
	wantVerdict(t, rep, checker.Valid, "staleness p50")
	es, _ := rep.Result("eventstore")
	d := es.Details.(checker.EventStoreDetails)
	if d.Acked < 100 || d.Conflicts == 0 || d.AsOf == 0 || d.Loads == 0 || d.Reads == 0 {
		t.Fatalf("eventstore figures %+v: the workload did not exercise every operation", d)
	}
	pr, _ := rep.Result("projection")
	pd := pr.Details.(checker.ProjectionDetails)
	if pd.Answers == 0 || pd.Staleness.P99 == 0 || len(pd.Converged) != 1 {
		t.Fatalf("projection figures %+v: want stale answers (the model lags 100 ms) and a converged node", pd)
	}
}

func TestEventStoreWithoutExpectedVersion(t *testing.T) {
	v := firstViolation(t, gradeEventStore(t, "nocheck"), "eventstore", "overdraft")
	if !strings.Contains(v.Detail, "balance went to -") || !strings.Contains(v.Detail, "never saw") || !strings.Contains(v.Detail, "acct-") {
		t.Fatalf("violation %+v does not name the stream, the versions and the events it did not see", v)
	}
	t.Log(v.Detail)
}

func TestEventStoreVersionGap(t *testing.T) {
	rep := gradeEventStore(t, "gap")
	res, _ := rep.Result("eventstore")
	found := false
	for _, v := range res.Violations {
		found = found || v.What == "version gap"
	}
	if res.Valid != checker.Invalid || !found {
		t.Fatalf("want a version gap\n%s", rep.Summary())
	}
	firstViolation(t, rep, "eventstore", res.Violations[0].What)
}

func TestEventStoreLostAppend(t *testing.T) {
	firstViolation(t, gradeEventStore(t, "lose"), "eventstore", "lost append")
}

func TestEventStoreWrongReadModel(t *testing.T) {
	firstViolation(t, gradeEventStore(t, "model"), "projection", "read model differs from the fold")
}

func TestEventStoreAsOfPastTheTime(t *testing.T) {
	firstViolation(t, gradeEventStore(t, "asof"), "eventstore", "as-of includes a later event")
}
