package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The queue workload's history values (see maelstrom/workload/queue.go for
// the bodies on the wire).

// QueueSend is a send: a producer puts message Msg (an integer unique to
// the logical message) on Queue, in Group for a FIFO queue, with
// de-duplication id Dedup. Retry marks a producer's re-send of a message
// it had sent before (as a producer that crashed before recording the
// acknowledgement does). ID is the queue's message id, filled when the
// send is acknowledged.
type QueueSend struct {
	Queue string `json:"queue"`
	Group string `json:"group,omitempty"`
	Msg   int64  `json:"msg"`
	Dedup string `json:"dedup,omitempty"`
	Retry bool   `json:"retry,omitempty"`
	ID    string `json:"id,omitempty"`
}

// QueueDelivery is one message handed to a consumer by a receive.
type QueueDelivery struct {
	ID      string `json:"id"`
	Msg     int64  `json:"msg"`
	Group   string `json:"group,omitempty"`
	Receipt string `json:"receipt"`
}

// QueueReceive asks Queue for up to Max messages, each hidden from other
// consumers for VisibilityMs; the completion carries the deliveries.
type QueueReceive struct {
	Queue        string          `json:"queue"`
	Max          int             `json:"max"`
	VisibilityMs int64           `json:"visibility_ms"`
	Msgs         []QueueDelivery `json:"msgs,omitempty"`
}

// QueueAck is a consumer's processing of the batch it received: it applies
// each message's effect (Applied[i] says whether the effect took place;
// false when the idempotent sink had already applied that message id),
// then acknowledges (deletes) the batch.
type QueueAck struct {
	Queue   string          `json:"queue"`
	Msgs    []QueueDelivery `json:"msgs"`
	Applied []bool          `json:"applied,omitempty"`
}

// QueueExtend pushes the visibility timeout of a batch's messages out to
// VisibilityMs from now; Extended lists the receipts the queue extended.
type QueueExtend struct {
	Queue        string   `json:"queue"`
	Receipts     []string `json:"receipts"`
	VisibilityMs int64    `json:"visibility_ms"`
	Extended     []string `json:"extended,omitempty"`
}

// QueueCrash is a consumer that crashed in the middle of its batch: it
// applied the effects marked in Applied (of the first messages) and
// acknowledged nothing. The crash op ends :info, and the worker goes on
// as a fresh consumer.
type QueueCrash struct {
	Queue   string          `json:"queue"`
	Msgs    []QueueDelivery `json:"msgs"`
	Applied []bool          `json:"applied"`
}

// clockGrain is the slack the visibility checks give a node whose clock
// counts whole milliseconds.
const clockGrain = time.Millisecond

// Delivery guarantees the queue checker can demand.
const (
	AtMostOnce  = "at-most-once"
	AtLeastOnce = "at-least-once"
	ExactlyOnce = "exactly-once"
)

// QueueDetails are the queue checker's figures.
type QueueDetails struct {
	Delivery     string    `json:"delivery"`
	Sent         int       `json:"sent"`          // messages whose send was acknowledged
	SentUnknown  int       `json:"sent-unknown"`  // messages only ever sent with an unknown outcome
	SendsPerSec  float64   `json:"sends-per-sec"` // acknowledged sends per second of the main phase
	Deliveries   int       `json:"deliveries"`
	Redeliveries int       `json:"redeliveries"` // deliveries of a message id after its first
	Duplicates   int       `json:"duplicates"`   // messages whose effect took place more than once
	Lost         int       `json:"lost"`         // acknowledged messages whose effect never took place
	Crashes      int       `json:"consumer-crashes"`
	Effects      int       `json:"effects"`
	EndToEnd     Quantiles `json:"end-to-end"` // send invoked to first delivery
}

func (d QueueDetails) String() string {
	return fmt.Sprintf("%d sent (%.0f/s), %d deliveries, %d redeliveries, %d consumer crashes, %d duplicate effects, %d lost; end-to-end p50 %s p99 %s",
		d.Sent, d.SendsPerSec, d.Deliveries, d.Redeliveries, d.Crashes, d.Duplicates, d.Lost,
		ms1(d.EndToEnd.P50), ms1(d.EndToEnd.P99))
}

