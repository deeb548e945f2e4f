package index

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"sync"
)

// Query is an analyzed query: Kind is term, and, or, or phrase.
type Query struct {
	Kind  string   `json:"kind"`
	Terms []string `json:"terms"`
}

// Stats are the corpus statistics BM25 scores with: live documents,
// their total tokens, and per term the live documents containing it.
type Stats struct {
	Docs   int64            `json:"docs"`
	Tokens int64            `json:"tokens"`
	DF     map[string]int64 `json:"df"`
}

// Add sums statistics (the scatter-gather's first phase).
func (s *Stats) Add(o Stats) {
	s.Docs += o.Docs
	s.Tokens += o.Tokens
	if s.DF == nil {
		s.DF = map[string]int64{}
	}
	for t, n := range o.DF {
		s.DF[t] += n
	}
}

// Hit is a ranked document.
type Hit struct {
	ID    int64   `json:"id"`
	Score float64 `json:"score"`
}

// BM25 parameters (Lucene's defaults).
const (
	K1 = 1.2
	B  = 0.75
)

// MaxSegments is how many segments a shard keeps before merging them.
const MaxSegments = 8

// segView is a segment as one reader sees it: which documents are deleted.
type segView struct {
	seg     *segment
	deleted []uint64 // bitset over local docs; nil: none deleted; never mutated once published
	live    int
}

func (v segView) isDeleted(local uint32) bool {
	return v.deleted != nil && v.deleted[local/64]&(1<<(local%64)) != 0
}

// Reader is an immutable point-in-time view of a shard: what one refresh
// made searchable. Gen numbers the refreshes.
type Reader struct {
	Gen    uint64
	segs   []segView
	docs   int64
	tokens int64
}

// Shard is one shard's index. Writes go to a buffer that Refresh makes
// searchable; searches read the current Reader (or a recent one, by
// generation, so that both phases of a distributed query read the same
// view). Generations start at 1.
type Shard struct {
	mu      sync.Mutex
	adds    []Doc
	dels    []int64
	known   map[int64]bool // ids indexed, to make a resent index a no-op
	deleted map[int64]bool // tombstones: an index that arrives after its delete stays deleted
	cur     *Reader
	recent  []*Reader
}

// NewShard returns an empty shard.
func NewShard() *Shard {
	return &Shard{known: map[int64]bool{}, deleted: map[int64]bool{}, cur: &Reader{Gen: 1}}
}

// Index buffers a document. Indexing an id twice, or after its delete,
// changes nothing (ids are never reused).
func (s *Shard) Index(d Doc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known[d.ID] || s.deleted[d.ID] {
		return
	}
	s.known[d.ID] = true
	s.adds = append(s.adds, d)
}

// Delete buffers a delete.
func (s *Shard) Delete(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted[id] {
		return
	}
	s.deleted[id] = true
	s.dels = append(s.dels, id)
}

// Refresh makes the buffered writes searchable as a new Reader and
// returns it; without buffered writes it returns the current one.
func (s *Shard) Refresh() *Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.adds) == 0 && len(s.dels) == 0 {
		return s.cur
	}
	old := s.cur
	r := &Reader{Gen: old.Gen + 1, docs: old.docs, tokens: old.tokens}
	r.segs = slices.Clone(old.segs)
	if len(s.dels) > 0 {
		gone := map[int64]bool{}
		for _, id := range s.dels {
			gone[id] = true
		}
		for i := range r.segs {
			v := &r.segs[i]
			copied := false
			for local, id := range v.seg.ids {
				if !gone[id] || v.isDeleted(uint32(local)) {
					continue
				}
				if !copied { // copy on write: older readers keep their bitsets
					nb := make([]uint64, (len(v.seg.ids)+63)/64)
					copy(nb, v.deleted)
					v.deleted, copied = nb, true
				}
				v.deleted[local/64] |= 1 << (local % 64)
				v.live--
				r.docs--
				r.tokens -= int64(v.seg.lens[local])
			}
		}
		s.adds = slices.DeleteFunc(s.adds, func(d Doc) bool { return gone[d.ID] })
	}
	if len(s.adds) > 0 {
		seg := buildSegment(s.adds)
		r.segs = append(r.segs, segView{seg: seg, live: len(seg.ids)})
		r.docs += int64(len(seg.ids))
		r.tokens += seg.tokens
	}
	s.adds, s.dels = nil, nil
	r.segs = slices.DeleteFunc(r.segs, func(v segView) bool { return v.live == 0 })
	if len(r.segs) > MaxSegments {
		r.segs = []segView{merge(r.segs)}
	}
	s.cur = r
	s.recent = append(s.recent, r)
	if len(s.recent) > 16 {
		s.recent = s.recent[1:]
	}
	return r
}

