package dht

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/distsys-curriculum/distsys/internal/rto"
)

// Msg is every node-to-node message of the protocol; the adapter sends
// it as a JSON body. Fields a type does not use stay empty.
type Msg struct {
	Type    string   `json:"type"`
	Req     uint64   `json:"req,omitempty"`    // the origin's lookup or operation
	Fwd     uint64   `json:"fwd,omitempty"`    // the forwarder's hop, acknowledged by dht_ack
	Origin  string   `json:"origin,omitempty"` // who asked for the lookup
	Target  ID       `json:"target,omitempty"`
	Hops    int      `json:"hops,omitempty"`
	Key     string   `json:"key,omitempty"`
	Pred    string   `json:"pred,omitempty"`
	Succs   []string `json:"succs,omitempty"`
	Entry   *Entry   `json:"entry,omitempty"`
	Entries []Entry  `json:"entries,omitempty"`
}

// Message types.
const (
	tFind    = "dht_find"    // route a lookup one hop on
	tAck     = "dht_ack"     // the hop arrived
	tFound   = "dht_found"   // to the origin: the target's successor list
	tGone    = "dht_gone"    // "I am not (or no longer) in the ring"
	tStab    = "dht_stab"    // stabilize: who is your predecessor, your successors?
	tStabOK  = "dht_stab_ok" //
	tNotify  = "dht_notify"  // "I might be your predecessor"
	tRead    = "dht_read"    // read a key's entry from one replica
	tReadOK  = "dht_read_ok" //
	tWrite   = "dht_write"   // store an entry on one replica
	tWriteOK = "dht_write_ok"
	tPush    = "dht_push"     // replication and hand-off: keep the newer of each entry
	tSetPred = "dht_set_pred" // a leaving node links its neighbours
	tSetSucc = "dht_set_succ"
)

// Version orders the writes of one key: a writer reads the highest
// version on the key's replicas and writes N+1; W, the writer's name,
// breaks ties between concurrent writers.
type Version struct {
	N uint64 `json:"n"`
	W string `json:"w"`
}

func (v Version) less(o Version) bool {
	return v.N < o.N || v.N == o.N && v.W < o.W
}

// Entry is one stored key.
type Entry struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	Ver   Version         `json:"ver"`
}

// Transport sends a message to another node; it must not block.
type Transport interface {
	Send(dest string, m Msg)
}

// Clock tells the time; the node's clock, virtual in tests.
type Clock interface {
	Now() time.Time
}

// Config is one node's settings.
type Config struct {
	Self     string
	Nodes    []string // every node that may exist, to find an entry point
	Replicas int      // r: each key is stored on its owner and r-1 successors
	// NoFingers routes every lookup along successor pointers only: the
	// plain ring whose lookups take n/2 hops, the counter-example.
	NoFingers bool

	// The timeouts below are floors and starting points: once a peer
	// has answered, each wait is that peer's retransmission timeout
	// (srtt + 4*rttvar, as TCP computes it, see internal/rto) if that is
	// longer, so that a slow network stretches them.
	HopTimeout  time.Duration // a forwarded lookup not acknowledged in this long is routed around its next hop
	StabTimeout time.Duration // a successor silent for about this long (StabMisses pings) is suspected
	OpTimeout   time.Duration // one read or write round; a round that times out is retried, never a reason to suspect
	PredTimeout time.Duration // a predecessor not heard from this long may be replaced
	MaxTimeout  time.Duration // no adaptive timeout grows past this
	// StabMisses is how many stabilization pings in a row, each waited
	// for one timeout longer than the last, a successor must leave
	// unanswered before it is suspected.
	StabMisses int
	// SuspectFor is how long a node that stopped answering stays out of
	// every table; any message from it ends the suspicion sooner. A slow
	// node wrongly suspected thus comes back, a dead one never does.
	SuspectFor time.Duration
	StabEvery  time.Duration
	PushEvery  time.Duration
	Attempts   int // lookups and operations tried this often before giving up

	// Durable, read by Attach: keep this node's copies in its data
	// directory, so that a killed node has them again on restart.
	// Without it they live in memory only (the counter-example).
	Durable bool
	// OnKeep, if set, is called with every entry the node comes to
	// hold, before it acknowledges a write: the storage seam of a
	// durable node.
	OnKeep func(Entry) error
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HopTimeout, 300*time.Millisecond)
	def(&c.StabTimeout, 600*time.Millisecond)
	def(&c.OpTimeout, 500*time.Millisecond)
	def(&c.PredTimeout, time.Second)
	def(&c.SuspectFor, 3*time.Second)
	def(&c.StabEvery, 100*time.Millisecond)
	def(&c.PushEvery, 500*time.Millisecond)
	def(&c.MaxTimeout, 3*time.Second)
	if c.StabMisses <= 0 {
		c.StabMisses = 2
	}
	if c.Attempts <= 0 {
		c.Attempts = 4
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
}