func ms1(d time.Duration) string {
	return fmt.Sprintf("%.1fms", ms(d))
}

// qMsg is what the checker knows about one logical message.
type qMsg struct {
	msg          int64
	queue, group string
	sendNode     string
	firstInvoke  time.Duration // first send attempt invoked
	okAt         time.Duration // first acknowledged send completed; -1 if none
	acked        bool
	ids          map[string]bool
	deliveries   []*qDelivery
	effects      []qEffect
	released     time.Duration // see releasedAt; -1 if never
}

type qEffect struct {
	id       string
	consumer string
	node     string
	at       time.Duration
}

// qDelivery is one delivery with what the checker derives about how long
// the message was certainly in flight.
type qDelivery struct {
	d         QueueDelivery
	queue     string
	consumer  string
	node      string
	inv, comp time.Duration // the receive op's invocation and completion
	vis       time.Duration
	until     time.Duration // certainly invisible to others until then
	batch     int           // index of the receive op
}

// Queue judges a queue workload history against a delivery guarantee:
//
//   - at-most-once: no message is delivered twice; losses are counted.
//   - at-least-once: every acknowledged message's effect takes place;
//     duplicates are counted. A message is not handed to another consumer
//     while it is certainly still invisible (its visibility timeout, as
//     extended, has not run out and nobody acknowledged it).
//   - exactly-once: as at-least-once, and every message's effect, applied
//     through the consumers' idempotent sink keyed by message id, takes
//     place exactly once.
//
// In every mode a delivered message must have been sent, and FIFO groups
// (queues named *.fifo) keep their order: a message is not delivered while
// a message of its group that was acknowledged to its producer before it
// was sent has not been acknowledged by a consumer (at-most-once: not yet
// delivered, or possibly taken by a receive whose answer was lost), and under at-least-once and exactly-once no two messages of
// a group are in flight at once.
func Queue(h history.History, delivery string) Result {
	res := Result{Checker: "queue", Valid: Valid}
	c := &queueCheck{delivery: delivery, msgs: map[int64]*qMsg{}, receipts: map[string][]*qDelivery{}, unknown: map[string][][2]time.Duration{}, byID: map[string][]*qDelivery{}}
	c.read(h)
	c.judge()
	d := c.details
	d.Delivery = delivery
	res.Details = d
	// The guarantee the run demands comes first, then FIFO order and
	// visibility, each kind in time order.
	slices.SortStableFunc(c.violations, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(queueRank(a.What), queueRank(b.What)), cmp.Compare(a.Time, b.Time))
	})
	if len(c.violations) > 0 {
		res.Valid = Invalid
		res.Violations = c.violations[:min(len(c.violations), 10)]
		res.Summary = fmt.Sprintf("%s (%d problems): %s; %s", c.violations[0].What, len(c.violations), delivery, d)
		return res
	}
	if d.Sent == 0 {
		res.Valid = Unknown
		res.Summary = "no send was acknowledged: nothing to judge"
		return res
	}
	res.Summary = fmt.Sprintf("%s: %s", delivery, d)
	return res
}

func queueRank(what string) int {
	switch what {
	case "lost message", "duplicate delivery", "duplicate effect", "unknown message", "misrouted message":
		return 0
	}
	return 1
}

type queueCheck struct {
	delivery   string
	msgs       map[int64]*qMsg
	deliveries []*qDelivery
	receipts   map[string][]*qDelivery       // receipt -> deliveries that handed it out
	unknown    map[string][][2]time.Duration // queue -> receives of unknown outcome: invoked, completed
	byID       map[string][]*qDelivery
	details    QueueDetails
	violations []Violation
	mainStart  time.Duration
	mainEnd    time.Duration
	sawMain    bool
}