// merge rewrites segments into one, dropping deleted documents; each
// document's tokens are read back from its segment's postings.
func merge(vs []segView) segView {
	var docs []Doc
	for _, v := range vs {
		toks := v.seg.tokensByDoc()
		for local, id := range v.seg.ids {
			if !v.isDeleted(uint32(local)) {
				docs = append(docs, Doc{ID: id, Text: v.seg.texts[local], Tokens: toks[local]})
			}
		}
	}
	seg := buildSegment(docs)
	return segView{seg: seg, live: len(seg.ids)}
}

// tokensByDoc rebuilds each document's token sequence from the postings.
func (s *segment) tokensByDoc() [][]string {
	out := make([][]string, len(s.ids))
	for local := range out {
		out[local] = make([]string, s.lens[local])
	}
	var pos []uint32
	for t := range s.terms {
		c := s.cursor(t)
		for c.next() {
			pos = c.positions(pos)
			for _, p := range pos {
				out[c.doc][p] = t
			}
		}
	}
	return out
}

// Reader returns the current reader with gen 0, else generation gen if
// it is still kept (nil if not).
func (s *Shard) Reader(gen uint64) *Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == 0 || gen == s.cur.Gen {
		return s.cur
	}
	for _, r := range s.recent {
		if r.Gen == gen {
			return r
		}
	}
	return nil
}

// Bytes is the size of the reader's segments (see segment.bytes).
func (r *Reader) Bytes() int64 {
	var n int64
	for _, v := range r.segs {
		n += v.seg.bytes() + int64(len(v.deleted))*8
	}
	return n
}

// Docs is the number of live documents.
func (r *Reader) Docs() int64 { return r.docs }

// Segments is the number of segments.
func (r *Reader) Segments() int { return len(r.segs) }

// Stats returns the reader's statistics for terms.
func (r *Reader) Stats(terms []string) Stats {
	st := Stats{Docs: r.docs, Tokens: r.tokens, DF: map[string]int64{}}
	for _, t := range terms {
		if _, ok := st.DF[t]; ok {
			continue
		}
		var df int64
		for _, v := range r.segs {
			ti, ok := v.seg.terms[t]
			if !ok {
				continue
			}
			if v.deleted == nil {
				df += int64(ti.df)
				continue
			}
			c := v.seg.cursor(t)
			for c.next() {
				if !v.isDeleted(c.doc) {
					df++
				}
			}
		}
		st.DF[t] = df
	}
	return st
}

// Score is BM25: the sum over the query's distinct terms t of
// idf(t)·tf·(k1+1)/(tf+k1·(1-b+b·len/avglen)), idf(t) = ln(1+(N-df+0.5)/(df+0.5)).
func Score(tfs []uint32, idfs []float64, length uint32, avg float64) float64 {
	norm := K1 * (1 - B + B*float64(length)/avg)
	var s float64
	for i, tf := range tfs {
		if tf == 0 {
			continue
		}
		f := float64(tf)
		s += idfs[i] * f * (K1 + 1) / (f + norm)
	}
	return s
}

// IDF is BM25's inverse document frequency.
func IDF(docs, df int64) float64 {
	return math.Log(1 + (float64(docs)-float64(df)+0.5)/(float64(df)+0.5))
}