// Errors reported to callers.
var (
	ErrNotMember   = errors.New("dht: this node is not in the ring")
	ErrUnavailable = errors.New("dht: no answer after every attempt")
)

type lookup struct {
	target   ID
	deadline time.Time
	tries    int
	done     func(owners []string, hops int, err error)
}

type fwd struct {
	m        Msg
	to       string
	sent     time.Time
	deadline time.Time
}

type op struct {
	put      bool
	key      string
	value    json.RawMessage
	tries    int
	hops     int
	writing  bool
	set      []string
	waiting  map[string]bool
	best     Entry
	has      bool
	sent     time.Time // when the current round went out
	deadline time.Time // zero while the lookup runs
	donePut  func(hops int, err error)
	doneGet  func(value json.RawMessage, found bool, hops int, err error)
}

// Core is one node of the Chord ring: its place (predecessor, successor
// list, fingers), its share of the keys, and the lookups and operations
// it is running. It does no I/O: messages go out through the Transport
// and come in through Handle; Tick drives the timers. It is not safe for
// concurrent use: the adapter serialises calls.
type Core struct {
	cfg   Config
	clock Clock
	tr    Transport
	id    ID
	succN int // successor list length

	member, left bool
	lastTick     time.Time
	entry        string // a non-member's way into the ring
	pred         string
	predSeen     time.Time
	succ         []string
	finger       [Bits]string
	nextFinger   int
	fixing       bool
	dead         map[string]bool
	deadAt       map[string]time.Time
	// avoid holds the next hops that did not acknowledge a lookup in
	// time, until when routing passes them over. Unlike dead it leaves
	// the successor list alone: a slow answer is not a death.
	avoid map[string]time.Time
	// ringSize is the largest ring this node has seen evidence of
	// (itself and a successor list, or a lookup's answer): once it
	// reaches r, an answer naming fewer than r replicas is not trusted.
	ringSize int
	rtt      rtts
	store    map[string]Entry

	seq      uint64
	lookups  map[uint64]*lookup
	fwds     map[uint64]*fwd
	ops      map[uint64]*op
	stabTo   string
	stabDue  time.Time
	stabMiss int                  // pings to stabTo unanswered so far
	stabSent map[uint64]time.Time // the pings to stabTo, by request
	lastStab time.Time
	lastPush time.Time
}

// New returns a node outside any ring; Start or Join puts it in one.
func New(cfg Config, clock Clock, tr Transport) *Core {
	cfg.defaults()
	return &Core{cfg: cfg, clock: clock, tr: tr, id: Hash(cfg.Self), succN: max(cfg.Replicas+1, 4),
		dead: map[string]bool{}, deadAt: map[string]time.Time{}, avoid: map[string]time.Time{}, store: map[string]Entry{},
		stabSent: map[uint64]time.Time{}, rtt: rtts{peers: map[string]*rto.Estimator{}},
		lookups: map[uint64]*lookup{}, fwds: map[uint64]*fwd{}, ops: map[uint64]*op{}}
}

// Member reports whether the node is in the ring.
func (c *Core) Member() bool { return c.member }

