package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// History values of the search workload (the searcher track): documents
// are indexed and deleted by integer id, and queries are ranked with BM25.
// The checker computes every ranking itself, from the history alone, with
// the reference analysis and scoring below; it shares no code with any
// node.

// SearchDoc is an index (ID and Text) or a delete (ID).
type SearchDoc struct {
	ID   int64  `json:"id"`
	Text string `json:"text,omitempty"`
}

// SearchHit is one ranked document of an answer.
type SearchHit struct {
	ID    int64   `json:"id"`
	Score float64 `json:"score"`
}

// SearchQuery is a query and, on ok, its answer: the hits best first,
// the corpus statistics the node scored with (Docs live documents, Tokens
// their total length) and whether some shard could not be reached.
type SearchQuery struct {
	Kind    string      `json:"kind"` // term, and, or, phrase
	Terms   []string    `json:"terms"`
	K       int         `json:"k"`
	Hits    []SearchHit `json:"hits,omitempty"`
	Docs    int64       `json:"docs,omitempty"`
	Tokens  int64       `json:"tokens,omitempty"`
	Partial bool        `json:"partial,omitempty"`
}

// BM25 parameters of the reference ranking (Lucene's defaults).
const (
	BM25K1 = 1.2
	BM25B  = 0.75
)

// SearchOptions are what the stage promises.
type SearchOptions struct {
	// RefreshBound: a document acknowledged this long before a query
	// began must be in its answer (and a delete must be out of it).
	RefreshBound time.Duration
	// MaxUncertain bounds the documents whose visibility a query may leave
	// open (in flight, or acknowledged within the bound); the checker tries
	// every subset of them. Past it the query is counted as unjudged.
	MaxUncertain int
}

// SearchDetails are the search checker's figures.
type SearchDetails struct {
	Indexed      int       `json:"indexed"`
	Deleted      int       `json:"deleted"`
	Searches     int       `json:"searches"`
	Judged       int       `json:"judged"`
	Unjudged     int       `json:"unjudged"`
	Partial      int       `json:"partial"`
	MaxUncertain int       `json:"max_uncertain"`
	Latency      Quantiles `json:"query_latency"`
}

// SearchTokens is the reference analysis: a token is a maximal run of
// letters and digits, lower-cased.
func SearchTokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// searchDocInfo is a document as the reference sees it.
type searchDocInfo struct {
	id     int64
	tokens []string
	tf     map[string]int
	// life of the document: index invoked/completed, delete invoked/completed
	idxInv, idxOK time.Duration // idxOK < 0: never acknowledged
	idxFailed     bool
	delInv, delOK time.Duration // delInv < 0: never deleted; delOK < 0: not acknowledged
}

func (d *searchDocInfo) matches(q *SearchQuery) bool {
	switch q.Kind {
	case "term", "and":
		for _, t := range q.Terms {
			if d.tf[t] == 0 {
				return false
			}
		}
		return len(q.Terms) > 0
	case "or":
		for _, t := range q.Terms {
			if d.tf[t] > 0 {
				return true
			}
		}
		return false
	case "phrase":
		n := len(q.Terms)
		if n == 0 {
			return false
		}
	outer:
		for i := 0; i+n <= len(d.tokens); i++ {
			for j, t := range q.Terms {
				if d.tokens[i+j] != t {
					continue outer
				}
			}
			return true
		}
	}
	return false
}

// corpusStats are the global statistics BM25 needs.
type corpusStats struct {
	docs, tokens int64
	df           map[string]int64
}

// searchScore is the reference BM25 score of d: the sum over the query's
// distinct terms of idf·tf·(k1+1)/(tf+k1·(1-b+b·len/avglen)), with
// idf = ln(1 + (N-df+0.5)/(df+0.5)).
func searchScore(d *searchDocInfo, terms []string, st corpusStats) float64 {
	avg := float64(st.tokens) / float64(st.docs)
	norm := BM25K1 * (1 - BM25B + BM25B*float64(len(d.tokens))/avg)
	var s float64
	for _, t := range terms {
		tf := float64(d.tf[t])
		if tf == 0 {
			continue
		}
		df := float64(st.df[t])
		idf := math.Log(1 + (float64(st.docs)-df+0.5)/(df+0.5))
		s += idf * tf * (BM25K1 + 1) / (tf + norm)
	}
	return s
}

