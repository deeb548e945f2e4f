package index

import (
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/distsys-curriculum/distsys/tracks/searcher/analysis"
)

// The corpus of BenchmarkSearchEngines: the Go distribution's documents and
// sources (every machine that builds this has them), one document per file.
var benchDocs = flag.Int("searcher-docs", 3000, "files of the Go distribution to index in BenchmarkSearchEngines")

type benchCorpus struct {
	docs    []Doc
	queries []Query
	bytes   int64
}

var (
	corpusOnce sync.Once
	corpus     benchCorpus
	corpusErr  error
)

func goroot() (string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func loadCorpus() (benchCorpus, error) {
	corpusOnce.Do(func() {
		root, err := goroot()
		if err != nil {
			corpusErr = err
			return
		}
		var paths []string
		for _, dir := range []string{"doc", "src"} {
			err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if ext := filepath.Ext(p); !d.IsDir() && (ext == ".go" || ext == ".html" || ext == ".md") {
					paths = append(paths, p)
				}
				return nil
			})
			if err != nil {
				corpusErr = err
				return
			}
		}
		// A fixed sample, spread over the whole tree.
		r := rand.New(rand.NewPCG(7, 7))
		r.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
		paths = paths[:min(*benchDocs, len(paths))]
		for i, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				corpusErr = err
				return
			}
			corpus.bytes += int64(len(b))
			text := string(b)
			corpus.docs = append(corpus.docs, Doc{ID: int64(i + 1), Text: text, Tokens: analysis.Tokens(nil, text)})
		}
		// Queries drawn from the documents themselves: terms, pairs of
		// terms of one document (and), and two consecutive tokens (phrase).
		for len(corpus.queries) < 400 {
			d := corpus.docs[r.IntN(len(corpus.docs))]
			if len(d.Tokens) < 2 {
				continue
			}
			i := r.IntN(len(d.Tokens) - 1)
			switch len(corpus.queries) % 4 {
			case 0, 1:
				corpus.queries = append(corpus.queries, Query{Kind: "term", Terms: []string{d.Tokens[i]}})
			case 2:
				corpus.queries = append(corpus.queries, Query{Kind: "and", Terms: []string{d.Tokens[i], d.Tokens[r.IntN(len(d.Tokens))]}})
			case 3:
				corpus.queries = append(corpus.queries, Query{Kind: "phrase", Terms: []string{d.Tokens[i], d.Tokens[i+1]}})
			}
		}
	})
	return corpus, corpusErr
}

// BenchmarkSearchEngines indexes the same documents with this package and
// with bleve (the same analysis: Unicode word tokens, lower-cased; text
// stored, positions kept for phrases; batches of 1000 documents), runs the
// same queries (top 10) on both, and reports documents indexed per second,
// query latency p50/p99, queries per second and index bytes per document.
//
//	go test -run '^$' -bench SearchEngines -benchtime 1x ./tracks/searcher/index/
func BenchmarkSearchEngines(b *testing.B) {
	c, err := loadCorpus()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("corpus: %d files of the Go distribution, %.1f MB, %d queries", len(c.docs), float64(c.bytes)/1e6, len(c.queries))
	b.Run("engine=searcher", func(b *testing.B) {
		for range b.N {
			start := time.Now()
			s := NewShard()
			for i, d := range c.docs {
				// analysis is part of indexing, as in bleve
				s.Index(Doc{ID: d.ID, Text: d.Text, Tokens: analysis.Tokens(nil, d.Text)})
				if (i+1)%1000 == 0 {
					s.Refresh()
				}
			}
			rd := s.Refresh()
			indexing := time.Since(start)
			lat := make([]time.Duration, 0, len(c.queries))
			total := 0
			for _, q := range c.queries {
				t0 := time.Now()
				hits := rd.Search(q, rd.Stats(q.Terms), 10)
				lat = append(lat, time.Since(t0))
				total += len(hits)
			}
			report(b, len(c.docs), indexing, lat, rd.Bytes(), total)
		}
	})
	b.Run("engine=bleve", func(b *testing.B) {
		for range b.N {
			dir := filepath.Join(b.TempDir(), "bleve")
			im := bleve.NewIndexMapping()
			if err := im.AddCustomAnalyzer("words", map[string]any{"type": custom.Name, "tokenizer": unicode.Name, "token_filters": []string{lowercase.Name}}); err != nil {
				b.Fatal(err)
			}
			fm := bleve.NewTextFieldMapping()
			fm.Analyzer, fm.Store, fm.IncludeTermVectors, fm.IncludeInAll, fm.DocValues = "words", true, true, false, false
			dm := bleve.NewDocumentMapping()
			dm.AddFieldMappingsAt("body", fm)
			im.DefaultMapping = dm
			start := time.Now()
			idx, err := bleve.New(dir, im)
			if err != nil {
				b.Fatal(err)
			}
			batch := idx.NewBatch()
			for i, d := range c.docs {
				if err := batch.Index(strconv.FormatInt(d.ID, 10), map[string]any{"body": d.Text}); err != nil {
					b.Fatal(err)
				}
				if (i+1)%1000 == 0 || i == len(c.docs)-1 {
					if err := idx.Batch(batch); err != nil {
						b.Fatal(err)
					}
					batch = idx.NewBatch()
				}
			}
			indexing := time.Since(start)
			lat := make([]time.Duration, 0, len(c.queries))
			total := 0
			for _, q := range c.queries {
				var bq query.Query
				switch q.Kind {
				case "term":
					tq := bleve.NewTermQuery(q.Terms[0])
					tq.SetField("body")
					bq = tq
				case "and":
					var qs []query.Query
					for _, t := range q.Terms {
						tq := bleve.NewTermQuery(t)
						tq.SetField("body")
						qs = append(qs, tq)
					}
					bq = bleve.NewConjunctionQuery(qs...)
				case "phrase":
					bq = bleve.NewPhraseQuery(q.Terms, "body")
				}
				req := bleve.NewSearchRequestOptions(bq, 10, 0, false)
				t0 := time.Now()
				res, err := idx.Search(req)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				total += len(res.Hits)
			}
			if err := idx.Close(); err != nil {
				b.Fatal(err)
			}
			report(b, len(c.docs), indexing, lat, dirSize(b, dir), total)
		}
	})
}

func report(b *testing.B, docs int, indexing time.Duration, lat []time.Duration, bytes int64, hits int) {
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(float64(docs)/indexing.Seconds(), "docs/s")
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/sum.Seconds(), "queries/s")
	b.ReportMetric(float64(bytes)/float64(docs), "bytes/doc")
	b.ReportMetric(float64(hits)/float64(len(lat)), "hits/query")
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