// Predecessor is the node's current predecessor ("" when unknown).
func (c *Core) Predecessor() string { return c.pred }

// Successors is the node's successor list, nearest first.
func (c *Core) Successors() []string { return slices.Clone(c.succ) }

// Finger returns finger i: the first node at or after self + 2^i.
func (c *Core) Finger(i int) string { return c.finger[i] }

// Stored returns the node's copy of a key.
func (c *Core) Stored(key string) (Entry, bool) {
	e, ok := c.store[key]
	return e, ok
}

// Start makes the node a member of a ring whose members are known from
// the outset (the initial ring), wiring predecessor, successors and
// fingers at once rather than by a round of joins.
func (c *Core) Start(members []string) {
	ring := slices.Clone(members)
	if !slices.Contains(ring, c.cfg.Self) {
		ring = append(ring, c.cfg.Self)
	}
	sort.Slice(ring, func(i, j int) bool { return Hash(ring[i]) < Hash(ring[j]) })
	ring = slices.Compact(ring)
	me := slices.Index(ring, c.cfg.Self)
	n := len(ring)
	c.succ = nil
	for k := 1; k < n && k <= c.succN; k++ {
		c.succ = append(c.succ, ring[(me+k)%n])
	}
	c.pred = ""
	if n > 1 {
		c.pred = ring[(me-1+n)%n]
	}
	c.predSeen = c.clock.Now()
	for i := range Bits {
		start := c.id + ID(1)<<i
		c.finger[i] = ring[sort.Search(n, func(k int) bool { return Hash(ring[k]) >= start })%n]
	}
	c.member, c.left = true, false
	c.ringSize = max(c.ringSize, n)
}

// Join enters the ring through bootstrap, a member: the node looks up
// its own successor and takes that node's successor list; stabilization
// then links its predecessor to it and hands it its keys.
func (c *Core) Join(bootstrap string, done func(error)) {
	if c.member {
		done(nil)
		return
	}
	if bootstrap == c.cfg.Self || bootstrap == "" {
		c.Start(nil)
		done(nil)
		return
	}
	c.entry = bootstrap
	c.startLookup(c.id, func(owners []string, _ int, err error) {
		if err != nil {
			done(err)
			return
		}
		if c.member {
			done(nil)
			return
		}
		c.succ = c.clean(owners)
		c.pred = ""
		c.member, c.left = true, false
		c.lastStab = time.Time{} // stabilize at the next tick
		done(nil)
	})
}

// Leave hands every entry to the successor, links predecessor and
// successor to each other, and stops serving.
func (c *Core) Leave() error {
	if !c.member {
		return ErrNotMember
	}
	s := c.successor()
	if s != c.cfg.Self {
		entries := c.entries(func(string) bool { return true })
		if len(entries) > 0 {
			c.tr.Send(s, Msg{Type: tPush, Entries: entries})
		}
		c.tr.Send(s, Msg{Type: tSetPred, Pred: c.pred})
	}
	if c.pred != "" && c.pred != c.cfg.Self {
		c.tr.Send(c.pred, Msg{Type: tSetSucc, Succs: c.succ})
	}
	c.member, c.left, c.entry = false, true, s
	for id, l := range c.lookups {
		delete(c.lookups, id)
		l.done(nil, 0, ErrNotMember)
	}
	return nil
}

// Lookup finds the nodes that hold key: its owner, then the owner's
// successors (r of them are its replicas), and the hops the lookup took.
func (c *Core) Lookup(key string, done func(owners []string, hops int, err error)) {
	if !c.member {
		done(nil, 0, ErrNotMember)
		return
	}
	c.startLookup(Hash(key), done)
}

// Put stores value under key on its r replicas: it reads their versions,
// then writes the next one to all of them, and reports success only when
// every replica has it.
func (c *Core) Put(key string, value json.RawMessage, done func(hops int, err error)) {
	if !c.member {
		done(0, ErrNotMember)
		return
	}
	c.runOp(&op{put: true, key: key, value: value, donePut: done})
}