func distinct(terms []string) []string {
	out := slices.Clone(terms)
	slices.Sort(out)
	return slices.Compact(out)
}

// Search judges the search workload's history: every complete answer
// must equal the reference BM25 ranking over the documents acknowledged
// before the query began minus the refresh bound (documents in flight or
// acknowledged later may count either way, consistently), with the
// statistics the node reports; a partial answer may leave documents out
// but only while a fault is under way, and what it returns must exist and
// match.
func Search(h history.History, opts SearchOptions) Result {
	if opts.MaxUncertain <= 0 {
		opts.MaxUncertain = 12
	}
	docs := map[int64]*searchDocInfo{}
	var order []*searchDocInfo
	type query struct {
		inv, done history.Op
		q         *SearchQuery
	}
	var queries []query
	var det SearchDetails
	var lat []time.Duration
	pending := map[int]history.Op{}
	// A kill excuses partial answers until its restart, a pause until its
	// resume, a start-* step until its stop-*.
	faults := FaultWindows(h, math.MaxInt64)
	for _, op := range h {
		if op.Process < 0 {
			continue
		}
		if op.Type == history.Invoke {
			pending[op.Process] = op
			if op.F == "index" {
				if d, ok := op.Value.(SearchDoc); ok {
					if docs[d.ID] == nil {
						toks := SearchTokens(d.Text)
						tf := map[string]int{}
						for _, t := range toks {
							tf[t]++
						}
						info := &searchDocInfo{id: d.ID, tokens: toks, tf: tf, idxInv: op.Time, idxOK: -1, delInv: -1, delOK: -1}
						docs[d.ID] = info
						order = append(order, info)
					}
				}
			}
			if op.F == "delete" {
				if d, ok := op.Value.(SearchDoc); ok && docs[d.ID] != nil && docs[d.ID].delInv < 0 {
					docs[d.ID].delInv = op.Time
				}
			}
			continue
		}
		inv, ok := pending[op.Process]
		if !ok {
			continue
		}
		delete(pending, op.Process)
		switch op.F {
		case "index":
			d, _ := inv.Value.(SearchDoc)
			if info := docs[d.ID]; info != nil {
				switch op.Type {
				case history.OK:
					info.idxOK = op.Time
					det.Indexed++
				case history.Fail:
					info.idxFailed = true
				}
			}
		case "delete":
			d, _ := inv.Value.(SearchDoc)
			if info := docs[d.ID]; info != nil && op.Type == history.OK {
				info.delOK = op.Time
				det.Deleted++
			}
		case "search":
			if op.Type == history.OK {
				if q, ok := op.Value.(SearchQuery); ok {
					queries = append(queries, query{inv, op, &q})
					lat = append(lat, op.Time-inv.Time)
				}
			}
		}
	}
	det.Searches = len(queries)
	det.Latency = quantilesOf(lat)
	res := Result{Checker: "search", Valid: Valid}
	fail := func(what string, qu query, value any, detail string) {
		if len(res.Violations) < 8 {
			o := qu.done
			res.Violations = append(res.Violations, Violation{What: what, Node: o.Node, Op: &o, Value: value, Time: o.Time, Detail: detail})
		}
		res.Valid = Invalid
	}
	for _, qu := range queries {
		q := qu.q
		qs, qe := qu.inv.Time, qu.done.Time
		cut := qs - opts.RefreshBound
		// Split the corpus: surely visible, surely not, and uncertain.
		var sure, unsure []*searchDocInfo
		possible := map[int64]bool{}
		for _, d := range order {
			switch {
			case d.idxInv >= qe || d.idxFailed: // not yet sent, or definitely never applied
			case d.delOK >= 0 && d.delOK <= cut: // deleted and refreshed
			case d.idxOK >= 0 && d.idxOK <= cut && (d.delInv < 0 || d.delInv >= qe):
				sure = append(sure, d)
				possible[d.id] = true
			default:
				unsure = append(unsure, d)
				possible[d.id] = true
			}
		}
		det.MaxUncertain = max(det.MaxUncertain, len(unsure))
		desc := fmt.Sprintf("%s %q (k=%d)", q.Kind, q.Terms, q.K)
		// What every answer must respect: hits exist, match, are ordered.
		bad := false
		seen := map[int64]bool{}
		for i, hit := range q.Hits {
			d := docs[hit.ID]
			switch {
			case seen[hit.ID]:
				fail("duplicate hit", qu, hit.ID, fmt.Sprintf("query %s returned document %d twice", desc, hit.ID))
				bad = true
			case d == nil || !possible[hit.ID]:
				fail("hit not in the corpus", qu, hit.ID, fmt.Sprintf("query %s returned document %d, which was not indexed (or was deleted and refreshed away) when the query ran", desc, hit.ID))
				bad = true
			case !d.matches(q):
				fail("hit does not match", qu, hit.ID, fmt.Sprintf("query %s returned document %d, whose text %q does not match it", desc, hit.ID, strings.Join(d.tokens, " ")))
				bad = true
			case i > 0 && hit.Score > q.Hits[i-1].Score+scoreTolerance(hit.Score):
				fail("hits out of order", qu, hit.ID, fmt.Sprintf("query %s: hit %d (document %d, score %g) follows document %d with score %g; hits must be best first", desc, i, hit.ID, hit.Score, q.Hits[i-1].ID, q.Hits[i-1].Score))
				bad = true
			}
			if bad {
				break
			}
			seen[hit.ID] = true
		}
		if bad {
			continue
		}
		if len(q.Hits) > q.K {
			fail("too many hits", qu, len(q.Hits), fmt.Sprintf("query %s asked for %d hits and got %d", desc, q.K, len(q.Hits)))
			continue
		}
		if q.Partial {
			det.Partial++
			if !faultNear(faults, qs-2*time.Second, qe) {
				fail("partial answer without a fault", qu, q.Partial, fmt.Sprintf("query %s was answered partial although no node was down, paused or cut off within 2 s of it", desc))
			}
			continue
		}
		if len(unsure) > opts.MaxUncertain {
			det.Unjudged++
			continue
		}
		det.Judged++
		if why := judgeSearch(q, sure, unsure); why != "" {
			fail("ranking differs from the reference", qu, q.Hits, fmt.Sprintf("query %s: %s", desc, why))
		}
	}
	res.Details = det
	if res.Valid == Valid && det.Searches > 0 && det.Judged == 0 {
		res.Valid = Unknown
	}
	res.Summary = fmt.Sprintf("%d searches (%d judged exactly, %d partial, %d unjudged with more than %d uncertain documents), %d indexed, %d deleted; query p50 %v, p99 %v",
		det.Searches, det.Judged, det.Partial, det.Unjudged, opts.MaxUncertain, det.Indexed, det.Deleted, det.Latency.P50, det.Latency.P99)
	if v := res.First(); v != nil {
		res.Summary = fmt.Sprintf("%s: %s (node %s, %v)", v.What, v.Detail, v.Node, v.Time)
	}
	if res.Valid == Unknown {
		res.Summary = "no search could be judged (every one was partial or had too many uncertain documents): " + res.Summary
	}
	return res
}

