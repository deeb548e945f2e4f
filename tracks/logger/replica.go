package logger

// The replicated log (--replicate isr): every node keeps a copy of every
// key's log, Kafka-style. Each key has a leader and an in-sync replica set
// (ISR), kept in the grader's lin-kv service as the key's metadata, the
// way Kafka kept them in ZooKeeper: "epoch|leader|isr". Metadata changes
// only by compare-and-set, so the service orders them all.
//
//   - The leader appends a send to its own log (durably), replicates it to
//     the followers and, with acks=all, acknowledges it once every member
//     of the ISR has it: the high watermark (HW) has passed it.
//   - A follower that stops answering for lagTimeout is removed from the
//     ISR (a compare-and-set) before the leader acknowledges anything
//     without it; one that has caught up is added back.
//   - A follower in the ISR that hears nothing from the leader for
//     leaderTimeout takes over: it sets the metadata to epoch+1 with itself
//     as leader. It has every acknowledged message, because it was in the
//     ISR. Followers refuse replication from older epochs, which fences a
//     deposed leader: it cannot get an ISR member's acknowledgement, and
//     its compare-and-set to shrink the ISR fails.
//   - A follower's log must be a prefix of the leader's: each replication
//     names the offset and epoch of the entry before the new ones; on a
//     mismatch the follower answers how far it can vouch for and the leader
//     backs up. Divergent entries are truncated.
//   - Every node serves polls from its own copy, below the HW it knows:
//     only messages on every ISR member, which no later leader lacks.
//
// With acks=leader (the counter-example) the leader acknowledges a send
// as soon as its own log has it. A leader killed before its followers
// copied that message leaves a new leader without it: acknowledged, lost.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/queues"
)

const (
	lagTimeout    = 500 * time.Millisecond // an ISR member silent this long is removed
	leaderTimeout = time.Second            // a leader silent this long is replaced
	maxBatch      = 64                     // entries per key per replication message
)

// keyMeta is a key's leadership as lin-kv holds it.
type keyMeta struct {
	Epoch  int64
	Leader string
	ISR    []string
}

func (m keyMeta) String() string {
	return strconv.FormatInt(m.Epoch, 10) + "|" + m.Leader + "|" + strings.Join(m.ISR, ",")
}

func parseMeta(s string) (keyMeta, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 {
		return keyMeta{}, fmt.Errorf("logger: metadata %q: want epoch|leader|isr", s)
	}
	e, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return keyMeta{}, fmt.Errorf("logger: metadata %q: %w", s, err)
	}
	m := keyMeta{Epoch: e, Leader: parts[1]}
	if parts[2] != "" {
		m.ISR = strings.Split(parts[2], ",")
	}
	return m, nil
}

func (m keyMeta) inISR(id string) bool { return slices.Contains(m.ISR, id) }

// keyReplica is one key's replication state on this node. mu also orders
// the key's log writes: one at a time per key.
type keyReplica struct {
	mu      sync.Mutex
	meta    keyMeta // the newest metadata this node has seen
	hasMeta bool
	epoch   int64 // the highest leader epoch accepted; older ones are refused
	hw      int64 // high watermark: offsets below are on every ISR member
	// caughtUp: this log holds everything acknowledged. False on a
	// suspect replica (its log was damaged or cut at start) until a
	// leader's replication brought it to the high watermark; until then
	// it must not lead the key, or it would lose acknowledged messages.
	caughtUp bool
	heard    time.Time // when the leader was last heard (or the metadata learned)
	busy     bool      // a metadata change is in flight

	leading bool
	next    map[string]int64     // follower -> offset to replicate from
	match   map[string]int64     // follower -> its log agrees with ours below this
	acked   map[string]time.Time // follower -> its last answer
	changed chan struct{}        // closed when hw or leadership changes
}

func (k *keyReplica) notify() {
	close(k.changed)
	k.changed = make(chan struct{})
}

// replicaSet serves the kafka workload with every key replicated.
type replicaSet struct {
	s        *server
	n        *node.Node
	kv       *node.KV
	acksAll  bool
	mu       sync.Mutex
	keys     map[string]*keyReplica
	inflight map[string]time.Time // follower -> when its unanswered replication message left
}

func setupReplicated(s *server, acksAll bool, syncInterval time.Duration) *replicaSet {
	r := &replicaSet{s: s, n: s.n, kv: node.NewKV(s.n, node.LinKV), acksAll: acksAll,
		keys: map[string]*keyReplica{}, inflight: map[string]time.Time{}}
	node.HandleTyped(s.n, "send", r.send)
	node.HandleTyped(s.n, "poll", r.poll)
	node.HandleTyped(s.n, "commit_offsets", r.commit)
	node.HandleTyped(s.n, "list_committed_offsets", r.listCommitted)
	node.HandleTyped(s.n, "isr_sync", r.handleSync)
	s.n.Every(syncInterval, r.tick)
	return r
}

