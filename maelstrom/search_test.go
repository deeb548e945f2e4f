package maelstrom

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// searchNode is a single-node search engine for the search workload that
// scores every query by brute force over all its documents (writes are
// searchable at once), correct unless fault names a way to break it:
//
//	ghost    deletes are acknowledged and ignored
//	k1       BM25 with k1 = 2 instead of 1.2
//	partial  every answer says partial
//	lose     every 4th index is acknowledged and dropped
func searchNode(fault string) program.Program {
	type doc struct {
		toks []string
		tf   map[string]int
	}
	tokens := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}
	return testnodes.Program(func() testnodes.Handlers {
		docs := map[int64]*doc{}
		indexed := 0
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			switch m.Type() {
			case "index":
				var text string
				_ = json.Unmarshal(m.Body["text"], &text)
				if indexed++; fault != "lose" || indexed%4 != 0 {
					d := &doc{toks: tokens(text), tf: map[string]int{}}
					for _, t := range d.toks {
						d.tf[t]++
					}
					docs[m.Int("id")] = d
				}
				n.Reply(m, map[string]any{"type": "index_ok"})
			case "delete":
				if fault != "ghost" {
					delete(docs, m.Int("id"))
				}
				n.Reply(m, map[string]any{"type": "delete_ok"})
			case "search":
				var q struct {
					Kind  string   `json:"kind"`
					Terms []string `json:"terms"`
				}
				_ = json.Unmarshal(m.Body["query"], &q)
				terms := slices.Clone(q.Terms)
				slices.Sort(terms)
				terms = slices.Compact(terms)
				var nDocs, nToks int64
				df := map[string]float64{}
				for _, d := range docs {
					nDocs++
					nToks += int64(len(d.toks))
					for _, t := range terms {
						if d.tf[t] > 0 {
							df[t]++
						}
					}
				}
				k1 := 1.2
				if fault == "k1" {
					k1 = 2
				}
				type hit struct {
					ID    int64   `json:"id"`
					Score float64 `json:"score"`
				}
				hits := []hit{}
				for id, d := range docs {
					var match bool
					if q.Kind == "or" {
						match = slices.ContainsFunc(terms, func(t string) bool { return d.tf[t] > 0 })
					} else {
						match = !slices.ContainsFunc(terms, func(t string) bool { return d.tf[t] == 0 })
					}
					if match && q.Kind == "phrase" {
						match = false
						for i := 0; i+len(q.Terms) <= len(d.toks) && !match; i++ {
							match = slices.Equal(d.toks[i:i+len(q.Terms)], q.Terms)
						}
					}
					if !match {
						continue
					}
					norm := k1 * (0.25 + 0.75*float64(len(d.toks))*float64(nDocs)/float64(nToks))
					var s float64
					for _, t := range terms {
						if tf := float64(d.tf[t]); tf > 0 {
							s += math.Log(1+(float64(nDocs)-df[t]+0.5)/(df[t]+0.5)) * tf * (k1 + 1) / (tf + norm)
						}
					}
					hits = append(hits, hit{id, s})
				}
				slices.SortFunc(hits, func(a, b hit) int {
					if c := cmp.Compare(b.Score, a.Score); c != 0 {
						return c
					}
					return cmp.Compare(a.ID, b.ID)
				})
				hits = hits[:min(len(hits), int(m.Int("k")))]
				n.Reply(m, map[string]any{"type": "search_ok", "hits": hits, "docs": nDocs, "tokens": nToks, "partial": fault == "partial"})
			}
			return nil
		}}
	})
}

func gradeSearch(t *testing.T, fault string) *Report {
	t.Helper()
	return grade(t, searchNode(fault), "-w", "search", "--node-count", "1", "--time-limit", "10", "--rate", "50", "--concurrency", "4", "--refresh-bound", "200")
}

func TestSearchCorrectNode(t *testing.T) {
	rep := gradeSearch(t, "")
	wantVerdict(t, rep, checker.Valid)
	res, _ := rep.Result("search")
	d := res.Details.(checker.SearchDetails)
	if d.Judged < 200 || d.Indexed < 50 || d.Deleted == 0 {
		t.Fatalf("search figures %+v: the workload did not exercise the checker", d)
	}
}

func TestSearchIgnoredDeletes(t *testing.T) {
	// The deleted documents still count in the node's statistics, or come
	// back as hits.
	rep := gradeSearch(t, "ghost")
	res, _ := rep.Result("search")
	if res.Valid != checker.Invalid {
		t.Fatalf("search: want invalid\n%s", rep.Summary())
	}
	v := res.Violations[0]
	if (v.What != "hit not in the corpus" && v.What != "ranking differs from the reference") || v.Node == "" || v.Value == nil || v.Op == nil {
		t.Fatalf("first violation %+v", v)
	}
}

func TestSearchWrongScoring(t *testing.T) {
	v := firstViolation(t, gradeSearch(t, "k1"), "search", "ranking differs from the reference")
	if !strings.Contains(v.Detail, "reference BM25 score") {
		t.Fatalf("violation %+v does not give the reference score", v)
	}
}

func TestSearchLostDocuments(t *testing.T) {
	firstViolation(t, gradeSearch(t, "lose"), "search", "ranking differs from the reference")
}

func TestSearchPartialWithoutFault(t *testing.T) {
	rep := gradeSearch(t, "partial")
	res, _ := rep.Result("search")
	if res.Valid != checker.Invalid {
		t.Fatalf("search: want invalid\n%s", rep.Summary())
	}
	// The first query may well be the first op, at time 0.
	if v := res.Violations[0]; v.What != "partial answer without a fault" || v.Node == "" || v.Value == nil || v.Op == nil {
		t.Fatalf("first violation %+v", v)
	}
}
