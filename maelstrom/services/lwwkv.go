package services

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
)

// LWWReplicas is the number of replicas lww-kv keeps.
const LWWReplicas = 2

// LWWMergeChance is the probability that a request first merges one
// random replica into another. Low enough that reads are visibly stale
// for a while, high enough that replicas converge within a few dozen
// requests.
const LWWMergeChance = 0.25

// LWWKV is lww-kv: a few independent replicas of a map whose entries are
// stamped with a service-wide logical timestamp. Each request is handled
// by one replica picked at random, so a read may miss a recent write that
// landed on another replica, and a cas may fail against a stale value.
// Before handling a request the service sometimes merges one random
// replica into another, keeping the entry with the larger timestamp
// (last writer wins), so replicas converge once writes stop.
//
// Maelstrom's own implementation computes that merge and then discards
// it, so its replicas never converge. We host the documented intent —
// eventually consistent replicas — not that defect: a learner who retries
// reads sees the value arrive. cas has no create_if_not_exists here.
type LWWKV struct {
	mu       sync.Mutex
	rng      *rand.Rand
	clock    uint64
	replicas [LWWReplicas]map[string]lwwVal
}

type lwwVal struct {
	ts    uint64
	value string
}

// NewLWWKV returns an empty lww-kv whose random choices come from rng.
func NewLWWKV(rng *rand.Rand) *LWWKV {
	s := &LWWKV{rng: rng}
	for i := range s.replicas {
		s.replicas[i] = make(map[string]lwwVal)
	}
	return s
}

// Handle implements Service.
func (s *LWWKV) Handle(_ string, body json.RawMessage) (json.RawMessage, bool) {
	r, ok := parseKV(body)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rng.Float64() < LWWMergeChance {
		from := s.rng.IntN(LWWReplicas)
		to := (from + 1 + s.rng.IntN(LWWReplicas-1)) % LWWReplicas
		s.merge(to, from)
	}
	rep := s.replicas[s.rng.IntN(LWWReplicas)]
	reply, write, ok := apply(r, func(k string) (string, bool) { v, ok := rep[k]; return v.value, ok }, false)
	if write != nil {
		s.clock++
		rep[r.key] = lwwVal{ts: s.clock, value: *write}
	}
	return reply, ok
}

// merge folds replica from into replica to, keeping the newer entry.
func (s *LWWKV) merge(to, from int) {
	dst := s.replicas[to]
	for k, v := range s.replicas[from] {
		if cur, ok := dst[k]; !ok || cur.ts < v.ts {
			dst[k] = v
		}
	}
}