func scoreTolerance(s float64) float64 { return 1e-6 * max(1, math.Abs(s)) }

func faultNear(faults []Window, from, to time.Duration) bool {
	for _, f := range faults {
		if f.From <= to && f.To >= from {
			return true
		}
	}
	return false
}

// judgeSearch looks for a subset of the uncertain documents under which
// the reference ranking is the answer; "" when one exists, otherwise the
// difference under the subset closest to the node's statistics.
func judgeSearch(q *SearchQuery, sure, unsure []*searchDocInfo) string {
	terms := distinct(q.Terms)
	var baseDocs, baseTokens int64
	for _, d := range sure {
		baseDocs++
		baseTokens += int64(len(d.tokens))
	}
	inHits := map[int64]bool{}
	for _, h := range q.Hits {
		inHits[h.ID] = true
	}
	first := ""
	for mask := 0; mask < 1<<len(unsure); mask++ {
		docs, tokens := baseDocs, baseTokens
		forced := true
		for i, d := range unsure {
			if mask&(1<<i) != 0 {
				docs++
				tokens += int64(len(d.tokens))
			} else if inHits[d.id] {
				forced = false
			}
		}
		if !forced || docs != q.Docs || tokens != q.Tokens {
			continue
		}
		visible := slices.Clone(sure)
		for i, d := range unsure {
			if mask&(1<<i) != 0 {
				visible = append(visible, d)
			}
		}
		why := compareRanking(q, terms, visible)
		if why == "" {
			return ""
		}
		if first == "" {
			first = why
		}
	}
	if first != "" {
		return first
	}
	var maxTokens int64
	for _, d := range unsure {
		maxTokens += int64(len(d.tokens))
	}
	return fmt.Sprintf("the node scored with %d documents of %d tokens in all, but no corpus this query could see has those figures: it had %d to %d documents and %d to %d tokens (statistics must count every shard's live documents, deletes taken out)",
		q.Docs, q.Tokens, baseDocs, baseDocs+int64(len(unsure)), baseTokens, baseTokens+maxTokens)
}

