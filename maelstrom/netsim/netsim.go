// Package netsim is the grader's simulated network: every message between
// clients, nodes and services passes through it.
//
// Each registered endpoint has its own queue ordered by delivery deadline
// and one goroutine that delivers from it, so delivery to an endpoint is
// serialised and random latency can reorder messages. Latency applies only
// between non-clients (node<->node, node<->service); client traffic is
// instantaneous so that it cannot mask anomalies. Partitions are drop rules
// per (receiver, sender) checked when a message leaves the queue. Every
// send and delivery is journaled for the message log and the net stats.
//
// The package uses only timers and channels to wait, never a mutex held
// across a wait, so a whole network runs under testing/synctest virtual
// time.
package netsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Message is one message in flight. ID is network-global: 0, 1, 2, ...
type Message struct {
	ID   int64           `json:"id"`
	Src  string          `json:"src"`
	Dest string          `json:"dest"`
	Body json.RawMessage `json:"body"`
}

// Dist is a latency distribution.
type Dist string

const (
	Constant    Dist = "constant"    // always the mean
	Uniform     Dist = "uniform"     // uniform whole ms in [0, 2*mean]
	Exponential Dist = "exponential" // exponential with the mean, truncated to whole ms
)

// ParseDist accepts the --latency-dist names.
func ParseDist(s string) (Dist, error) {
	switch Dist(s) {
	case Constant, Uniform, Exponential:
		return Dist(s), nil
	}
	return "", fmt.Errorf("unknown latency distribution %q (want constant, uniform or exponential)", s)
}

// Config configures a network.
type Config struct {
	Latency time.Duration // mean one-way latency between non-clients
	Dist    Dist          // "" means Constant
	Seed    uint64        // seeds the latency draws
	// NoJournal skips recording events (benchmarks); stats are still kept.
	NoJournal bool
	// Log, if set, sees every send and delivery as it happens
	// (--log-net-send, --log-net-recv). It is called with the network's
	// lock held, so it must not call back into the network.
	Log func(Event)
}

// Event is one journal entry: a send, or a delivery ("recv").
type Event struct {
	Time time.Duration `json:"time"` // since the network started
	Kind string        `json:"type"` // "send" or "recv"
	Message
}

// Counts are message counts for one group of traffic.
type Counts struct {
	SendCount int64 `json:"send_count"`
	RecvCount int64 `json:"recv_count"` // delivered; partition drops excluded
	MsgCount  int64 `json:"msg_count"`  // distinct messages sent
}

// Stats groups traffic as Maelstrom does: all, clients (a client at either
// end) and servers (the rest).
type Stats struct {
	All     Counts `json:"all"`
	Clients Counts `json:"clients"`
	Servers Counts `json:"servers"`
	Dropped int64  `json:"dropped"` // discarded by partition rules
}

// IsClient reports whether id names a client (ids starting with "c").
func IsClient(id string) bool { return strings.HasPrefix(id, "c") }

// ErrUnknownEndpoint is returned by Send for an unregistered src or dest.
var ErrUnknownEndpoint = errors.New("unknown endpoint")

// Net is a simulated network. Its zero value is not usable; call New.
type Net struct {
	cfg   Config
	start time.Time

	mu      sync.Mutex
	nextID  int64
	rng     *rand.Rand
	eps     map[string]*endpoint
	drop    map[string]map[string]bool // receiver -> senders it ignores
	down    map[string]bool            // dead endpoints: messages to them are dropped (down.go)
	journal [][]Event                  // chunks, so that growth never copies old events
	stats   Stats
	closed  bool
	// recent are the latest sends between non-clients, a ring
	// (talkers.go).
	recent     []recentSend
	recentNext int
}

// New returns a running network with no endpoints.
func New(cfg Config) (*Net, error) {
	if cfg.Dist == "" {
		cfg.Dist = Constant
	}
	if _, err := ParseDist(string(cfg.Dist)); err != nil {
		return nil, err
	}
	if cfg.Latency < 0 {
		return nil, fmt.Errorf("latency must not be negative, got %v", cfg.Latency)
	}
	if cfg.Dist == Exponential && cfg.Latency == 0 {
		return nil, errors.New("exponential latency needs a mean above 0 (set --latency)")
	}
	return &Net{
		cfg:   cfg,
		start: time.Now(),
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x6e657473696d)),
		eps:   map[string]*endpoint{},
		drop:  map[string]map[string]bool{},
	}, nil
}

