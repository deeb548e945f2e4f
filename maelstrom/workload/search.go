package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/zipf"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
)

// search: the searcher track's workload (ours). Clients index and delete
// documents and run ranked queries through any node:
//
//	{"type":"index","id":7,"text":"The quick fox, ..."} -> {"type":"index_ok"}
//	{"type":"delete","id":7}                           -> {"type":"delete_ok"}
//	{"type":"search","query":{"kind":"and","terms":["quick","fox"]},"k":10}
//	  -> {"type":"search_ok","hits":[{"id":7,"score":1.84}, ...],
//	      "docs":120,"tokens":1830,"partial":false}
//
// kind is term (one term), and, or, or phrase (the terms consecutive, in
// order). Every document id is indexed once; a delete names a document
// whose index was acknowledged. An index or delete that fails or times out
// is sent again, the same, for up to 10 s: both are idempotent. The reply
// to a search gives the corpus statistics the scores were computed with
// (live documents, their total tokens) and says partial when some
// documents could not be reached. The search checker recomputes every
// ranking with its own BM25 (checker.Search).
func init() {
	Register(func() Spec {
		return Spec{Name: "search", Description: "index, delete and ranked BM25 queries over a sharded full-text index (ours)",
			Reusable: true,
			Timeout:  func(lat time.Duration) time.Duration { return max(10*lat, 3*time.Second) },
			Flags: []Flag{
				{Name: "refresh-bound", Default: "1000", Usage: "milliseconds after its acknowledgement within which a write must be searchable"},
				{Name: "vocabulary", Default: "200", Usage: "number of distinct words in the documents"},
				{Name: "write-ratio", Default: "0.25", Usage: "fraction of operations that index or delete (one in five deletes)"},
				{Name: "k", Default: "10", Usage: "hits asked for per query"},
				{Name: "max-uncertain", Default: "12", Usage: "most documents of uncertain visibility a query may have and still be judged exactly"},
			},
			New: newSearch,
		}
	})
}

// searchRetryFor bounds how long a client resends a write.
const searchRetryFor = 10 * time.Second

func newSearch(p Params) (Instance, error) {
	bound, err := p.FlagNumber("refresh-bound", 0, 600000)
	if err != nil {
		return nil, err
	}
	vocab, err := p.FlagNumber("vocabulary", 2, 100000)
	if err != nil {
		return nil, err
	}
	wr, err := p.FlagNumber("write-ratio", 0, 1)
	if err != nil {
		return nil, err
	}
	k, err := p.FlagNumber("k", 1, 1000)
	if err != nil {
		return nil, err
	}
	mu, err := p.FlagNumber("max-uncertain", 0, 20)
	if err != nil {
		return nil, err
	}
	z, err := zipf.New(int(vocab), 1.0)
	if err != nil {
		return nil, err
	}
	words := make([]string, int(vocab))
	for i := range words {
		words[i] = searchWord(i)
	}
	return &searchWL{p: p, z: z, words: words, writeRatio: wr, k: int(k),
		opts: checker.SearchOptions{RefreshBound: time.Duration(bound) * time.Millisecond, MaxUncertain: int(mu)}}, nil
}

var searchSyllables = []string{"ka", "lo", "mi", "ne", "ru", "so", "ta", "vi", "ze", "po", "da", "fu", "gi", "ho", "ja", "be"}

// searchWord is the i-th word of the vocabulary: distinct syllable
// strings, shortest first, so the most frequent words are short.
func searchWord(i int) string {
	n := len(searchSyllables)
	var b strings.Builder
	i += n // at least two syllables
	for {
		b.WriteString(searchSyllables[i%n])
		i /= n
		if i == 0 {
			break
		}
		i--
	}
	return b.String()
}

type searchWL struct {
	noSetup
	p          Params
	z          *zipf.Zipf
	words      []string
	writeRatio float64
	k          int
	opts       checker.SearchOptions
	nextID     int64

	mu    sync.Mutex
	live  []int64    // acknowledged, not yet chosen for deletion
	texts [][]string // tokens of acknowledged documents, for phrases
}

func (w *searchWL) Next(int, int) Invocation {
	r := w.p.Rand
	if r.Float64() < w.writeRatio {
		w.mu.Lock()
		if r.IntN(5) == 0 && len(w.live) > 0 {
			i := r.IntN(len(w.live))
			id := w.live[i]
			w.live[i] = w.live[len(w.live)-1]
			w.live = w.live[:len(w.live)-1]
			w.mu.Unlock()
			return Invocation{F: "delete", Value: checker.SearchDoc{ID: id}}
		}
		w.mu.Unlock()
		w.nextID++
		return Invocation{F: "index", Value: checker.SearchDoc{ID: w.nextID, Text: w.text()}}
	}
	q := checker.SearchQuery{K: w.k}
	switch x := r.IntN(10); {
	case x < 4:
		q.Kind, q.Terms = "term", []string{w.word()}
	case x < 6:
		q.Kind, q.Terms = "and", []string{w.word(), w.word()}
	case x < 8:
		q.Kind, q.Terms = "or", []string{w.word(), w.word(), w.word()}
	default:
		w.mu.Lock()
		var doc []string
		if len(w.texts) > 0 {
			doc = w.texts[r.IntN(len(w.texts))]
		}
		w.mu.Unlock()
		if len(doc) < 2 {
			q.Kind, q.Terms = "term", []string{w.word()}
			break
		}
		i := r.IntN(len(doc) - 1)
		q.Kind, q.Terms = "phrase", []string{doc[i], doc[i+1]}
	}
	return Invocation{F: "search", Value: q}
}