func (r *replicaSet) key(key string) *keyReplica {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys[key]
	if k == nil {
		k = &keyReplica{changed: make(chan struct{}), caughtUp: !r.s.isSuspect()}
		r.keys[key] = k
	}
	return k
}

// log is the node's log; handlers and the ticker check that it is open
// (server.getLog) before they touch a key.
func (r *replicaSet) log() *Log {
	l, _ := r.s.getLog()
	return l
}

func metaKey(key string) string { return "meta/" + key }

// learn records metadata read from lin-kv (newer epochs or ISR changes).
func (k *keyReplica) learn(me string, m keyMeta, now time.Time) {
	if k.hasMeta && m.Epoch < k.meta.Epoch {
		return
	}
	if !k.hasMeta || m.Leader != k.meta.Leader || m.Epoch != k.meta.Epoch {
		k.heard = now
	}
	k.meta, k.hasMeta = m, true
	k.epoch = max(k.epoch, m.Epoch)
	if k.leading && (m.Leader != me || m.Epoch != k.epoch) {
		k.leading = false
		k.notify()
	}
}

// loadMeta reads the key's metadata, creating it if the key is new: the
// first leader is a hash of the key over the nodes, the ISR all of them.
func (r *replicaSet) loadMeta(ctx context.Context, key string) (keyMeta, error) {
	var s string
	err := r.kv.ReadInto(ctx, metaKey(key), &s)
	if node.ErrorCode(err) == node.KeyDoesNotExist {
		ids := slices.Clone(r.n.NodeIDs())
		slices.Sort(ids)
		h := fnv.New32a()
		h.Write([]byte(key))
		m := keyMeta{Epoch: 1, Leader: ids[int(h.Sum32())%len(ids)], ISR: ids}
		err = r.kv.CompareAndSwap(ctx, metaKey(key), nil, m.String(), true)
		if err == nil {
			s = m.String()
		} else {
			err = r.kv.ReadInto(ctx, metaKey(key), &s)
		}
	}
	if err != nil {
		return keyMeta{}, err
	}
	m, err := parseMeta(s)
	if err != nil {
		return keyMeta{}, err
	}
	k := r.key(key)
	k.mu.Lock()
	k.learn(r.n.ID(), m, time.Now())
	k.mu.Unlock()
	return m, nil
}

// changeMeta moves the key's metadata from `from` to `to` by
// compare-and-set and reports whether it did; either way this node learns
// the current value.
func (r *replicaSet) changeMeta(ctx context.Context, key string, from, to keyMeta) bool {
	err := r.kv.CompareAndSwap(ctx, metaKey(key), from.String(), to.String(), false)
	if err != nil {
		_, _ = r.loadMeta(ctx, key)
		return false
	}
	k := r.key(key)
	k.mu.Lock()
	k.learn(r.n.ID(), to, time.Now())
	k.mu.Unlock()
	return true
}

// lead makes this node the key's leader at the metadata's epoch: followers
// start unverified, replicated from this log's end.
func (r *replicaSet) lead(k *keyReplica, key string) {
	end := r.log().End(key)
	k.leading = true
	k.next, k.match, k.acked = map[string]int64{}, map[string]int64{}, map[string]time.Time{}
	now := time.Now()
	for _, f := range r.n.Peers() {
		k.next[f] = end
		k.acked[f] = now
	}
	k.notify()
}