// Since returns the time since the network started (the run's clock).
func (n *Net) Since() time.Duration { return time.Since(n.start) }

// Start returns when the network started.
func (n *Net) Start() time.Time { return n.start }

type item struct {
	deadline time.Time
	seq      int64 // ties keep send order
	msg      Message
}

// queue is a binary min-heap on (deadline, seq), written out rather than
// through container/heap so that items are not boxed on every push and
// pop.
type queue []item

func (q queue) less(i, j int) bool {
	if !q[i].deadline.Equal(q[j].deadline) {
		return q[i].deadline.Before(q[j].deadline)
	}
	return q[i].seq < q[j].seq
}

func (q *queue) push(it item) {
	*q = append(*q, it)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *queue) pop() item {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = item{} // drop the body reference
	h = h[:last]
	for i := 0; ; {
		l, r, min := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, min) {
			min = l
		}
		if r < len(h) && h.less(r, min) {
			min = r
		}
		if min == i {
			break
		}
		h[i], h[min] = h[min], h[i]
		i = min
	}
	*q = h
	return top
}

type endpoint struct {
	id      string
	deliver func(Message)
	mu      sync.Mutex
	q       queue
	wake    chan struct{} // capacity 1
	done    chan struct{}
	stopped chan struct{}
}

// Register adds an endpoint. deliver is called for each message, one at a
// time, from the endpoint's own goroutine; it should not block for long.
// Registering an existing id replaces it (its pending messages are lost);
// after Close, Register does nothing.
func (n *Net) Register(id string, deliver func(Message)) {
	ep := &endpoint{id: id, deliver: deliver, wake: make(chan struct{}, 1),
		done: make(chan struct{}), stopped: make(chan struct{})}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	old := n.eps[id]
	n.eps[id] = ep
	n.mu.Unlock()
	if old != nil {
		close(old.done)
	}
	go n.run(ep)
}

// Unregister removes an endpoint; messages to it are then refused, and
// messages still queued for it are discarded.
func (n *Net) Unregister(id string) {
	n.mu.Lock()
	ep := n.eps[id]
	delete(n.eps, id)
	n.mu.Unlock()
	if ep != nil {
		close(ep.done)
	}
}

// Name returns b as a string, without allocating when it names a
// registered endpoint (the runner parses every line's src and dest).
func (n *Net) Name(b []byte) string {
	n.mu.Lock()
	ep := n.eps[string(b)]
	n.mu.Unlock()
	if ep != nil {
		return ep.id
	}
	return string(b)
}

// Registered reports whether id is a live endpoint.
func (n *Net) Registered(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eps[id] != nil
}

// Close stops every delivery goroutine and waits for them.
func (n *Net) Close() {
	n.mu.Lock()
	n.closed = true
	eps := n.eps
	n.eps = map[string]*endpoint{}
	n.mu.Unlock()
	for _, ep := range eps {
		close(ep.done)
		<-ep.stopped
	}
}

func (n *Net) latencyLocked(src, dest string) time.Duration {
	if n.cfg.Latency == 0 || IsClient(src) || IsClient(dest) {
		return 0
	}
	mean := float64(n.cfg.Latency / time.Millisecond)
	var ms float64
	switch n.cfg.Dist {
	case Uniform:
		ms = float64(n.rng.IntN(int(2*mean) + 1))
	case Exponential:
		ms = math.Floor(n.rng.ExpFloat64() * mean)
	default:
		return n.cfg.Latency
	}
	return time.Duration(ms) * time.Millisecond
}