// Get reads key from its r replicas and returns the newest version.
func (c *Core) Get(key string, done func(value json.RawMessage, found bool, hops int, err error)) {
	if !c.member {
		done(nil, false, 0, ErrNotMember)
		return
	}
	c.runOp(&op{key: key, doneGet: done})
}

func (c *Core) next() uint64 { c.seq++; return c.seq }

func (c *Core) startLookup(target ID, done func([]string, int, error)) {
	id := c.next()
	c.lookups[id] = &lookup{target: target, done: done, tries: 1, deadline: c.clock.Now().Add(c.lookupTimeout())}
	c.sendFind(Msg{Type: tFind, Req: id, Origin: c.cfg.Self, Target: target})
}

func (c *Core) lookupTimeout() time.Duration { return 2*c.cfg.HopTimeout + 4*c.cfg.OpTimeout }

// sendFind starts a lookup's route: from a member, here; from a
// non-member, through its entry point.
func (c *Core) sendFind(m Msg) {
	if c.member {
		c.route(m)
		return
	}
	entry := c.entry
	if entry == "" || c.dead[entry] || c.avoided(entry) {
		entry = ""
		for _, n := range c.cfg.Nodes {
			if n != c.cfg.Self && !c.dead[n] && !c.avoided(n) {
				entry = n
				break
			}
		}
	}
	if entry == "" {
		return // the lookup times out
	}
	c.entry = entry
	m.Hops++
	c.forward(entry, m)
}

// route moves a lookup one step: answer it if the target falls between
// this node and its successor, else pass it to the closest preceding
// node this node knows.
func (c *Core) route(m Msg) {
	s := c.successor()
	switch {
	case s == c.cfg.Self:
		c.found(m, append([]string{c.cfg.Self}, c.succ...))
		return
	case c.pred != "" && !c.dead[c.pred] && between(m.Target, Hash(c.pred), c.id):
		c.found(m, append([]string{c.cfg.Self}, c.succ...))
		return
	case between(m.Target, c.id, Hash(s)):
		c.found(m, c.succ)
		return
	}
	m.Hops++
	c.forward(c.closestPreceding(m.Target), m)
}

func (c *Core) found(m Msg, owners []string) {
	reply := Msg{Type: tFound, Req: m.Req, Hops: m.Hops, Succs: c.cleanList(owners, false)}
	if m.Origin == c.cfg.Self {
		c.onFound(reply)
		return
	}
	c.tr.Send(m.Origin, reply)
}

func (c *Core) closestPreceding(target ID) string {
	best, bestD := c.successor(), ID(0)
	consider := func(n string) {
		if n == "" || n == c.cfg.Self || c.dead[n] || c.avoided(n) {
			return
		}
		h := Hash(n)
		if !strictlyBetween(h, c.id, target) {
			return
		}
		if d := h - c.id; d > bestD {
			best, bestD = n, d
		}
	}
	if c.cfg.NoFingers {
		return best
	}
	for _, f := range c.finger {
		consider(f)
	}
	for _, s := range c.succ {
		consider(s)
	}
	return best
}

func (c *Core) forward(to string, m Msg) {
	id := c.next()
	sent := m
	sent.Fwd = id
	now := c.clock.Now()
	c.fwds[id] = &fwd{m: m, to: to, sent: now, deadline: now.Add(c.timeout(to, c.cfg.HopTimeout))}
	c.tr.Send(to, sent)
}

// hopFailed re-routes a lookup whose next hop never acknowledged it in
// time, around that hop: the hop is avoided for a while, not suspected,
// since a late acknowledgement is more often a slow network than a death.
// (A dead successor is found by stabilization; a dead finger is avoided
// until finger repair replaces it.)
func (c *Core) hopFailed(id uint64) {
	f := c.fwds[id]
	if f == nil {
		return
	}
	delete(c.fwds, id)
	c.avoid[f.to] = c.clock.Now().Add(c.cfg.SuspectFor)
	m := f.m
	m.Hops--
	c.sendFind(m)
}