func (c *queueCheck) msg(m int64) *qMsg {
	q := c.msgs[m]
	if q == nil {
		q = &qMsg{msg: m, okAt: -1, released: -1, firstInvoke: -1, ids: map[string]bool{}}
		c.msgs[m] = q
	}
	return q
}

func consumerOf(o history.Op) string {
	if o.Client != "" {
		return o.Client
	}
	return fmt.Sprintf("p%d", o.Process)
}

func (c *queueCheck) violate(v Violation) { c.violations = append(c.violations, v) }

func (c *queueCheck) read(h history.History) {
	ops := pairUp(h)
	type ackAt struct {
		receipt string
		at      time.Duration
	}
	var acks []ackAt
	type extAt struct {
		receipt string
		until   time.Duration
	}
	var exts []extAt
	for bi, p := range ops {
		if p.invoke.Process < 0 {
			continue
		}
		o := p.observed()
		if !p.final() {
			if !c.sawMain || p.invoke.Time < c.mainStart {
				c.mainStart = p.invoke.Time
			}
			c.sawMain = true
			c.mainEnd = max(c.mainEnd, o.Time)
		}
		switch p.invoke.F {
		case "send":
			s, ok := p.invoke.Value.(QueueSend)
			if !ok {
				continue
			}
			m := c.msg(s.Msg)
			m.queue, m.group = s.Queue, s.Group
			if m.firstInvoke < 0 {
				m.firstInvoke = p.invoke.Time
			}
			if p.outcome() == history.OK {
				if v, ok := p.completion.Value.(QueueSend); ok && v.ID != "" {
					m.ids[v.ID] = true
				}
				if !m.acked || p.completion.Time < m.okAt {
					m.acked, m.okAt, m.sendNode = true, p.completion.Time, p.node()
				}
			}
		case "receive":
			if p.outcome() == history.Info {
				// It may have taken messages nobody will ever see.
				if r, ok := p.invoke.Value.(QueueReceive); ok {
					end := time.Duration(1<<62 - 1)
					if p.completion != nil {
						end = p.completion.Time
					}
					c.unknown[r.Queue] = append(c.unknown[r.Queue], [2]time.Duration{p.invoke.Time, end})
				}
			}
			if p.outcome() != history.OK {
				continue
			}
			r, ok := p.completion.Value.(QueueReceive)
			if !ok {
				continue
			}
			groups := map[string]*qDelivery{}
			for _, dv := range r.Msgs {
				qd := &qDelivery{d: dv, queue: r.Queue, consumer: consumerOf(p.invoke), node: p.node(),
					inv: p.invoke.Time, comp: p.completion.Time, vis: time.Duration(r.VisibilityMs) * time.Millisecond, batch: bi}
				qd.until = qd.inv + qd.vis - clockGrain
				c.deliveries = append(c.deliveries, qd)
				c.receipts[dv.Receipt] = append(c.receipts[dv.Receipt], qd)
				c.byID[dv.ID] = append(c.byID[dv.ID], qd)
				m := c.msg(dv.Msg)
				m.deliveries = append(m.deliveries, qd)
				if c.delivery == AtMostOnce && (m.released < 0 || qd.inv < m.released) {
					m.released = qd.inv
				}
				if dv.Group != "" && c.delivery != AtMostOnce {
					if other := groups[dv.Group]; other != nil {
						c.violate(Violation{What: "two of a group in flight", Node: qd.node, Op: p.completion, Value: dv, Time: qd.comp,
							Detail: fmt.Sprintf("one receive on %s at %s handed consumer %s both message %d and message %d of queue %s group %s: a FIFO group has at most one message in flight",
								qd.node, at(qd.comp), qd.consumer, other.d.Msg, dv.Msg, r.Queue, dv.Group)})
					}
					groups[dv.Group] = qd
				}
			}
		case "ack", "crash":
			var (
				msgs    []QueueDelivery
				applied []bool
			)
			switch v := p.observed().Value.(type) {
			case QueueAck:
				msgs, applied = v.Msgs, v.Applied
			case QueueCrash:
				msgs, applied = v.Msgs, v.Applied
				c.details.Crashes++
			default:
				continue
			}
			for i, dv := range msgs {
				if i < len(applied) && applied[i] {
					m := c.msg(dv.Msg)
					m.effects = append(m.effects, qEffect{id: dv.ID, consumer: consumerOf(p.invoke), node: p.node(), at: p.invoke.Time})
					c.details.Effects++
				}
				if p.invoke.F == "ack" {
					acks = append(acks, ackAt{dv.Receipt, p.invoke.Time})
					if m := c.msg(dv.Msg); c.delivery != AtMostOnce && (m.released < 0 || p.invoke.Time < m.released) {
						m.released = p.invoke.Time
					}
				}
			}
		case "extend":
			if p.outcome() != history.OK {
				continue
			}
			if v, ok := p.completion.Value.(QueueExtend); ok {
				for _, r := range v.Extended {
					exts = append(exts, extAt{r, p.invoke.Time + time.Duration(v.VisibilityMs)*time.Millisecond - clockGrain})
				}
			}
		}
	}
	for _, e := range exts {
		for _, d := range c.receipts[e.receipt] {
			d.until = max(d.until, e.until)
		}
	}
	for _, a := range acks {
		for _, d := range c.receipts[a.receipt] {
			d.until = min(d.until, a.at)
		}
	}
}

