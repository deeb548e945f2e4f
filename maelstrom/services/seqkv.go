package services

import (
	"encoding/json"
	"math/rand/v2"
	"sort"
	"sync"
)

// SeqStates is how many of the newest states seq-kv keeps and may serve.
const SeqStates = 32

// SeqKV is seq-kv: sequentially consistent but not linearizable.
//
// It keeps the last SeqStates states of the map and, for each requesting
// node, the newest state that node has observed. A request is evaluated
// against a random state between that one and the newest. If it does not
// change that state (a read, a failing cas, a write of the value already
// there) it is answered from there and the node's position moves to that
// state. If it would change the state it is
// re-run against the newest state and its result appended as a new state,
// and the node moves to the newest. So reads can be stale, a cas can fail
// against an old value, each node observes a monotonic sequence of states,
// a node sees its own writes, and repeated reads eventually catch up.
// Naive read-modify-write loses updates here; compare-and-set does not.
type SeqKV struct {
	mu     sync.Mutex
	rng    *rand.Rand
	newest uint64              // version of the newest state; state 0 is empty
	keys   map[string][]seqVal // per key, values by ascending version
	seen   map[string]uint64   // per src, newest version observed
}

// seqVal is a key's value from version ver until the next entry.
type seqVal struct {
	ver   uint64
	value string
}

// NewSeqKV returns an empty seq-kv whose random choices come from rng.
func NewSeqKV(rng *rand.Rand) *SeqKV {
	return &SeqKV{rng: rng, keys: make(map[string][]seqVal), seen: make(map[string]uint64)}
}

// oldest is the oldest version still retained.
func (s *SeqKV) oldest() uint64 {
	if s.newest < SeqStates-1 {
		return 0
	}
	return s.newest - (SeqStates - 1)
}

// getAt reads key in the state at version ver. Storing each key's
// history instead of whole-map snapshots keeps a write O(1) however many
// keys the store holds.
func (s *SeqKV) getAt(ver uint64) func(string) (string, bool) {
	return func(key string) (string, bool) {
		h := s.keys[key]
		i := sort.Search(len(h), func(i int) bool { return h[i].ver > ver })
		if i == 0 {
			return "", false
		}
		return h[i-1].value, true
	}
}

// Handle implements Service.
func (s *SeqKV) Handle(src string, body json.RawMessage) (json.RawMessage, bool) {
	r, ok := parseKV(body)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	from := max(s.seen[src], s.oldest())
	ver := from + s.rng.Uint64N(s.newest-from+1)
	get := s.getAt(ver)
	reply, write, ok := apply(r, get, true)
	if !ok {
		return nil, false
	}
	if cur, found := get(r.key); write == nil || (found && cur == *write) {
		// Nothing changes in that state — a read, a failed cas, or a
		// write or cas of the value already there — so answering from it
		// keeps the timeline intact. This is why two identity cas
		// requests can both succeed (Maelstrom issue #39).
		s.seen[src] = ver
		return reply, true
	}
	reply, write, _ = apply(r, s.getAt(s.newest), true)
	if write != nil {
		s.newest++
		s.append(r.key, *write)
	}
	s.seen[src] = s.newest
	return reply, true
}

// append records key's new value at the newest version and forgets the
// values no retained state can see any more.
func (s *SeqKV) append(key, value string) {
	h := append(s.keys[key], seqVal{ver: s.newest, value: value})
	oldest := s.oldest()
	drop := 0
	for drop+1 < len(h) && h[drop+1].ver <= oldest {
		drop++
	}
	if drop > 0 {
		h = append(h[:0:0], h[drop:]...)
	}
	s.keys[key] = h
}
