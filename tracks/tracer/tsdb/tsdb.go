// Package tsdb is the tracer track's time-series store: series named by a
// metric and labels, each kept as a Gorilla chunk (tracks/tracer/gorilla)
// behind a small uncompressed head that absorbs samples arriving out of
// order (concurrent writers), and the queries a monitoring system asks of
// it: rate of a counter over a window, sums grouped by a label, quantiles
// of a histogram, and alert rules with a `for` duration. It has no I/O
// and no clock: sample times come from the writer.
package tsdb

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distsys-curriculum/distsys/tracks/tracer/gorilla"
)

// Labels name a series within its metric.
type Labels map[string]string

// Key is the canonical name of a series: metric{a="1",b="2"}.
func Key(metric string, l Labels) string {
	var b strings.Builder
	b.WriteString(metric)
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(l)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	b.WriteByte('}')
	return b.String()
}

// HeadSize is how many of a series' newest samples stay uncompressed and
// may still be overtaken by an older one. Older than that, a late sample
// is refused (ErrTooOld): the chunk is append-only.
const HeadSize = 32

// ErrTooOld refuses a sample older than everything in the head of a full
// series.
var ErrTooOld = errors.New("tsdb: sample older than the out-of-order window")

// DB is the store. Not safe for concurrent use: the node serialises.
type DB struct {
	series map[string]*Series
	rules  []*rule
}

// Series is one metric+labels.
type Series struct {
	Metric string
	Labels Labels
	chunk  gorilla.Chunk
	head   []gorilla.Sample // sorted by time
	rules  []*rule
}

// New returns an empty store.
func New() *DB { return &DB{series: map[string]*Series{}} }

// Append stores a sample. A sample with the same time as one already
// stored replaces nothing: the first write wins and the duplicate is
// ignored (a retried push is harmless).
func (db *DB) Append(metric string, l Labels, s gorilla.Sample) error {
	k := Key(metric, l)
	se := db.series[k]
	if se == nil {
		se = &Series{Metric: metric, Labels: maps.Clone(l)}
		for _, r := range db.rules {
			if r.matches(se) {
				se.rules = append(se.rules, r)
			}
		}
		db.series[k] = se
	}
	return se.append(s)
}

func (se *Series) append(s gorilla.Sample) error {
	last, ok := se.chunk.Last()
	if ok && s.T <= last.T {
		if s.T == last.T {
			return nil
		}
		return ErrTooOld
	}
	i := sort.Search(len(se.head), func(i int) bool { return se.head[i].T >= s.T })
	if i < len(se.head) && se.head[i].T == s.T {
		return nil
	}
	se.head = slices.Insert(se.head, i, s)
	for len(se.head) > HeadSize {
		old := se.head[0]
		se.head = se.head[1:]
		if err := se.chunk.Append(old); err != nil {
			return err
		}
		for _, r := range se.rules {
			r.eval.Step(old)
		}
	}
	return nil
}

// Samples returns a series' samples in time order.
func (se *Series) Samples() []gorilla.Sample {
	out, err := se.chunk.Samples()
	if err != nil {
		panic(err) // our own encoding: a bug, not input
	}
	return append(out, se.head...)
}

// Stats are the compression figures: samples in chunks and their bytes.
type Stats struct {
	Series, Samples, Compressed, CompressedBytes int
}

// Stats reports the store's size.
func (db *DB) Stats() Stats {
	var st Stats
	for _, se := range db.series {
		st.Series++
		st.Samples += se.chunk.Len() + len(se.head)
		st.Compressed += se.chunk.Len()
		st.CompressedBytes += se.chunk.Bytes()
	}
	return st
}

// Select returns the series of a metric whose labels include match.
func (db *DB) Select(metric string, match Labels) []*Series {
	var out []*Series
	for _, k := range slices.Sorted(maps.Keys(db.series)) {
		se := db.series[k]
		if se.Metric != metric {
			continue
		}
		ok := true
		for lk, lv := range match {
			if se.Labels[lk] != lv {
				ok = false
			}
		}
		if ok {
			out = append(out, se)
		}
	}
	return out
}

// Rate is the per-second increase of a counter over the samples in
// (at-window, at], with counter resets (a drop) counted as a restart from
// zero; ok is false with fewer than two samples.
func Rate(samples []gorilla.Sample, window, at int64) (float64, bool) {
	var first, prev gorilla.Sample
	n := 0
	inc := 0.0
	for _, s := range samples {
		if s.T <= at-window || s.T > at {
			continue
		}
		if n == 0 {
			first = s
		} else if s.V >= prev.V {
			inc += s.V - prev.V
		} else {
			inc += s.V
		}
		prev = s
		n++
	}
	if n < 2 || prev.T == first.T {
		return 0, false
	}
	return inc / (float64(prev.T-first.T) / 1000), true
}

// SumRateBy is `sum by (label) (rate(metric{match}[window]))` at a time:
// the rates of the matching series, added up per value of label.
func (db *DB) SumRateBy(metric string, match Labels, label string, window, at int64) map[string]float64 {
	out := map[string]float64{}
	for _, se := range db.Select(metric, match) {
		if r, ok := Rate(se.Samples(), window, at); ok {
			out[se.Labels[label]] += r
		}
	}
	return out
}

// HistogramQuantile is `histogram_quantile(q, sum by (le) (rate(metric
// {match}[window])))`: metric's series are cumulative bucket counters with
// an "le" label (the last "+Inf"); the quantile is interpolated linearly
// within the bucket where the rank falls, as Prometheus does. ok is false
// when there are no observations in the window.
func (db *DB) HistogramQuantile(q float64, metric string, match Labels, window, at int64) (float64, bool) {
	byLE := db.SumRateBy(metric, match, "le", window, at)
	type bucket struct{ le, n float64 }
	var bs []bucket
	for le, n := range byLE {
		v, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{v, n})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	return quantile(q, func(i int) (float64, float64) { return bs[i].le, bs[i].n }, len(bs))
}

func quantile(q float64, b func(int) (le, n float64), nb int) (float64, bool) {
	if nb < 2 {
		return 0, false
	}
	top, total := b(nb - 1)
	if !math.IsInf(top, 1) || total <= 0 {
		return 0, false
	}
	rank := q * total
	prevLE, prevN := 0.0, 0.0
	for i := 0; i < nb; i++ {
		le, n := b(i)
		if n >= rank {
			if math.IsInf(le, 1) {
				return prevLE, true
			}
			if i == 0 && le <= 0 {
				return le, true
			}
			if n == prevN {
				return le, true
			}
			return prevLE + (le-prevLE)*(rank-prevN)/(n-prevN), true
		}
		prevLE, prevN = le, n
	}
	return prevLE, true
}
