package maelstrom

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// queueFlaw selects how testQueue breaks the queue workload's contract.
type queueFlaw int

const (
	queueCorrect         queueFlaw = iota
	queueDeleteOnReceive           // at-most-once: a crashed consumer's messages are gone
	queueNoDedup                   // at-least-once only: re-sends are stored again
	queueLIFOGroups                // FIFO groups served newest first, without waiting
	queueFakeExtend                // says it extended, but does not
)

type tqMsg struct {
	id, group, receipt string
	msg                int64
	visibleAt          time.Time
	deliveries         int
	deleted            bool
}

// testQueue is a single-node, in-memory queue for the queue workload, with
// one optional flaw.
func testQueue(flaw queueFlaw) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		queues := map[string][]*tqMsg{}
		byID := map[string]*tqMsg{}
		dedup := map[string]string{}
		next := 0
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			str := func(k string) string {
				var s string
				_ = json.Unmarshal(m.Body[k], &s)
				return s
			}
			q := str("queue")
			now := time.Now()
			switch m.Type() {
			case "send":
				key := q + "/" + str("dedup")
				if id, ok := dedup[key]; ok && flaw != queueNoDedup {
					n.Reply(m, map[string]any{"type": "send_ok", "id": id})
					return nil
				}
				next++
				msg := &tqMsg{id: "m" + strconv.Itoa(next), group: str("group"), msg: m.Int("msg")}
				dedup[key] = msg.id
				byID[msg.id] = msg
				queues[q] = append(queues[q], msg)
				n.Reply(m, map[string]any{"type": "send_ok", "id": msg.id})
			case "receive":
				vis := time.Duration(m.Int("visibility_ms")) * time.Millisecond
				fifo := strings.HasSuffix(q, ".fifo")
				order := queues[q]
				if fifo && flaw == queueLIFOGroups {
					order = make([]*tqMsg, len(queues[q]))
					for i, msg := range queues[q] {
						order[len(order)-1-i] = msg
					}
				}
				seen := map[string]bool{}
				out := []map[string]any{}
				for _, msg := range order {
					if len(out) == int(m.Int("max")) {
						break
					}
					if msg.deleted {
						continue
					}
					if fifo && flaw != queueLIFOGroups {
						if seen[msg.group] {
							continue
						}
						seen[msg.group] = true
					}
					if msg.visibleAt.After(now) {
						continue
					}
					msg.deliveries++
					msg.receipt = msg.id + "/" + strconv.Itoa(msg.deliveries)
					msg.visibleAt = now.Add(vis)
					if flaw == queueDeleteOnReceive {
						msg.deleted = true
					}
					d := map[string]any{"id": msg.id, "msg": msg.msg, "receipt": msg.receipt}
					if msg.group != "" {
						d["group"] = msg.group
					}
					out = append(out, d)
				}
				n.Reply(m, map[string]any{"type": "receive_ok", "msgs": out})
			case "ack", "extend":
				var receipts []string
				_ = json.Unmarshal(m.Body["receipts"], &receipts)
				extended := []string{}
				for _, r := range receipts {
					msg := byID[r[:strings.IndexByte(r, '/')]]
					if msg == nil || msg.receipt != r {
						continue
					}
					if m.Type() == "ack" {
						msg.deleted = true
					} else if msg.visibleAt.After(now) {
						if flaw != queueFakeExtend {
							msg.visibleAt = now.Add(time.Duration(m.Int("visibility_ms")) * time.Millisecond)
						}
						extended = append(extended, r)
					}
				}
				if m.Type() == "ack" {
					n.Reply(m, map[string]any{"type": "ack_ok"})
				} else {
					n.Reply(m, map[string]any{"type": "extend_ok", "extended": extended})
				}
			}
			return nil
		}}
	})
}

func gradeQueue(t *testing.T, flaw queueFlaw, delivery string) *Report {
	t.Helper()
	return grade(t, testQueue(flaw), "-w", "queue", "--delivery", delivery, "--node-count", "1",
		"--concurrency", "4", "--time-limit", "8", "--rate", "100")
}

func queueDetails(t *testing.T, rep *Report) checker.QueueDetails {
	t.Helper()
	res, ok := rep.Result("queue")
	if !ok {
		t.Fatalf("no queue checker result\n%s", rep.Summary())
	}
	return res.Details.(checker.QueueDetails)
}

func TestQueueCorrectNodeValidUnderEveryGuaranteeItGives(t *testing.T) {
	for _, delivery := range []string{checker.AtLeastOnce, checker.ExactlyOnce} {
		rep := gradeQueue(t, queueCorrect, delivery)
		wantVerdict(t, rep, checker.Valid, "redeliveries", "end-to-end p50")
		d := queueDetails(t, rep)
		if d.Crashes == 0 || d.Redeliveries == 0 || d.Lost != 0 || d.Sent < 200 {
			t.Fatalf("%s: %+v: want consumer crashes and redeliveries, nothing lost\n%s", delivery, d, rep.Summary())
		}
	}
	rep := gradeQueue(t, queueDeleteOnReceive, checker.AtMostOnce)
	wantVerdict(t, rep, checker.Valid)
	if d := queueDetails(t, rep); d.Lost == 0 || d.Redeliveries != 0 {
		t.Fatalf("delete-on-receive at most once: %+v: want losses counted and no redelivery", d)
	}
}

func TestQueueDeleteOnReceiveLosesMessages(t *testing.T) {
	rep := gradeQueue(t, queueDeleteOnReceive, checker.AtLeastOnce)
	wantVerdict(t, rep, checker.Invalid, "first problem (queue): lost message", "never took effect", "consumer c", "on n0")
}

func TestQueueWithoutDedupDuplicatesEffects(t *testing.T) {
	rep := gradeQueue(t, queueNoDedup, checker.ExactlyOnce)
	wantVerdict(t, rep, checker.Invalid, "first problem (queue): duplicate effect", "de-duplication id")
	// The same queue is a fine at-least-once queue.
	rep = gradeQueue(t, queueNoDedup, checker.AtLeastOnce)
	wantVerdict(t, rep, checker.Valid)
	if d := queueDetails(t, rep); d.Duplicates == 0 {
		t.Fatalf("no duplicates counted: %+v", d)
	}
}

func TestQueueRedeliveryIsNotAtMostOnce(t *testing.T) {
	rep := gradeQueue(t, queueCorrect, checker.AtMostOnce)
	wantVerdict(t, rep, checker.Invalid, "first problem (queue): duplicate delivery", "at-most-once allows one")
}

func TestQueueFIFOReorder(t *testing.T) {
	rep := gradeQueue(t, queueLIFOGroups, checker.AtLeastOnce)
	wantVerdict(t, rep, checker.Invalid, "first problem (queue)")
	res, _ := rep.Result("queue")
	whats := map[string]bool{}
	for _, v := range res.Violations {
		whats[v.What] = true
		if v.What == "out of order" && !strings.Contains(v.Detail, "FIFO queue f0.fifo group g") {
			t.Errorf("out of order without queue and group: %s", v.Detail)
		}
	}
	if !whats["out of order"] {
		t.Fatalf("no out-of-order violation among %v\n%s", whats, rep.Summary())
	}
}

func TestQueueIgnoredExtension(t *testing.T) {
	rep := grade(t, testQueue(queueFakeExtend), "-w", "queue", "--node-count", "1",
		"--concurrency", "8", "--time-limit", "12", "--rate", "100")
	wantVerdict(t, rep, checker.Invalid, "in flight", "visibility timeout")
}
