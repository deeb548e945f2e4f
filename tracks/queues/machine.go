package queues

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// Delivery is the guarantee a queue node gives.
type Delivery string

const (
	// AtMostOnce deletes a message when it is received: a consumer that
	// crashes before processing it loses it, but nothing is delivered
	// twice. Sends are de-duplicated.
	AtMostOnce Delivery = "at-most-once"
	// AtLeastOnce hides a received message for its visibility timeout and
	// deletes it only when acknowledged; a crashed consumer's messages come
	// back. Sends are not de-duplicated (an SQS standard queue).
	AtLeastOnce Delivery = "at-least-once"
	// ExactlyOnce is AtLeastOnce with sends de-duplicated by their
	// de-duplication id, so that each message has one id, which consumers'
	// idempotent sinks key their effects by.
	ExactlyOnce Delivery = "exactly-once"
)

// DedupWindow is how long a de-duplication id is remembered (in command
// time), as SQS remembers one for five minutes.
const DedupWindow = int64(5 * time.Minute)

// command is one log entry: a client request with the proposer's clock.
type command struct {
	Client   string          `json:"c"`
	Seq      uint64          `json:"s"`
	Op       string          `json:"op"`
	Now      int64           `json:"now"` // Unix ns; the state machine never reads a clock
	Queue    string          `json:"q"`
	Body     json.RawMessage `json:"msg,omitempty"`
	Group    string          `json:"g,omitempty"`
	Dedup    string          `json:"d,omitempty"`
	Max      int             `json:"max,omitempty"`
	Vis      int64           `json:"vis,omitempty"` // ns
	Receipts []string        `json:"r,omitempty"`
}

// outcome is a command's result, as Submit hands it back.
type outcome struct {
	Code     int        `json:"code,omitempty"`
	Text     string     `json:"text,omitempty"`
	Stale    bool       `json:"stale,omitempty"`
	ID       string     `json:"id,omitempty"`
	Msgs     []delivery `json:"msgs,omitempty"`
	Extended []string   `json:"extended,omitempty"`
}

func (o *outcome) Failure() error { return raftnode.Failure(o.Code, o.Text, o.Stale) }

// delivery is one message in a receive_ok.
type delivery struct {
	ID      string          `json:"id"`
	Msg     json.RawMessage `json:"msg"`
	Group   string          `json:"group,omitempty"`
	Receipt string          `json:"receipt"`
}

// message is a stored message. Receipt names its latest delivery; only
// that receipt acknowledges or extends it.
type message struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Body      json.RawMessage `json:"body"`
	Group     string          `json:"group,omitempty"`
	VisibleAt int64           `json:"visible_at"`
	Receives  int             `json:"receives"`
	Receipt   string          `json:"receipt,omitempty"`
	Deleted   bool            `json:"deleted,omitempty"`
}

// queue is one named queue. A standard queue keeps visible messages in
// Ready (oldest first) and received ones in InFlight until acknowledged or
// their visibility runs out. A FIFO queue (name ending in .fifo) keeps one
// list per group, oldest first; only a group's head is ever delivered, and
// the next one only after the head is acknowledged.
type queue struct {
	FIFO     bool                  `json:"fifo"`
	Ready    []*message            `json:"ready,omitempty"`
	InFlight map[string]*message   `json:"in_flight,omitempty"`
	Groups   map[string][]*message `json:"groups,omitempty"`
	Order    []string              `json:"order,omitempty"` // groups with messages, round-robin
	Cursor   int                   `json:"cursor,omitempty"`
	byID     map[string]*message
}

type dedupEntry struct {
	Key string `json:"k"`
	At  int64  `json:"at"`
}

// machine is the replicated state: every queue, the de-duplication table
// and the client sessions. Its transitions depend only on the commands, so
// every replica computes the same state; raftnode calls it with its lock
// held.
type machine struct {
	delivery   Delivery
	Now        int64             `json:"now"`
	Next       uint64            `json:"next"`
	Queues     map[string]*queue `json:"queues"`
	Dedup      map[string]string `json:"dedup"`
	DedupOrder []dedupEntry      `json:"dedup_order"`
	Sessions   raftnode.Sessions `json:"sessions"`
}