// routes checks that every delivered message was sent, to the queue and
// group it came from.
func (c *queueCheck) routes() {
	for _, qd := range c.deliveries {
		dv, m := qd.d, c.msgs[qd.d.Msg]
		switch {
		case m.firstInvoke < 0:
			c.violate(Violation{What: "unknown message", Node: qd.node, Value: dv, Time: qd.comp,
				Detail: fmt.Sprintf("consumer %s received message %d (id %s) from queue %s on %s at %s, but no producer ever sent message %d",
					qd.consumer, dv.Msg, dv.ID, qd.queue, qd.node, at(qd.comp), dv.Msg)})
		case m.queue != qd.queue || m.group != dv.Group:
			c.violate(Violation{What: "misrouted message", Node: qd.node, Value: dv, Time: qd.comp,
				Detail: fmt.Sprintf("consumer %s received message %d from queue %s group %q on %s at %s, but it was sent to queue %s group %q",
					qd.consumer, dv.Msg, qd.queue, dv.Group, qd.node, at(qd.comp), m.queue, m.group)})
		}
	}
}

func (c *queueCheck) judge() {
	c.routes()
	d := &c.details
	d.Deliveries = len(c.deliveries)
	for _, ds := range c.byID {
		d.Redeliveries += len(ds) - 1
	}
	var e2e []time.Duration
	keys := make([]int64, 0, len(c.msgs))
	for k := range c.msgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m := c.msgs[k]
		if m.firstInvoke < 0 {
			continue // only ever delivered: reported as unknown already
		}
		if m.acked {
			d.Sent++
		} else {
			d.SentUnknown++
		}
		if len(m.deliveries) > 0 {
			e2e = append(e2e, m.deliveries[0].comp-m.firstInvoke)
		}
		c.judgeMsg(m)
	}
	d.EndToEnd = quantilesOf(e2e)
	if span := c.mainEnd - c.mainStart; span > 0 {
		ok := 0
		for _, m := range c.msgs {
			if m.acked && m.okAt <= c.mainEnd {
				ok++
			}
		}
		d.SendsPerSec = float64(ok) / span.Seconds()
	}
	if c.delivery != AtMostOnce {
		c.inFlight()
	} else {
		// A receive whose answer was lost may have taken (and deleted) a
		// message that existed while it ran: from then on the message may
		// have been released.
		for _, m := range c.msgs {
			for _, u := range c.unknown[m.queue] {
				if m.firstInvoke >= 0 && u[1] > m.firstInvoke {
					if t := max(u[0], m.firstInvoke); m.released < 0 || t < m.released {
						m.released = t
					}
				}
			}
		}
	}
	c.fifo()
}