// Search returns the reader's best k matches of q scored with st, best
// first (ties by ascending id).
func (r *Reader) Search(q Query, st Stats, k int) []Hit {
	terms := slices.Clone(q.Terms)
	slices.Sort(terms)
	terms = slices.Compact(terms)
	if len(terms) == 0 || k <= 0 || st.Docs == 0 {
		return nil
	}
	idfs := make([]float64, len(terms))
	for i, t := range terms {
		idfs[i] = IDF(st.Docs, st.DF[t])
	}
	avg := float64(st.Tokens) / float64(st.Docs)
	top := &topK{k: k}
	tfs := make([]uint32, len(terms))
	var pa, pb []uint32
	for _, v := range r.segs {
		curs := make([]*cursor, len(terms))
		for i, t := range terms {
			curs[i] = v.seg.cursor(t)
		}
		// the phrase's terms in query order (repeats included)
		var phrase []*cursor
		if q.Kind == "phrase" {
			for _, t := range q.Terms {
				phrase = append(phrase, curs[slices.Index(terms, t)])
			}
		}
		visit := func(doc uint32) {
			if v.isDeleted(doc) {
				return
			}
			for i, c := range curs {
				tfs[i] = 0
				if c != nil && !c.done && c.primed && c.doc == doc {
					tfs[i] = c.tf
				}
			}
			if phrase != nil && !phraseAt(phrase, &pa, &pb) {
				return
			}
			top.offer(Hit{ID: v.seg.ids[doc], Score: Score(tfs, idfs, v.seg.lens[doc], avg)})
		}
		if q.Kind == "or" {
			for _, c := range curs {
				if c != nil {
					c.next()
				}
			}
			for {
				min, any := uint32(math.MaxUint32), false
				for _, c := range curs {
					if c != nil && !c.done && c.doc <= min {
						min, any = c.doc, true
					}
				}
				if !any {
					break
				}
				visit(min)
				for _, c := range curs {
					if c != nil && !c.done && c.doc == min {
						c.next()
					}
				}
			}
			continue
		}
		// term, and, phrase: every term must be there; leapfrog from the
		// rarest list.
		if slices.Contains(curs, nil) {
			continue
		}
		order := slices.Clone(curs)
		slices.SortFunc(order, func(a, b *cursor) int { return cmp.Compare(len(a.buf), len(b.buf)) })
		lead := order[0]
		for lead.next() {
			target, all := lead.doc, true
			for _, c := range order[1:] {
				if !c.advance(target) {
					all = false
					break
				}
				if c.doc != target {
					all = false
					break
				}
			}
			if all {
				visit(target)
			} else if slices.ContainsFunc(order[1:], func(c *cursor) bool { return c.done }) {
				break
			}
		}
	}
	return top.sorted()
}

// phraseAt reports whether the cursors' terms occur consecutively in the
// document they are all on.
func phraseAt(cs []*cursor, pa, pb *[]uint32) bool {
	*pa = cs[0].positions(*pa)
	starts := slices.Clone(*pa)
	for i, c := range cs[1:] {
		*pb = c.positions(*pb)
		starts = slices.DeleteFunc(starts, func(p uint32) bool {
			_, ok := slices.BinarySearch(*pb, p+uint32(i)+1)
			return !ok
		})
		if len(starts) == 0 {
			return false
		}
	}
	return true
}

// topK keeps the k best hits in a min-heap (worst on top).
type topK struct {
	k int
	h []Hit
}

func worse(a, b Hit) bool { // a ranks below b
	if a.Score != b.Score {
		return a.Score < b.Score
	}
	return a.ID > b.ID
}

func (t *topK) Len() int           { return len(t.h) }
func (t *topK) Less(i, j int) bool { return worse(t.h[i], t.h[j]) }
func (t *topK) Swap(i, j int)      { t.h[i], t.h[j] = t.h[j], t.h[i] }
func (t *topK) Push(x any)         { t.h = append(t.h, x.(Hit)) }
func (t *topK) Pop() any           { x := t.h[len(t.h)-1]; t.h = t.h[:len(t.h)-1]; return x }

func (t *topK) offer(h Hit) {
	if len(t.h) < t.k {
		heap.Push(t, h)
	} else if worse(t.h[0], h) {
		t.h[0] = h
		heap.Fix(t, 0)
	}
}

func (t *topK) sorted() []Hit {
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(a, b Hit) int {
		if worse(a, b) {
			return 1
		}
		if worse(b, a) {
			return -1
		}
		return 0
	})
	return out
}

// Merge combines per-shard top-k lists into the global top k (the
// gather of scatter-gather).
func Merge(k int, lists ...[]Hit) []Hit {
	t := &topK{k: k}
	for _, l := range lists {
		for _, h := range l {
			t.offer(h)
		}
	}
	return t.sorted()
}