func newMachine(d Delivery) *machine {
	return &machine{delivery: d, Queues: map[string]*queue{}, Dedup: map[string]string{}}
}

func isFIFO(name string) bool { return strings.HasSuffix(name, ".fifo") }

func (m *machine) queue(name string) *queue {
	q := m.Queues[name]
	if q == nil {
		q = &queue{FIFO: isFIFO(name), InFlight: map[string]*message{}, Groups: map[string][]*message{}, byID: map[string]*message{}}
		m.Queues[name] = q
	}
	return q
}

func (m *machine) Apply(_ uint64, data []byte) any {
	var c command
	if err := json.Unmarshal(data, &c); err != nil {
		return outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
	}
	return m.Sessions.Apply(c.Client, c.Seq, func() any { return m.exec(c) })
}

func (m *machine) exec(c command) outcome {
	m.Now = max(m.Now, c.Now)
	switch c.Op {
	case "send":
		return m.send(c)
	case "receive":
		return outcome{Msgs: m.queue(c.Queue).receive(m.Now, c.Max, c.Vis, m.delivery == AtMostOnce)}
	case "ack":
		m.queue(c.Queue).ack(c.Receipts)
		return outcome{}
	case "extend":
		return outcome{Extended: m.queue(c.Queue).extend(m.Now, c.Receipts, c.Vis)}
	}
	return outcome{Code: node.MalformedRequest, Text: "unknown op " + c.Op}
}

func (m *machine) send(c command) outcome {
	q := m.queue(c.Queue)
	if q.FIFO && c.Group == "" {
		return outcome{Code: node.MalformedRequest, Text: "a send to FIFO queue " + c.Queue + " needs a group"}
	}
	dedup := m.delivery != AtLeastOnce && c.Dedup != ""
	key := c.Queue + "\x00" + c.Dedup
	if dedup {
		m.expireDedup()
		if id, ok := m.Dedup[key]; ok {
			return outcome{ID: id}
		}
	}
	m.Next++
	msg := &message{ID: "m" + strconv.FormatUint(m.Next, 10), Seq: m.Next, Body: c.Body, Group: c.Group}
	q.add(msg)
	if dedup {
		m.Dedup[key] = msg.ID
		m.DedupOrder = append(m.DedupOrder, dedupEntry{Key: key, At: m.Now})
	}
	return outcome{ID: msg.ID}
}

func (m *machine) expireDedup() {
	i := 0
	for i < len(m.DedupOrder) && m.DedupOrder[i].At < m.Now-DedupWindow {
		delete(m.Dedup, m.DedupOrder[i].Key)
		i++
	}
	m.DedupOrder = m.DedupOrder[i:]
}

func (q *queue) add(msg *message) {
	q.byID[msg.ID] = msg
	if !q.FIFO {
		q.Ready = append(q.Ready, msg)
		return
	}
	if len(q.Groups[msg.Group]) == 0 {
		q.Order = append(q.Order, msg.Group)
	}
	q.Groups[msg.Group] = append(q.Groups[msg.Group], msg)
}

// receive hands out up to limit visible messages, each hidden for vis ns
// (deleted at once with deleteNow).
func (q *queue) receive(now int64, limit int, vis int64, deleteNow bool) []delivery {
	out := []delivery{}
	deliver := func(msg *message) {
		msg.Receives++
		msg.Receipt = msg.ID + "." + strconv.Itoa(msg.Receives)
		msg.VisibleAt = now + vis
		out = append(out, delivery{ID: msg.ID, Msg: msg.Body, Group: msg.Group, Receipt: msg.Receipt})
	}
	if q.FIFO {
		// Visit the groups round-robin from the cursor, so that no group
		// starves; a group whose head is in flight waits.
		n := len(q.Order)
		groups := append(slices.Clone(q.Order[q.Cursor%max(n, 1):]), q.Order[:q.Cursor%max(n, 1)]...)
		for _, g := range groups {
			if len(out) == limit {
				break
			}
			head := q.Groups[g][0]
			if head.VisibleAt > now {
				continue
			}
			deliver(head)
			if deleteNow {
				q.remove(head)
			}
		}
		if len(q.Order) > 0 {
			q.Cursor = (q.Cursor + 1) % len(q.Order)
		}
		return out
	}
	q.expire(now)
	for len(out) < limit && len(q.Ready) > 0 {
		msg := q.Ready[0]
		q.Ready = q.Ready[1:]
		if msg.Deleted {
			continue
		}
		deliver(msg)
		if deleteNow {
			delete(q.byID, msg.ID)
		} else {
			q.InFlight[msg.ID] = msg
		}
	}
	return out
}