func (w *searchWL) word() string { return w.words[w.z.Sample(w.p.Rand)] }

// text is a document of 3 to 25 words with the case and punctuation that
// analysis must see through.
func (w *searchWL) text() string {
	r := w.p.Rand
	n := 3 + r.IntN(23)
	var b strings.Builder
	for i := range n {
		word := w.word()
		switch r.IntN(8) {
		case 0:
			word = strings.ToUpper(word)
		case 1:
			word = strings.ToUpper(word[:1]) + word[1:]
		}
		if i > 0 {
			b.WriteString([]string{" ", " ", " ", ", ", ". ", " - ", "\n", "; "}[r.IntN(8)])
		}
		b.WriteString(word)
	}
	if r.IntN(2) == 0 {
		b.WriteString(".")
	}
	return b.String()
}

func (w *searchWL) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	switch inv.F {
	case "index", "delete":
		d := inv.Value.(checker.SearchDoc)
		body := map[string]any{"type": inv.F, "id": d.ID}
		if inv.F == "index" {
			body["text"] = d.Text
		}
		comp := w.write(ctx, c, body, inv.F+"_ok")
		if comp.Type == history.OK {
			comp.Value = d
			w.mu.Lock()
			if inv.F == "index" {
				w.live = append(w.live, d.ID)
				w.texts = append(w.texts, checker.SearchTokens(d.Text))
			}
			w.mu.Unlock()
		}
		return comp
	}
	q := inv.Value.(checker.SearchQuery)
	raw, err := c.RPC(ctx, map[string]any{"type": "search", "query": map[string]any{"kind": q.Kind, "terms": q.Terms}, "k": q.K})
	if err != nil {
		return Outcome(err, true, true)
	}
	m, err := Decode(raw, "search_ok", Field{Name: "hits"}, Field{Name: "docs"}, Field{Name: "tokens"}, Field{Name: "partial", Optional: true})
	if err != nil {
		return Outcome(err, true, true)
	}
	var hits []checker.SearchHit
	if err := json.Unmarshal(m["hits"], &hits); err != nil {
		return Outcome(&MalformedError{Reason: fmt.Sprintf(`hits must be a list of {"id":int,"score":number}, got %s`, truncate(string(m["hits"]), 80))}, true, true)
	}
	for _, h := range hits {
		if math.IsNaN(h.Score) || math.IsInf(h.Score, 0) {
			return Outcome(&MalformedError{Reason: "a hit's score must be a finite number"}, true, true)
		}
	}
	if q.Docs, err = decodeInt(m["docs"], "docs"); err != nil {
		return Outcome(err, true, true)
	}
	if q.Tokens, err = decodeInt(m["tokens"], "tokens"); err != nil {
		return Outcome(err, true, true)
	}
	if p, ok := m["partial"]; ok {
		if err := json.Unmarshal(p, &q.Partial); err != nil {
			return Outcome(&MalformedError{Reason: "partial must be a boolean, got " + string(p)}, true, true)
		}
	}
	q.Hits = hits
	return ok(q)
}

// write sends an index or delete until it is acknowledged, for up to
// searchRetryFor. An attempt whose fate is unknown makes the whole op
// unknown unless a later attempt is acknowledged.
func (w *searchWL) write(ctx context.Context, c Caller, body map[string]any, want string) Completion {
	start := time.Now()
	unsure := false
	for {
		raw, err := c.RPC(ctx, body)
		if err == nil {
			if _, err = Decode(raw, want); err == nil {
				return Completion{Type: history.OK}
			}
		}
		var rpc *RPCError
		retry := errors.Is(err, netsim.ErrTimeout) || (errors.As(err, &rpc) && (rpc.Code == 0 || rpc.Code == 11 || rpc.Code == 13))
		if !retry || ctx.Err() != nil || time.Since(start) > searchRetryFor {
			comp := Outcome(err, true, false)
			if unsure && comp.Type == history.Fail {
				comp.Type = history.Info
			}
			return comp
		}
		if !(errors.As(err, &rpc) && rpc.Code == 11) {
			unsure = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *searchWL) Check(h history.History) checker.Result { return checker.Search(h, w.opts) }