// takeOver makes this node leader with a new epoch, if the metadata still
// is `seen` and this node is in its ISR.
func (r *replicaSet) takeOver(ctx context.Context, key string, seen keyMeta) bool {
	me := r.n.ID()
	k := r.key(key)
	k.mu.Lock()
	caughtUp := k.caughtUp
	k.mu.Unlock()
	if !seen.inISR(me) || !caughtUp {
		return false
	}
	to := keyMeta{Epoch: seen.Epoch + 1, Leader: me, ISR: seen.ISR}
	if !r.changeMeta(ctx, key, seen, to) {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.meta.Epoch == to.Epoch && k.meta.Leader == me && !k.leading {
		r.lead(k, key)
	}
	return true
}

func (r *replicaSet) send(_ node.Message, req sendReq) (any, error) {
	if _, err := r.s.getLog(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.n.Context(), r.s.opts.Deadline)
	defer cancel()
	k := r.key(req.Key)
	k.mu.Lock()
	m, known, leading := k.meta, k.hasMeta, k.leading
	k.mu.Unlock()
	if !known {
		var err error
		if m, err = r.loadMeta(ctx, req.Key); err != nil {
			return nil, node.NewRPCError(node.TemporarilyUnavailable, err.Error())
		}
	}
	me := r.n.ID()
	switch {
	case leading:
		return r.append(ctx, k, req)
	case m.Leader == me:
		// This node restarted as the key's leader: take over with a new
		// epoch, so followers fence the old incarnation's messages.
		if !r.takeOver(ctx, req.Key, m) {
			return nil, node.NewRPCError(node.TemporarilyUnavailable, "leadership changed")
		}
		return r.append(ctx, k, req)
	case req.Forwarded:
		_, _ = r.loadMeta(ctx, req.Key)
		return nil, node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("not the leader of %s (%s is, at epoch %d)", req.Key, m.Leader, m.Epoch))
	}
	req.Forwarded = true
	resp, err := node.Call[sendOK](ctx, r.n, m.Leader, struct {
		Type string `json:"type"`
		sendReq
	}{"send", req})
	if err != nil {
		_, _ = r.loadMeta(ctx, req.Key)
		return nil, err
	}
	return resp, nil
}

// append writes the message at the end of the leader's log and waits until
// the high watermark passes it.
func (r *replicaSet) append(ctx context.Context, k *keyReplica, req sendReq) (any, error) {
	k.mu.Lock()
	if !k.leading {
		k.mu.Unlock()
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "leadership changed")
	}
	epoch := k.epoch
	off := r.log().End(req.Key)
	msgs := req.Batch
	if len(msgs) == 0 {
		msgs = []int64{req.Msg}
	}
	entries := make([]Entry, len(msgs))
	for i, m := range msgs {
		entries[i] = Entry{Offset: off + int64(i), Msg: m, Epoch: epoch}
	}
	if err := r.log().Replace(req.Key, entries); err != nil {
		k.mu.Unlock()
		return nil, r.s.fatal(err)
	}
	r.advance(k, req.Key)
	last := off + int64(len(msgs)) - 1
	for k.hw <= last {
		if !k.leading || k.epoch != epoch {
			k.mu.Unlock()
			// Written, maybe replicated: a new leader may keep it.
			return nil, node.NewRPCError(node.Timeout, "leadership changed before the message was replicated")
		}
		ch := k.changed
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, node.NewRPCError(node.Timeout, "not replicated to the in-sync replicas in time")
		}
		k.mu.Lock()
	}
	k.mu.Unlock()
	return sendOK{"send_ok", off}, nil
}

// advance recomputes the leader's high watermark (k.mu held).
func (r *replicaSet) advance(k *keyReplica, key string) {
	hw := r.log().End(key)
	if r.acksAll {
		for _, f := range k.meta.ISR {
			if f != r.n.ID() {
				hw = min(hw, k.match[f])
			}
		}
	}
	if hw > k.hw {
		k.hw = hw
		k.notify()
	}
}

type syncItem struct {
	Key   string `json:"key"`
	Epoch int64  `json:"epoch"`
	// Leader and ISR tell followers the key's metadata as the leader
	// knows it, so that a follower that never read it from lin-kv can
	// still take over when the leader falls silent.
	Leader    string   `json:"leader"`
	ISR       []string `json:"isr"`
	PrevOff   int64    `json:"prev_off"` // -1: from the start
	PrevEpoch int64    `json:"prev_epoch"`
	Entries   []Entry  `json:"entries,omitempty"`
	HW        int64    `json:"hw"`
}

type syncReq struct {
	Items []syncItem `json:"items"`
}

type syncAnswer struct {
	Key   string `json:"key"`
	OK    bool   `json:"ok"`
	Stale bool   `json:"stale,omitempty"` // the follower has seen a newer epoch
	Match int64  `json:"match"`           // the follower's log agrees below this
	Epoch int64  `json:"epoch"`
}

type syncOK struct {
	Type    string       `json:"type"`
	Answers []syncAnswer `json:"answers"`
}