func (c *queueCheck) where(m *qMsg) string {
	if m.group != "" {
		return fmt.Sprintf("queue %s group %s", m.queue, m.group)
	}
	return "queue " + m.queue
}

// judgeMsg checks one message's deliveries and effects against the
// delivery guarantee.
func (c *queueCheck) judgeMsg(m *qMsg) {
	d := &c.details
	effects := len(m.effects)
	if c.delivery == ExactlyOnce {
		// The sink applied each id once; count the ids that took effect.
		ids := map[string]bool{}
		for _, e := range m.effects {
			ids[e.id] = true
		}
		effects = len(ids)
	}
	if effects > 1 {
		d.Duplicates++
	}
	if m.acked && effects == 0 {
		d.Lost++
	}
	switch {
	case c.delivery == AtMostOnce && len(m.deliveries) > 1:
		second := m.deliveries[1]
		c.violate(Violation{What: "duplicate delivery", Node: second.node, Value: second.d, Time: second.comp,
			Detail: fmt.Sprintf("message %d (%s) was delivered %d times; at-most-once allows one. First to consumer %s on %s at %s, again to consumer %s on %s at %s (ids %s, %s)",
				m.msg, c.where(m), len(m.deliveries), m.deliveries[0].consumer, m.deliveries[0].node, at(m.deliveries[0].comp),
				second.consumer, second.node, at(second.comp), m.deliveries[0].d.ID, second.d.ID)})
	case c.delivery == ExactlyOnce && effects > 1:
		var seen []string
		var second qEffect
		ids := map[string]bool{}
		for _, e := range m.effects {
			if !ids[e.id] {
				ids[e.id] = true
				seen = append(seen, e.id)
				if len(seen) == 2 {
					second = e
				}
			}
		}
		c.violate(Violation{What: "duplicate effect", Node: second.node, Value: m.msg, Time: second.at,
			Detail: fmt.Sprintf("message %d (%s) took effect %d times under ids %s: the sink keyed by message id applied each id once, so the queue stored the one message under several ids (a producer's re-send with the same de-duplication id was not recognised); the second effect by consumer %s, received from %s, at %s",
				m.msg, c.where(m), effects, strings.Join(seen, ", "), second.consumer, second.node, at(second.at))})
	case c.delivery != AtMostOnce && m.acked && effects == 0:
		v := Violation{What: "lost message", Node: m.sendNode, Value: m.msg, Time: m.okAt}
		if n := len(m.deliveries); n > 0 {
			last := m.deliveries[n-1]
			v.Node, v.Time = last.node, last.comp
			v.Detail = fmt.Sprintf("message %d (%s), acknowledged to its producer by %s at %s, never took effect: it was delivered %d time(s), last to consumer %s on %s at %s, and no consumer that received it processed it; the queue never delivered it again",
				m.msg, c.where(m), m.sendNode, at(m.okAt), n, last.consumer, last.node, at(last.comp))
		} else {
			v.Detail = fmt.Sprintf("message %d (%s), acknowledged to its producer by %s at %s, was never delivered to any consumer",
				m.msg, c.where(m), m.sendNode, at(m.okAt))
		}
		c.violate(v)
	}
}