func (c *Core) onFound(m Msg) {
	if l := c.lookups[m.Req]; l != nil {
		delete(c.lookups, m.Req)
		c.ringSize = max(c.ringSize, len(m.Succs))
		l.done(c.cleanList(m.Succs, false), m.Hops, nil)
	}
}

func (c *Core) successor() string {
	for _, s := range c.succ {
		if !c.dead[s] && s != c.cfg.Self {
			return s
		}
	}
	return c.cfg.Self
}

// clean drops dead nodes and duplicates from a successor list and trims
// it to its length. This node's own list ends where it comes round to
// this node again (a small ring); another node's list (a lookup's
// owners) may name this node anywhere.
func (c *Core) clean(list []string) []string { return c.cleanList(list, true) }

func (c *Core) cleanList(list []string, own bool) []string {
	var out []string
	for _, n := range list {
		if n == "" || c.dead[n] || slices.Contains(out, n) {
			continue
		}
		if own && n == c.cfg.Self && len(out) > 0 {
			break
		}
		out = append(out, n)
		if len(out) == c.succN {
			break
		}
	}
	return out
}

// markDead drops a node that stopped answering from every table, and
// keeps it out for SuspectFor.
func (c *Core) markDead(n string) {
	if n == c.cfg.Self || n == "" {
		return
	}
	c.dead[n] = true
	c.deadAt[n] = c.clock.Now()
	c.succ = slices.DeleteFunc(c.succ, func(s string) bool { return s == n })
	for i := range c.finger {
		if c.finger[i] == n {
			c.finger[i] = ""
		}
	}
	if c.pred == n {
		c.pred = ""
	}
}

func (c *Core) runOp(o *op) {
	id := c.next()
	c.ops[id] = o
	o.tries++
	o.deadline, o.writing, o.has, o.best = time.Time{}, false, false, Entry{}
	c.startLookup(Hash(o.key), func(owners []string, hops int, err error) {
		if c.ops[id] != o {
			return
		}
		if err != nil {
			c.retry(id, o)
			return
		}
		if len(owners) < c.cfg.Replicas && c.ringSize >= c.cfg.Replicas {
			// The answer names fewer replicas than a ring this size
			// has: it comes from a node that has lost its successors
			// (it suspects them all and takes itself for a ring of
			// one). A put acknowledged by such a set, or a get that
			// read it, would miss the key's true replicas: try again
			// after a round's time.
			o.waiting = nil
			o.deadline = c.clock.Now().Add(c.cfg.OpTimeout)
			return
		}
		o.hops = hops
		o.set = owners[:min(len(owners), c.cfg.Replicas)]
		c.round(id, o, Msg{Type: tRead, Req: id, Key: o.key})
	})
}

// round sends one request to every replica of the operation's set and
// waits for all of them.
func (c *Core) round(id uint64, o *op, m Msg) {
	o.waiting = map[string]bool{}
	o.sent = c.clock.Now()
	wait := c.cfg.OpTimeout
	for _, n := range o.set {
		o.waiting[n] = true
		if n != c.cfg.Self {
			wait = max(wait, c.timeout(n, c.cfg.OpTimeout))
		}
	}
	o.deadline = o.sent.Add(wait)
	for _, n := range o.set {
		if n == c.cfg.Self {
			c.Handle(n, m)
		} else {
			c.tr.Send(n, m)
		}
	}
}

func (c *Core) retry(id uint64, o *op) {
	delete(c.ops, id)
	if o.tries >= c.cfg.Attempts || !c.member {
		err := ErrUnavailable
		if !c.member {
			err = ErrNotMember
		}
		if o.put {
			o.donePut(0, err)
		} else {
			o.doneGet(nil, false, 0, err)
		}
		return
	}
	c.runOp(o)
}