// tick replicates to each follower, maintains the ISR of the keys this
// node leads and replaces leaders that went silent.
func (r *replicaSet) tick(ctx context.Context) {
	if _, err := r.s.getLog(); err != nil {
		return
	}
	me := r.n.ID()
	r.mu.Lock()
	keys := make([]string, 0, len(r.keys))
	for key := range r.keys {
		keys = append(keys, key)
	}
	r.mu.Unlock()
	slices.Sort(keys)
	batches := map[string][]syncItem{}
	now := time.Now()
	rank := slices.Index(r.n.NodeIDs(), me)
	for _, key := range keys {
		k := r.key(key)
		k.mu.Lock()
		switch {
		case k.leading:
			for _, f := range r.n.Peers() {
				item, err := r.syncItem(k, key, f)
				if err != nil {
					r.n.Logger().Error("replication read failed", "key", key, "err", err)
					continue
				}
				batches[f] = append(batches[f], item)
			}
			r.maintainISR(ctx, k, key, now)
		case k.hasMeta && !k.busy && k.meta.Leader != me && k.meta.inISR(me) &&
			now.Sub(k.heard) > leaderTimeout+time.Duration(rank)*leaderTimeout/4:
			k.busy = true
			seen := k.meta
			go func() {
				defer func() { k.mu.Lock(); k.busy = false; k.heard = time.Now(); k.mu.Unlock() }()
				c, cancel := context.WithTimeout(ctx, r.s.opts.Deadline)
				defer cancel()
				if m, err := r.loadMeta(c, key); err == nil && m.String() == seen.String() {
					r.takeOver(c, key, seen)
				}
			}()
		}
		k.mu.Unlock()
	}
	for f, items := range batches {
		// One message in flight per follower, so a slow one is not
		// flooded; an unanswered one is forgotten after lagTimeout/2 (the
		// follower may be dead, or the message dropped).
		r.mu.Lock()
		sent, busy := r.inflight[f]
		if busy && now.Sub(sent) < lagTimeout/2 {
			r.mu.Unlock()
			continue
		}
		r.inflight[f] = now
		r.mu.Unlock()
		_ = r.n.RPC(f, struct {
			Type string `json:"type"`
			syncReq
		}{"isr_sync", syncReq{items}}, func(msg node.Message) error { return r.answered(f, msg) })
	}
}

// syncItem is what follower f needs of key next (k.mu held).
func (r *replicaSet) syncItem(k *keyReplica, key, f string) (syncItem, error) {
	from := k.next[f]
	item := syncItem{Key: key, Epoch: k.epoch, Leader: r.n.ID(), ISR: k.meta.ISR, PrevOff: from - 1, HW: k.hw}
	if from > 0 {
		e, ok := r.log().EpochAt(key, from-1)
		if !ok {
			return item, fmt.Errorf("no entry at %d", from-1)
		}
		item.PrevEpoch = e
	}
	entries, err := r.log().Entries(key, from, r.log().End(key), maxBatch)
	item.Entries = entries
	return item, err
}

// answered handles a follower's answers to a replication message.
func (r *replicaSet) answered(f string, msg node.Message) error {
	r.mu.Lock()
	delete(r.inflight, f)
	r.mu.Unlock()
	var ok syncOK
	if err := json.Unmarshal(msg.Body, &ok); err != nil || ok.Type != "isr_sync_ok" {
		return nil // an error reply: the follower is not ready
	}
	now := time.Now()
	for _, a := range ok.Answers {
		k := r.key(a.Key)
		k.mu.Lock()
		switch {
		case !k.leading:
		case a.Stale:
			go func() {
				ctx, cancel := context.WithTimeout(r.n.Context(), r.s.opts.Deadline)
				defer cancel()
				_, _ = r.loadMeta(ctx, a.Key)
			}()
		case a.OK:
			// The follower's own word, even when lower than before: a
			// replica that lost its log (and refetches it) must not count
			// for what it held before.
			k.acked[f] = now
			k.match[f] = a.Match
			k.next[f] = a.Match
			r.advance(k, a.Key)
		default:
			k.acked[f] = now
			k.match[f] = min(k.match[f], a.Match)
			k.next[f] = max(0, min(k.next[f]-1, a.Match))
		}
		k.mu.Unlock()
	}
	return nil
}

// maintainISR removes silent followers from the key's ISR and adds
// caught-up ones back, one change at a time (k.mu held).
func (r *replicaSet) maintainISR(ctx context.Context, k *keyReplica, key string, now time.Time) {
	if k.busy {
		return
	}
	end := r.log().End(key)
	isr := slices.Clone(k.meta.ISR)
	for _, f := range r.n.Peers() {
		in := k.meta.inISR(f)
		switch {
		case in && k.match[f] < end && now.Sub(k.acked[f]) > lagTimeout:
			isr = slices.DeleteFunc(isr, func(s string) bool { return s == f })
		case !in && k.match[f] >= end:
			isr = append(isr, f)
		default:
			continue
		}
		slices.SortFunc(isr, cmp.Compare)
		from, to := k.meta, keyMeta{Epoch: k.meta.Epoch, Leader: k.meta.Leader, ISR: isr}
		k.busy = true
		go func() {
			c, cancel := context.WithTimeout(ctx, r.s.opts.Deadline)
			defer cancel()
			r.changeMeta(c, key, from, to)
			k.mu.Lock()
			k.busy = false
			if k.leading {
				r.advance(k, key)
			}
			k.mu.Unlock()
		}()
		return
	}
}

