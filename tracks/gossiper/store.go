package gossiper

import "slices"

// Entry is one broadcast value as it travels between nodes: the node that
// first received it from a client (its origin) numbers its own values 1,
// 2, 3, ..., so (Origin, Seq) names an entry and a version vector of
// per-origin counts summarises a whole store.
type Entry struct {
	Origin string `json:"o"`
	Seq    int    `json:"s"`
	Value  int64  `json:"v"`
}

// Vector maps an origin to how many of its entries, counting from 1
// without a gap, a store holds. It is the digest anti-entropy exchanges.
type Vector map[string]int

// store holds every entry a node knows. It is not safe for concurrent use;
// the node's lock guards it.
type store struct {
	values []int64         // distinct values, in arrival order (what read returns)
	known  map[int64]bool  // the same values, for de-duplication
	logs   map[string]*log // per origin
	mine   int             // the last Seq this node gave one of its own values
}

// log is one origin's entries. prefix counts the entries 1..prefix, all
// present; entries past a gap wait in bySeq until the gap fills.
type log struct {
	bySeq  map[int]int64
	prefix int
}

func newStore() *store {
	return &store{known: map[int64]bool{}, logs: map[string]*log{}}
}

// local records a value a client gave this node. It reports false when
// the value is already known, so a repeated broadcast spreads nothing.
func (s *store) local(self string, v int64) (Entry, bool) {
	if s.known[v] {
		return Entry{}, false
	}
	s.mine++
	e := Entry{Origin: self, Seq: s.mine, Value: v}
	s.add(e)
	return e, true
}

// add records an entry and reports whether it was new.
func (s *store) add(e Entry) bool {
	l := s.logs[e.Origin]
	if l == nil {
		l = &log{bySeq: map[int]int64{}}
		s.logs[e.Origin] = l
	}
	if _, ok := l.bySeq[e.Seq]; ok || e.Seq < 1 {
		return false
	}
	l.bySeq[e.Seq] = e.Value
	for {
		if _, ok := l.bySeq[l.prefix+1]; !ok {
			break
		}
		l.prefix++
	}
	if !s.known[e.Value] {
		s.known[e.Value] = true
		s.values = append(s.values, e.Value)
	}
	return true
}

// addAll records entries and returns those that were new.
func (s *store) addAll(es []Entry) []Entry {
	var fresh []Entry
	for _, e := range es {
		if s.add(e) {
			fresh = append(fresh, e)
		}
	}
	return fresh
}

// read returns the known values; the slice is the caller's.
func (s *store) read() []int64 { return append(make([]int64, 0, len(s.values)), s.values...) }

// vector returns the store's digest.
func (s *store) vector() Vector {
	v := make(Vector, len(s.logs))
	for o, l := range s.logs {
		if l.prefix > 0 {
			v[o] = l.prefix
		}
	}
	return v
}

// missing returns the entries a peer whose digest is theirs lacks, among
// those this store counted in upTo (an older digest of its own). Limiting
// the answer to entries held for a while leaves the ones still travelling
// to the ordinary push, so anti-entropy resends only what was lost.
func (s *store) missing(theirs, upTo Vector) []Entry {
	var out []Entry
	for o, top := range upTo {
		l := s.logs[o]
		if l == nil {
			continue
		}
		for seq := theirs[o] + 1; seq <= top; seq++ {
			if v, ok := l.bySeq[seq]; ok {
				out = append(out, Entry{Origin: o, Seq: seq, Value: v})
			}
		}
	}
	// Map order is random; a stable order keeps runs reproducible.
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Origin != b.Origin {
			if a.Origin < b.Origin {
				return -1
			}
			return 1
		}
		return a.Seq - b.Seq
	})
	return out
}

// behind reports whether a peer's digest counts an entry this store lacks.
func (s *store) behind(theirs Vector) bool {
	for o, n := range theirs {
		l := s.logs[o]
		if l == nil || l.prefix < n {
			return true
		}
	}
	return false
}
