package checker

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// searchHistory: doc 1 acknowledged long before the query, doc 2 still
// in flight while the query runs; answer is the query's reply.
func searchHistory(answer SearchQuery) *builder {
	b := &builder{}
	b.inv(0, "n0", "index", SearchDoc{ID: 1, Text: "The fox, the dog."}, 0).ok(0, "n0", "index", SearchDoc{ID: 1, Text: "The fox, the dog."}, 1)
	b.inv(1, "n0", "index", SearchDoc{ID: 2, Text: "a fox"}, 500)
	q := SearchQuery{Kind: "term", Terms: []string{"fox"}, K: 10}
	b.inv(2, "n0", "search", q, 600).ok(2, "n0", "search", answer, 601)
	b.ok(1, "n0", "index", SearchDoc{ID: 2, Text: "a fox"}, 700)
	return b
}

// refAnswer is the reference answer over the given documents.
func refAnswer(docs ...*searchDocInfo) SearchQuery {
	q := SearchQuery{Kind: "term", Terms: []string{"fox"}, K: 10}
	st := corpusStats{df: map[string]int64{}}
	for _, d := range docs {
		st.docs++
		st.tokens += int64(len(d.tokens))
		st.df["fox"]++
	}
	for _, d := range docs {
		q.Hits = append(q.Hits, SearchHit{ID: d.id, Score: searchScore(d, []string{"fox"}, st)})
	}
	if len(q.Hits) == 2 && q.Hits[1].Score > q.Hits[0].Score {
		q.Hits[0], q.Hits[1] = q.Hits[1], q.Hits[0]
	}
	q.Docs, q.Tokens = st.docs, st.tokens
	return q
}

func info(id int64, text string) *searchDocInfo {
	d := &searchDocInfo{id: id, tokens: SearchTokens(text), tf: map[string]int{}}
	for _, t := range d.tokens {
		d.tf[t]++
	}
	return d
}

func TestSearchUncertainDocumentEitherWay(t *testing.T) {
	d1, d2 := info(1, "The fox, the dog."), info(2, "a fox")
	opts := SearchOptions{RefreshBound: 100 * time.Millisecond}
	for name, ans := range map[string]SearchQuery{"without": refAnswer(d1), "with": refAnswer(d1, d2)} {
		if r := Search(searchHistory(ans).h, opts); r.Valid != Valid {
			t.Errorf("%s the in-flight document: %s", name, r.Summary)
		}
	}
}

func TestSearchRejectsWrongAnswers(t *testing.T) {
	d1, d2 := info(1, "The fox, the dog."), info(2, "a fox")
	opts := SearchOptions{RefreshBound: 100 * time.Millisecond}
	ghost := refAnswer(d1)
	ghost.Hits = append(ghost.Hits, SearchHit{ID: 9, Score: 0.1})
	badScore := refAnswer(d1, d2)
	badScore.Hits[0].Score *= 1.01
	stats := refAnswer(d1) // scores over doc 1 alone, statistics of both
	stats.Docs, stats.Tokens = 2, 6
	dup := refAnswer(d1, d2)
	dup.Hits = append(dup.Hits, dup.Hits[0])
	for what, ans := range map[string]SearchQuery{
		"duplicate hit":                      dup,
		"hit not in the corpus":              ghost,
		"ranking differs from the reference": badScore,
	} {
		r := Search(searchHistory(ans).h, opts)
		if r.Valid != Invalid || r.Violations[0].What != what {
			t.Errorf("want %q, got %s", what, r.Summary)
		}
	}
	if r := Search(searchHistory(stats).h, opts); r.Valid != Invalid {
		t.Errorf("statistics of two documents with the ranking of one: %s", r.Summary)
	}
	// Past the refresh bound the document must be there.
	late := searchHistory(refAnswer(d1))
	late.inv(3, "n0", "search", SearchQuery{Kind: "term", Terms: []string{"fox"}, K: 10}, 900).ok(3, "n0", "search", refAnswer(d1), 901)
	if r := Search(late.h, opts); r.Valid != Invalid {
		t.Errorf("document acknowledged 200 ms before the query, bound 100 ms, missing: %s", r.Summary)
	}
}

// A kill excuses partial answers until its node's restart and a little
// after, not for the rest of the run: a partial answer 8 s after the
// restart, with every node up, is rejected.
func TestSearchPartialLongAfterARestartRejected(t *testing.T) {
	d1 := info(1, "The fox, the dog.")
	b := &builder{}
	b.add(history.Info, -1, "", "kill", []string{"n1"}, 0)
	b.add(history.Info, -1, "", "restart", []string{"n1"}, 100)
	b.inv(0, "n0", "index", SearchDoc{ID: 1, Text: "The fox, the dog."}, 200).ok(0, "n0", "index", SearchDoc{ID: 1, Text: "The fox, the dog."}, 201)
	ans := refAnswer(d1)
	ans.Partial = true
	q := SearchQuery{Kind: "term", Terms: []string{"fox"}, K: 10}
	b.inv(2, "n0", "search", q, 8000).ok(2, "n0", "search", ans, 8001)
	r := Search(b.h, SearchOptions{RefreshBound: 100 * time.Millisecond})
	if r.Valid != Invalid || r.Violations[0].What != "partial answer without a fault" {
		t.Fatalf("want a partial answer without a fault, got %s", r.Summary)
	}
}