func (c *Core) replied(src string, m Msg) {
	o := c.ops[m.Req]
	if o == nil || !o.waiting[src] || o.writing != (m.Type == tWriteOK) {
		return
	}
	delete(o.waiting, src)
	if src != c.cfg.Self {
		c.rtt.sample(src, c.clock.Now().Sub(o.sent))
	}
	if m.Entry != nil && (!o.has || o.best.Ver.less(m.Entry.Ver)) {
		o.best, o.has = *m.Entry, true
	}
	if len(o.waiting) > 0 {
		return
	}
	switch {
	case !o.put:
		delete(c.ops, m.Req)
		o.doneGet(o.best.Value, o.has, o.hops, nil)
	case !o.writing:
		o.writing = true
		e := Entry{Key: o.key, Value: o.value, Ver: Version{N: o.best.Ver.N + 1, W: c.cfg.Self}}
		c.round(m.Req, o, Msg{Type: tWrite, Req: m.Req, Entry: &e})
	default:
		delete(c.ops, m.Req)
		o.donePut(o.hops, nil)
	}
}

// keep stores e if it is newer than this node's copy; false when the
// storage seam failed (the write is then not acknowledged).
func (c *Core) keep(e Entry) bool {
	if old, ok := c.store[e.Key]; !ok || old.Ver.less(e.Ver) {
		if c.cfg.OnKeep != nil {
			if err := c.cfg.OnKeep(e); err != nil {
				return false
			}
		}
		c.store[e.Key] = e
	}
	return true
}

// Restore gives a restarted node the copies it kept before it died.
func (c *Core) Restore(entries []Entry) {
	for _, e := range entries {
		if old, ok := c.store[e.Key]; !ok || old.Ver.less(e.Ver) {
			c.store[e.Key] = e
		}
	}
}

