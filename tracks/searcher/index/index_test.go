package index

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteForce ranks the live documents by scanning them all.
func bruteForce(live map[int64][]string, q Query, st Stats, k int) []Hit {
	terms := slices.Clone(q.Terms)
	slices.Sort(terms)
	terms = slices.Compact(terms)
	var out []Hit
	for id, toks := range live {
		tf := map[string]int{}
		for _, t := range toks {
			tf[t]++
		}
		ok := q.Kind != "or"
		for _, t := range terms {
			if q.Kind == "or" {
				ok = ok || tf[t] > 0
			} else {
				ok = ok && tf[t] > 0
			}
		}
		if ok && q.Kind == "phrase" {
			ok = false
			for i := 0; i+len(q.Terms) <= len(toks); i++ {
				ok = ok || slices.Equal(toks[i:i+len(q.Terms)], q.Terms)
			}
		}
		if !ok {
			continue
		}
		tfs := make([]uint32, len(terms))
		idfs := make([]float64, len(terms))
		for i, t := range terms {
			tfs[i] = uint32(tf[t])
			idfs[i] = IDF(st.Docs, st.DF[t])
		}
		out = append(out, Hit{id, Score(tfs, idfs, uint32(len(toks)), float64(st.Tokens)/float64(st.Docs))})
	}
	slices.SortFunc(out, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out[:min(k, len(out))]
}

// TestShardMatchesBruteForce indexes, deletes, refreshes (through many
// merges) and checks every kind of query, statistics included, against a
// scan of the live documents.
func TestShardMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	s := NewShard()
	live := map[int64][]string{}
	var ids []int64
	for round := range 60 {
		for range r.IntN(8) {
			id := int64(len(ids) + 1)
			toks := make([]string, 1+r.IntN(12))
			for i := range toks {
				toks[i] = words[min(r.IntN(len(words)), r.IntN(len(words)))]
			}
			s.Index(Doc{ID: id, Tokens: toks})
			s.Index(Doc{ID: id, Tokens: []string{"resent", "ignored"}})
			live[id] = toks
			ids = append(ids, id)
		}
		for range r.IntN(3) {
			if len(ids) > 0 {
				id := ids[r.IntN(len(ids))]
				s.Delete(id)
				delete(live, id)
			}
		}
		rd := s.Refresh()
		if rd.Segments() > MaxSegments {
			t.Fatalf("round %d: %d segments, more than %d", round, rd.Segments(), MaxSegments)
		}
		for _, kind := range []string{"term", "and", "or", "phrase"} {
			n := 1
			if kind != "term" {
				n = 2 + r.IntN(2)
			}
			q := Query{Kind: kind}
			for range n {
				q.Terms = append(q.Terms, words[r.IntN(len(words))])
			}
			st := rd.Stats(q.Terms)
			var wantDocs, wantTokens int64
			for _, toks := range live {
				wantDocs++
				wantTokens += int64(len(toks))
			}
			if st.Docs != wantDocs || st.Tokens != wantTokens {
				t.Fatalf("round %d: stats %d docs %d tokens, want %d and %d", round, st.Docs, st.Tokens, wantDocs, wantTokens)
			}
			for _, term := range q.Terms {
				var df int64
				for _, toks := range live {
					if slices.Contains(toks, term) {
						df++
					}
				}
				if st.DF[term] != df {
					t.Fatalf("round %d: df(%s) = %d, want %d", round, term, st.DF[term], df)
				}
			}
			if st.Docs == 0 {
				continue
			}
			got, want := rd.Search(q, st, 5), bruteForce(live, q, st, 5)
			if len(got) != len(want) {
				t.Fatalf("round %d %v: %v, want %v", round, q, got, want)
			}
			for i := range got {
				if got[i].ID != want[i].ID || math.Abs(got[i].Score-want[i].Score) > 1e-9 {
					t.Fatalf("round %d %v: %v, want %v", round, q, got, want)
				}
			}
		}
	}
}

func TestReadersKeepTheirGeneration(t *testing.T) {
	s := NewShard()
	s.Index(Doc{ID: 1, Tokens: []string{"x"}})
	old := s.Refresh()
	s.Delete(1)
	s.Index(Doc{ID: 2, Tokens: []string{"x", "y"}})
	cur := s.Refresh()
	if s.Reader(old.Gen) != old || s.Reader(0) != cur || old.Docs() != 1 || cur.Docs() != 1 {
		t.Fatalf("generations: old %d docs, current %d docs", old.Docs(), cur.Docs())
	}
	hits := old.Search(Query{Kind: "term", Terms: []string{"x"}}, old.Stats([]string{"x"}), 10)
	if len(hits) != 1 || hits[0].ID != 1 {
		t.Fatalf("the old reader lost its view: %v", hits)
	}
	s.Index(Doc{ID: 1, Tokens: []string{"x"}}) // resent after its delete
	if s.Refresh().Docs() != 1 {
		t.Fatal("an index that arrives after its delete came back")
	}
}

func TestPostingsAreCompact(t *testing.T) {
	var docs []Doc
	for i := range 1000 {
		docs = append(docs, Doc{ID: int64(i), Tokens: []string{"common", fmt.Sprint("w", i%10)}})
	}
	seg := buildSegment(docs)
	ti := seg.terms["common"]
	// 1000 postings: delta 1, tf 1, position 0: one byte each.
	if n := ti.end - ti.off; n != 3000 {
		t.Fatalf("postings of a term in every document take %d bytes, want 3000", n)
	}
}