func (n *Net) countLocked(kind string, m Message) {
	bump := func(c *Counts) {
		if kind == "send" {
			c.SendCount++
			c.MsgCount++
		} else {
			c.RecvCount++
		}
	}
	bump(&n.stats.All)
	if IsClient(m.Src) || IsClient(m.Dest) {
		bump(&n.stats.Clients)
	} else {
		bump(&n.stats.Servers)
	}
	if n.cfg.Log != nil {
		n.cfg.Log(Event{Time: time.Since(n.start), Kind: kind, Message: m})
	}
	if !n.cfg.NoJournal {
		if len(n.journal) == 0 || len(n.journal[len(n.journal)-1]) == journalChunk {
			n.journal = append(n.journal, make([]Event, 0, journalChunk))
		}
		last := &n.journal[len(n.journal)-1]
		*last = append(*last, Event{Time: time.Since(n.start), Kind: kind, Message: m})
	}
}

// Send routes body from src to dest and returns the message id. Both ends
// must be registered. body must be valid JSON (the runner validates what
// nodes print; everything else is encoded by the grader): the network
// and its clients read it without validating it again, and keep it, so
// the caller must not modify it afterwards.
func (n *Net) Send(src, dest string, body json.RawMessage) (int64, error) {
	n.mu.Lock()
	if n.eps[src] == nil {
		n.mu.Unlock()
		return 0, fmt.Errorf("invalid source %q: %w", src, ErrUnknownEndpoint)
	}
	ep := n.eps[dest]
	if ep == nil {
		n.mu.Unlock()
		return 0, fmt.Errorf("invalid destination %q: %w", dest, ErrUnknownEndpoint)
	}
	m := Message{ID: n.nextID, Src: src, Dest: dest, Body: body}
	n.nextID++
	n.countLocked("send", m)
	n.noteLocked(m)
	it := item{deadline: time.Now().Add(n.latencyLocked(src, dest)), seq: m.ID, msg: m}
	n.mu.Unlock()

	ep.mu.Lock()
	ep.q.push(it)
	// The delivery goroutine is idle, waiting for the head's deadline, or
	// busy delivering (and then looks at the queue again): only a new head
	// needs waking it. Behind a 100 ms head most messages are not one.
	newHead := ep.q[0].seq == it.seq
	ep.mu.Unlock()
	if newHead {
		select {
		case ep.wake <- struct{}{}:
		default:
		}
	}
	return m.ID, nil
}

// run delivers ep's queue in deadline order until ep is unregistered.
func (n *Net) run(ep *endpoint) {
	defer close(ep.stopped)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ep.mu.Lock()
		if len(ep.q) == 0 {
			ep.mu.Unlock()
			select {
			case <-ep.wake:
				continue
			case <-ep.done:
				return
			}
		}
		head := ep.q[0]
		if wait := time.Until(head.deadline); wait > 0 {
			ep.mu.Unlock()
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-ep.wake: // an earlier message may have arrived
				timer.Stop()
			case <-ep.done:
				return
			}
			continue
		}
		ep.q.pop()
		ep.mu.Unlock()

		n.mu.Lock()
		if n.drop[ep.id][head.msg.Src] || n.down[ep.id] {
			n.stats.Dropped++
			n.mu.Unlock()
			continue
		}
		n.countLocked("recv", head.msg)
		n.mu.Unlock()
		select {
		case <-ep.done:
			return
		default:
		}
		ep.deliver(head.msg)
	}
}

// Partition installs drop rules: for each receiver, the senders whose
// messages it will not receive. It replaces any previous rules.
func (n *Net) Partition(rules map[string][]string) {
	drop := make(map[string]map[string]bool, len(rules))
	for r, senders := range rules {
		drop[r] = map[string]bool{}
		for _, s := range senders {
			drop[r][s] = true
		}
	}
	n.mu.Lock()
	n.drop = drop
	n.mu.Unlock()
}

// Heal removes every drop rule.
func (n *Net) Heal() { n.Partition(nil) }

// Stats returns a snapshot of the counters.
func (n *Net) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Journal returns a copy of the events recorded so far.
func (n *Net) Journal() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	total := 0
	for _, c := range n.journal {
		total += len(c)
	}
	out := make([]Event, 0, total)
	for _, c := range n.journal {
		out = append(out, c...)
	}
	return out
}

const journalChunk = 4096