// handleSync applies a leader's replication message.
func (r *replicaSet) handleSync(_ node.Message, req syncReq) (any, error) {
	if _, err := r.s.getLog(); err != nil {
		return nil, err
	}
	out := syncOK{Type: "isr_sync_ok"}
	now := time.Now()
	for _, it := range req.Items {
		k := r.key(it.Key)
		k.mu.Lock()
		a, err := r.follow(k, it, now)
		k.mu.Unlock()
		if err != nil {
			return nil, r.s.fatal(err)
		}
		out.Answers = append(out.Answers, a)
	}
	return out, nil
}

// follow applies one key's replication (k.mu held).
func (r *replicaSet) follow(k *keyReplica, it syncItem, now time.Time) (syncAnswer, error) {
	a := syncAnswer{Key: it.Key, Epoch: k.epoch}
	if it.Epoch < k.epoch {
		a.Stale = true
		return a, nil
	}
	if it.Epoch > k.epoch || k.leading {
		k.epoch = it.Epoch
		if k.leading {
			k.leading = false
			k.notify()
		}
	}
	k.learn(r.n.ID(), keyMeta{Epoch: it.Epoch, Leader: it.Leader, ISR: it.ISR}, now)
	k.heard = now
	end := r.log().End(it.Key)
	if it.PrevOff >= 0 {
		e, ok := r.log().EpochAt(it.Key, it.PrevOff)
		if !ok || e != it.PrevEpoch {
			// Vouch only for what lies below the disputed entry.
			a.Match = min(end, it.PrevOff)
			return a, nil
		}
	}
	// Skip what this log already holds, from the same leaders.
	entries := it.Entries
	for len(entries) > 0 {
		e, ok := r.log().EpochAt(it.Key, entries[0].Offset)
		if !ok || e != entries[0].Epoch {
			break
		}
		entries = entries[1:]
	}
	if err := r.log().Replace(it.Key, entries); err != nil {
		return a, err
	}
	a.OK = true
	a.Match = it.PrevOff + 1 + int64(len(it.Entries))
	if hw := min(it.HW, a.Match); hw > k.hw {
		k.hw = hw
	}
	if a.Match >= it.HW {
		k.caughtUp = true
	}
	return a, nil
}

// poll serves from this node's copy, below the high watermark it knows.
func (r *replicaSet) poll(_ node.Message, req pollReq) (any, error) {
	if _, err := r.s.getLog(); err != nil {
		return nil, err
	}
	out := pollOK{Type: "poll_ok", Msgs: map[string][][2]int64{}}
	for key, from := range req.Offsets {
		k := r.key(key)
		k.mu.Lock()
		hw := k.hw
		k.mu.Unlock()
		entries, err := r.log().Entries(key, from, hw, r.log().opts.MaxPoll)
		if err != nil {
			return nil, r.s.fatal(err)
		}
		for _, e := range entries {
			out.Msgs[key] = append(out.Msgs[key], [2]int64{e.Offset, e.Msg})
		}
	}
	return out, nil
}

// commit raises each key's committed offset in lin-kv (never lowers it),
// as the queues track's kafka node does on lin-kv.
func (r *replicaSet) commit(_ node.Message, req commitReq) (any, error) {
	ctx, cancel := context.WithTimeout(r.n.Context(), r.s.opts.Deadline)
	defer cancel()
	if err := (queues.KVOffsets{KV: r.kv}).Commit(ctx, req.Offsets); err != nil {
		return nil, err
	}
	return map[string]string{"type": "commit_offsets_ok"}, nil
}

func (r *replicaSet) listCommitted(_ node.Message, req listReq) (any, error) {
	ctx, cancel := context.WithTimeout(r.n.Context(), r.s.opts.Deadline)
	defer cancel()
	offs, err := (queues.KVOffsets{KV: r.kv}).Committed(ctx, req.Keys)
	if err != nil {
		return nil, err
	}
	return listOK{Type: "list_committed_offsets_ok", Offsets: offs}, nil
}