// inFlight finds deliveries made while an earlier delivery of the same
// message, or of another message of the same FIFO group, was certainly
// still in flight: received before the later receive was invoked, not yet
// acknowledged, and within its visibility timeout as measured from the
// earliest moment the queue could have started it.
func (c *queueCheck) inFlight() {
	type key struct{ queue, group string }
	by := map[key][]*qDelivery{}
	var span time.Duration // the longest a delivery stays certainly in flight
	for _, d := range c.deliveries {
		span = max(span, d.until-d.comp)
		k := key{d.queue, "id:" + d.d.ID}
		if d.d.Group != "" {
			k = key{d.queue, "group:" + d.d.Group}
		}
		by[k] = append(by[k], d)
	}
	keys := make([]key, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.queue, b.queue), cmp.Compare(a.group, b.group)) })
	for _, k := range keys {
		ds := by[k]
		slices.SortFunc(ds, func(a, b *qDelivery) int { return cmp.Compare(a.comp, b.comp) })
		for j, e := range ds {
			for i := j - 1; i >= 0; i-- {
				d := ds[i]
				if d.comp+span <= e.comp {
					break // no earlier delivery can still be in flight
				}
				if d.batch == e.batch || d.comp >= e.inv || d.until <= e.comp {
					continue
				}
				what, why := "redelivered while in flight", fmt.Sprintf("message %d (id %s)", e.d.Msg, e.d.ID)
				if d.d.ID != e.d.ID {
					what, why = "two of a group in flight", fmt.Sprintf("message %d of group %s while message %d of the same group", e.d.Msg, e.d.Group, d.d.Msg)
				}
				c.violate(Violation{What: what, Node: e.node, Value: e.d, Time: e.comp,
					Detail: fmt.Sprintf("queue %s handed consumer %s on %s %s was in flight: consumer %s had received it on %s by %s (receive invoked at %s with a visibility timeout of %s, not acknowledged), and it stays invisible until at least %s, but the new receive ended at %s",
						e.queue, e.consumer, e.node, why, d.consumer, d.node, at(d.comp), at(d.inv), d.vis, at(d.until), at(e.comp))})
				break
			}
		}
	}
}

// fifo checks each FIFO group's order: a delivery of message B is wrong
// when some message A of the group, acknowledged to its producer before B
// was first sent, had not been released (acknowledged by a consumer, or
// under at-most-once delivered) before the delivery ended.
func (c *queueCheck) fifo() {
	type key struct{ queue, group string }
	groups := map[key][]*qMsg{}
	for _, m := range c.msgs {
		if m.group != "" && m.firstInvoke >= 0 {
			k := key{m.queue, m.group}
			groups[k] = append(groups[k], m)
		}
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.queue, b.queue), cmp.Compare(a.group, b.group)) })
	const never = time.Duration(1<<62 - 1)
	for _, k := range keys {
		ms := groups[k]
		var acked []*qMsg
		for _, m := range ms {
			if m.acked {
				acked = append(acked, m)
			}
		}
		slices.SortFunc(acked, func(a, b *qMsg) int { return cmp.Or(cmp.Compare(a.okAt, b.okAt), cmp.Compare(a.msg, b.msg)) })
		// prefix[i]: the latest release among acked[:i+1] and which message.
		prefix := make([]*qMsg, len(acked))
		rel := func(m *qMsg) time.Duration {
			if m.released < 0 {
				return never
			}
			return m.released
		}
		for i, m := range acked {
			prefix[i] = m
			if i > 0 && rel(prefix[i-1]) >= rel(m) {
				prefix[i] = prefix[i-1]
			}
		}
		var all []*qDelivery
		for _, m := range ms {
			all = append(all, m.deliveries...)
		}
		slices.SortFunc(all, func(a, b *qDelivery) int { return cmp.Compare(a.comp, b.comp) })
		for _, e := range all {
			b := c.msgs[e.d.Msg]
			// Messages acknowledged before B was first sent come first.
			n, _ := slices.BinarySearchFunc(acked, b.firstInvoke, func(m *qMsg, t time.Duration) int {
				if m.okAt < t {
					return -1
				}
				return 1
			})
			if n == 0 {
				continue
			}
			a := prefix[n-1]
			if a.msg == b.msg || rel(a) <= e.comp {
				continue
			}
			state := "had not been acknowledged by any consumer"
			if c.delivery == AtMostOnce {
				state = "had not been delivered"
			}
			c.violate(Violation{What: "out of order", Node: e.node, Value: e.d, Time: e.comp,
				Detail: fmt.Sprintf("FIFO queue %s group %s handed consumer %s on %s message %d at %s while message %d, acknowledged to its producer at %s before message %d was sent at %s, %s",
					k.queue, k.group, e.consumer, e.node, b.msg, at(e.comp), a.msg, at(a.okAt), b.msg, at(b.firstInvoke), state)})
			break // one per group
		}
	}
}