func (c *Core) entries(want func(key string) bool) []Entry {
	var out []Entry
	for k, e := range c.store {
		if want(k) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Handle processes one message from src.
func (c *Core) Handle(src string, m Msg) {
	now := c.clock.Now()
	if c.dead[src] && m.Type != tGone {
		delete(c.dead, src) // it is alive after all
	}
	if m.Type != tGone {
		delete(c.avoid, src)
	}
	switch m.Type {
	case tFind:
		if !c.member {
			c.tr.Send(src, Msg{Type: tGone, Fwd: m.Fwd})
			return
		}
		c.tr.Send(src, Msg{Type: tAck, Fwd: m.Fwd})
		m.Fwd = 0
		c.route(m)
	case tAck:
		if f := c.fwds[m.Fwd]; f != nil && f.to == src {
			c.rtt.sample(src, now.Sub(f.sent))
		}
		delete(c.fwds, m.Fwd)
	case tGone:
		if m.Fwd != 0 {
			// Not slow but out of the ring: that is definite.
			c.markDead(src)
			c.hopFailed(m.Fwd)
			return
		}
		c.markDead(src)
		if o := c.ops[m.Req]; o != nil {
			o.deadline = now
		}
		if c.stabTo == src {
			c.stabTo = ""
			clear(c.stabSent)
		}
	case tFound:
		c.onFound(m)
	case tStab:
		if !c.member {
			c.tr.Send(src, Msg{Type: tGone})
			return
		}
		c.tr.Send(src, Msg{Type: tStabOK, Req: m.Req, Pred: c.pred, Succs: c.succ})
	case tStabOK:
		if src != c.stabTo || !c.member {
			return
		}
		if at, ok := c.stabSent[m.Req]; ok {
			c.rtt.sample(src, now.Sub(at))
		}
		c.stabTo, c.stabMiss = "", 0
		clear(c.stabSent)
		list := append([]string{src}, m.Succs...)
		if x := m.Pred; x != "" && x != c.cfg.Self && !c.dead[x] && strictlyBetween(Hash(x), c.id, Hash(src)) {
			list = append([]string{x}, list...)
		}
		c.succ = c.clean(list)
		c.ringSize = max(c.ringSize, len(c.succ)+1)
		if s := c.successor(); s != c.cfg.Self {
			c.tr.Send(s, Msg{Type: tNotify})
		}
	case tNotify:
		if !c.member {
			return
		}
		if src == c.pred {
			c.predSeen = now
			return
		}
		if c.pred == "" || c.dead[c.pred] || strictlyBetween(Hash(src), Hash(c.pred), c.id) || now.Sub(c.predSeen) > c.cfg.PredTimeout {
			c.pred, c.predSeen = src, now
			// Hand the new predecessor what it now owns or replicates:
			// everything this node holds outside its own arc.
			np := Hash(src)
			if es := c.entries(func(k string) bool { return !between(Hash(k), np, c.id) }); len(es) > 0 {
				c.tr.Send(src, Msg{Type: tPush, Entries: es})
			}
		}
	case tRead:
		if !c.member {
			c.tr.Send(src, Msg{Type: tGone, Req: m.Req})
			return
		}
		reply := Msg{Type: tReadOK, Req: m.Req}
		if e, ok := c.store[m.Key]; ok {
			reply.Entry = &e
		}
		c.send(src, reply)
	case tWrite:
		if !c.member || m.Entry == nil {
			c.tr.Send(src, Msg{Type: tGone, Req: m.Req})
			return
		}
		if !c.keep(*m.Entry) {
			return // the writer times out and retries
		}
		c.send(src, Msg{Type: tWriteOK, Req: m.Req})
	case tReadOK, tWriteOK:
		c.replied(src, m)
	case tPush:
		if !c.member {
			return
		}
		for _, e := range m.Entries {
			c.keep(e)
		}
	case tSetPred:
		if c.member && src == c.pred {
			c.pred, c.predSeen = m.Pred, now
			if c.pred == c.cfg.Self {
				c.pred = ""
			}
		}
	case tSetSucc:
		if c.member && c.successor() == src {
			c.markDead(src)
			c.succ = c.clean(append(m.Succs, c.succ...))
		}
	}
}

// send delivers to src, or to this node itself without the network.
func (c *Core) send(to string, m Msg) {
	if to == c.cfg.Self {
		c.Handle(to, m)
		return
	}
	c.tr.Send(to, m)
}

// Tick runs the timers: expired hops, lookups and operations,
// stabilization, finger repair and re-replication. Call it every few
// tens of milliseconds.
func (c *Core) Tick() {
	now := c.clock.Now()
	if gap := now.Sub(c.lastTick); !c.lastTick.IsZero() && gap > c.cfg.HopTimeout/2 {
		c.stalled(gap)
	}
	c.lastTick = now
	for n, at := range c.deadAt {
		if now.Sub(at) > c.cfg.SuspectFor {
			delete(c.deadAt, n)
			delete(c.dead, n)
		}
	}
	for n, until := range c.avoid {
		if now.After(until) {
			delete(c.avoid, n)
		}
	}
	for _, id := range sortedKeys(c.fwds) {
		if f := c.fwds[id]; f != nil && now.After(f.deadline) {
			c.hopFailed(id)
		}
	}
	for _, id := range sortedKeys(c.lookups) {
		l := c.lookups[id]
		if l == nil || !now.After(l.deadline) {
			continue
		}
		if l.tries >= c.cfg.Attempts {
			delete(c.lookups, id)
			l.done(nil, 0, ErrUnavailable)
			continue
		}
		l.tries++
		l.deadline = now.Add(c.lookupTimeout())
		c.sendFind(Msg{Type: tFind, Req: id, Origin: c.cfg.Self, Target: l.target})
	}
	for _, id := range sortedKeys(c.ops) {
		o := c.ops[id]
		if o == nil || o.deadline.IsZero() || now.Before(o.deadline) {
			continue
		}
		// A replica that has not answered is slow or dead; which, is
		// the failure detector's business (stabilization). Suspecting it
		// here would drop a live replica from the successor list on one
		// late reply, and shift the replica set this node hands out.
		c.retry(id, o)
	}
	if !c.member {
		return
	}
	if c.stabTo != "" && now.After(c.stabDue) {
		c.stabMiss++
		if c.stabMiss >= c.cfg.StabMisses {
			c.markDead(c.stabTo)
			c.stabTo, c.stabMiss = "", 0
			clear(c.stabSent)
		} else {
			// Ping again and wait longer (exponential backoff, as TCP
			// after a timeout): either answer clears the suspicion.
			c.pingSucc(now, c.stabTo)
		}
	}
	if now.Sub(c.lastStab) >= c.cfg.StabEvery && c.stabTo == "" {
		c.lastStab = now
		if c.successor() == c.cfg.Self && c.pred != "" {
			c.succ = []string{c.pred}
		}
		if s := c.successor(); s != c.cfg.Self {
			c.stabTo, c.stabMiss = s, 0
			clear(c.stabSent)
			c.pingSucc(now, s)
		}
		c.fixFingers()
	}
	if now.Sub(c.lastPush) >= c.cfg.PushEvery {
		c.lastPush = now
		c.replicate()
	}
}

// pingSucc sends a stabilization ping to s, the successor being
// checked; the wait doubles with every ping s has left unanswered.
func (c *Core) pingSucc(now time.Time, s string) {
	req := c.next()
	c.stabSent[req] = now
	floor := c.cfg.StabTimeout / time.Duration(1<<c.cfg.StabMisses-1)
	c.stabDue = now.Add(c.timeout(s, floor) << c.stabMiss)
	c.tr.Send(s, Msg{Type: tStab, Req: req})
}

// timeout is how long to wait for peer's answer: its retransmission
// timeout once it has answered, never below floor (the configured
// timeout, right for a fast network) nor above MaxTimeout.
func (c *Core) timeout(peer string, floor time.Duration) time.Duration {
	return min(max(c.rtt.rto(peer), floor), max(c.cfg.MaxTimeout, floor))
}

func (c *Core) avoided(n string) bool {
	_, ok := c.avoid[n]
	return ok
}

// stalled pushes every pending deadline on by gap: this node did not
// run for that long (its process was paused, the machine was loaded),
// so the answers that are late are late because of it, not because
// their senders died. Without this a node that wakes from a pause
// suspects every successor at once; with its list empty it takes
// itself for a ring of one, answers lookups for every key with itself,
// and reads keys it never stored.
func (c *Core) stalled(gap time.Duration) {
	for _, f := range c.fwds {
		f.deadline = f.deadline.Add(gap)
	}
	for _, l := range c.lookups {
		l.deadline = l.deadline.Add(gap)
	}
	for _, o := range c.ops {
		if !o.deadline.IsZero() {
			o.deadline = o.deadline.Add(gap)
		}
	}
	if c.stabTo != "" {
		c.stabDue = c.stabDue.Add(gap)
	}
	c.predSeen = c.predSeen.Add(gap)
}

// fixFingers refreshes the fingers from nextFinger on with one lookup:
// its answer fills every finger whose start falls before that node.
func (c *Core) fixFingers() {
	if c.cfg.NoFingers || c.fixing {
		return
	}
	i := c.nextFinger
	start := c.id + ID(1)<<i
	c.fixing = true
	c.startLookup(start, func(owners []string, _ int, err error) {
		c.fixing = false
		if err != nil || len(owners) == 0 {
			c.nextFinger = (i + 1) % Bits
			return
		}
		o := owners[0]
		j := i
		for ; j < Bits && between(c.id+ID(1)<<j, c.id, Hash(o)); j++ {
			c.finger[j] = o
		}
		if j == i {
			c.finger[j] = o
			j++
		}
		c.nextFinger = j % Bits
	})
}

// replicate pushes the keys this node owns to its r-1 successors, which
// re-creates replicas lost to a death and fills a newly joined node.
func (c *Core) replicate() {
	if c.pred == "" || c.cfg.Replicas < 2 {
		return
	}
	p := Hash(c.pred)
	es := c.entries(func(k string) bool { return between(Hash(k), p, c.id) })
	if len(es) == 0 {
		return
	}
	sent := 0
	for _, s := range c.succ {
		if sent == c.cfg.Replicas-1 {
			break
		}
		if s == c.cfg.Self || c.dead[s] {
			continue
		}
		c.tr.Send(s, Msg{Type: tPush, Entries: es})
		sent++
	}
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