// compareRanking compares the answer with the reference top k over the
// visible documents; ties in score may come in any order.
func compareRanking(q *SearchQuery, terms []string, visible []*searchDocInfo) string {
	st := corpusStats{df: map[string]int64{}}
	for _, d := range visible {
		st.docs++
		st.tokens += int64(len(d.tokens))
		for _, t := range terms {
			if d.tf[t] > 0 {
				st.df[t]++
			}
		}
	}
	type scored struct {
		id    int64
		score float64
	}
	var want []scored
	byID := map[int64]float64{}
	for _, d := range visible {
		if d.matches(q) {
			s := searchScore(d, terms, st)
			want = append(want, scored{d.id, s})
			byID[d.id] = s
		}
	}
	slices.SortFunc(want, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	n := min(q.K, len(want))
	if len(q.Hits) != n {
		return fmt.Sprintf("%d hits, the reference has %d (%s)", len(q.Hits), n, topList(want[:n], func(s scored) (int64, float64) { return s.id, s.score }))
	}
	for i, h := range q.Hits {
		s, ok := byID[h.ID]
		if !ok {
			return fmt.Sprintf("document %d is not among the matches", h.ID)
		}
		if math.Abs(s-h.Score) > scoreTolerance(s) {
			return fmt.Sprintf("hit %d, document %d, scored %.6f; the reference BM25 score is %.6f (reference top %d: %s)", i, h.ID, h.Score, s, n, topList(want[:n], func(s scored) (int64, float64) { return s.id, s.score }))
		}
	}
	if n > 0 {
		// Every document that beats the last hit must be a hit.
		last := q.Hits[n-1].Score
		for _, w := range want {
			if w.score > last+scoreTolerance(last) && !slices.ContainsFunc(q.Hits, func(h SearchHit) bool { return h.ID == w.id }) {
				return fmt.Sprintf("document %d (reference score %.6f) is missing; it outranks the last hit (score %.6f)", w.id, w.score, last)
			}
		}
	}
	return ""
}

func topList[T any](xs []T, f func(T) (int64, float64)) string {
	var b strings.Builder
	for i, x := range xs {
		if i == 5 {
			b.WriteString(", ...")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		id, s := f(x)
		fmt.Fprintf(&b, "%d:%.4f", id, s)
	}
	return b.String()
}