// expire returns messages whose visibility ran out to Ready, in the order
// they became visible (then sent), so that replicas agree.
func (q *queue) expire(now int64) {
	var back []*message
	for id, msg := range q.InFlight {
		if msg.VisibleAt <= now {
			back = append(back, msg)
			delete(q.InFlight, id)
		}
	}
	slices.SortFunc(back, func(a, b *message) int {
		return cmp.Or(cmp.Compare(a.VisibleAt, b.VisibleAt), cmp.Compare(a.Seq, b.Seq))
	})
	q.Ready = append(q.Ready, back...)
}

// lookup finds the message a receipt names, if that receipt is its latest.
func (q *queue) lookup(receipt string) *message {
	i := strings.LastIndexByte(receipt, '.')
	if i < 0 {
		return nil
	}
	msg := q.byID[receipt[:i]]
	if msg == nil || msg.Receipt != receipt {
		return nil
	}
	return msg
}

// remove deletes a message for good.
func (q *queue) remove(msg *message) {
	delete(q.byID, msg.ID)
	if !q.FIFO {
		if _, ok := q.InFlight[msg.ID]; ok {
			delete(q.InFlight, msg.ID)
		} else {
			msg.Deleted = true // still in Ready; skipped when reached
		}
		return
	}
	g := q.Groups[msg.Group]
	if len(g) == 0 || g[0] != msg {
		return // only heads are delivered, so only heads are acknowledged
	}
	if len(g) > 1 {
		q.Groups[msg.Group] = g[1:]
		return
	}
	delete(q.Groups, msg.Group)
	i := slices.Index(q.Order, msg.Group)
	q.Order = slices.Delete(q.Order, i, i+1)
	if i < q.Cursor {
		q.Cursor--
	}
	if q.Cursor >= len(q.Order) {
		q.Cursor = 0
	}
}

// ack deletes the messages whose latest receipts these are; a receipt
// made stale by a later delivery deletes nothing.
func (q *queue) ack(receipts []string) {
	for _, r := range receipts {
		if msg := q.lookup(r); msg != nil {
			q.remove(msg)
		}
	}
}

// extend hides in-flight messages for vis ns from now.
func (q *queue) extend(now int64, receipts []string, vis int64) []string {
	out := []string{}
	for _, r := range receipts {
		msg := q.lookup(r)
		if msg == nil || msg.VisibleAt <= now {
			continue // expired: it may already be on its way to someone else
		}
		msg.VisibleAt = now + vis
		out = append(out, r)
	}
	return out
}

func (m *machine) Snapshot() ([]byte, error) { return json.Marshal(m) }

func (m *machine) Restore(data []byte) error {
	fresh := newMachine(m.delivery)
	if err := json.Unmarshal(data, fresh); err != nil {
		return err
	}
	for _, q := range fresh.Queues {
		q.byID = map[string]*message{}
		if q.InFlight == nil {
			q.InFlight = map[string]*message{}
		}
		if q.Groups == nil {
			q.Groups = map[string][]*message{}
		}
		for _, msg := range q.Ready {
			if !msg.Deleted {
				q.byID[msg.ID] = msg
			}
		}
		for _, msg := range q.InFlight {
			q.byID[msg.ID] = msg
		}
		for _, g := range q.Groups {
			for _, msg := range g {
				q.byID[msg.ID] = msg
			}
		}
	}
	*m = *fresh
	return nil
}
