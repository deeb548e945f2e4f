package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The mapreduce workload's history values (see
// maelstrom/workload/mapreduce.go for the bodies on the wire).

// MRSplit is one named piece of a job's input.
type MRSplit struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// MRJob is a job: App over Splits with Reducers reduce tasks (Pattern is
// grep's). The op "job" submits it and waits for its output; "finish"
// (final phase) waits for a job the main phase left unfinished. On ok,
// Output holds the [key, value] pairs the system returned and Lost says
// the system answered "unknown job" after it had acknowledged the submit.
type MRJob struct {
	ID       string      `json:"job"`
	App      string      `json:"app"`
	Pattern  string      `json:"pattern,omitempty"`
	Reducers int         `json:"reducers"`
	Splits   []MRSplit   `json:"splits"`
	Output   [][2]string `json:"output,omitempty"`
	Lost     bool        `json:"lost,omitempty"`
}

// MapReduceDetails are the figures of a mapreduce run.
type MapReduceDetails struct {
	Jobs     int `json:"jobs"`     // submitted
	Done     int `json:"done"`     // with an output
	Records  int `json:"records"`  // output pairs checked
	Finished int `json:"finished"` // jobs the final phase waited for
	// JobTime is submit-to-output of the jobs the main phase saw finish.
	JobTime Quantiles `json:"job-time"`
}

// MapReduceReference is the grader's own computation of a job's output,
// sorted by key then value. The rules (the lesson's specification):
// words are maximal runs of ASCII letters, lowercased; wordcount gives
// (word, count); index gives (word, the names of the splits holding it,
// sorted, de-duplicated, joined by ","); grep gives ("split:line", line)
// for every line (split on "\n", numbered from 1) containing Pattern;
// join reads "key,value" lines, the left relation from splits named
// "left/...", the right from the others, and gives (key, "l,r") for every
// pair of a left and a right value of one key.
func MapReduceReference(j MRJob) [][2]string {
	var out [][2]string
	switch j.App {
	case "wordcount", "index":
		count := map[string]int{}
		in := map[string]map[string]bool{}
		for _, s := range j.Splits {
			for _, w := range mrWords(s.Text) {
				count[w]++
				if in[w] == nil {
					in[w] = map[string]bool{}
				}
				in[w][s.Name] = true
			}
		}
		for w, n := range count {
			if j.App == "wordcount" {
				out = append(out, [2]string{w, strconv.Itoa(n)})
				continue
			}
			var names []string
			for name := range in[w] {
				names = append(names, name)
			}
			slices.Sort(names)
			out = append(out, [2]string{w, strings.Join(names, ",")})
		}
	case "grep":
		for _, s := range j.Splits {
			for i, line := range strings.Split(s.Text, "\n") {
				if strings.Contains(line, j.Pattern) {
					out = append(out, [2]string{s.Name + ":" + strconv.Itoa(i+1), line})
				}
			}
		}
	case "join":
		left, right := map[string][]string{}, map[string][]string{}
		for _, s := range j.Splits {
			rel := right
			if strings.HasPrefix(s.Name, "left/") {
				rel = left
			}
			for _, line := range strings.Split(s.Text, "\n") {
				if k, v, ok := strings.Cut(line, ","); ok {
					rel[k] = append(rel[k], v)
				}
			}
		}
		for k, ls := range left {
			for _, l := range ls {
				for _, r := range right[k] {
					out = append(out, [2]string{k, l + "," + r})
				}
			}
		}
	}
	sortPairs(out)
	return out
}

func mrWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return r < 'a' || r > 'z' })
}

func sortPairs(p [][2]string) {
	slices.SortFunc(p, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
}

// MapReduce checks a mapreduce history: every submitted job finishes, and
// its output, as a multiset of pairs (the order across reduce tasks is
// free), equals MapReduceReference exactly. A job the system forgot after
// acknowledging it is a lost job. The first violation names the job and
// the first key whose values differ.
func MapReduce(h history.History) Result {
	res := Result{Checker: "mapreduce", Valid: Valid}
	var d MapReduceDetails
	type jobState struct {
		job   MRJob
		first op
		done  bool
	}
	jobs := map[string]*jobState{}
	var order []string
	var times []time.Duration
	fail := func(v Violation) {
		res.Valid = Invalid
		if len(res.Violations) < maxViolations {
			res.Violations = append(res.Violations, v)
		}
	}
	for _, p := range pairUp(h) {
		if p.invoke.Process < 0 || (p.invoke.F != "job" && p.invoke.F != "finish") {
			continue
		}
		in, ok := p.invoke.Value.(MRJob)
		if !ok {
			continue
		}
		st := jobs[in.ID]
		if st == nil {
			st = &jobState{job: in, first: p}
			jobs[in.ID] = st
			order = append(order, in.ID)
		}
		if p.outcome() != history.OK || st.done {
			continue
		}
		got, ok := p.completion.Value.(MRJob)
		if !ok {
			continue
		}
		st.done = true
		d.Done++
		if p.invoke.F == "finish" {
			d.Finished++
		} else {
			times = append(times, p.completion.Time-p.invoke.Time)
		}
		if got.Lost {
			fail(Violation{What: "lost job", Node: p.node(), Op: p.completion, Value: in.ID, Time: p.completion.Time,
				Detail: fmt.Sprintf("job %s (%s) was acknowledged (submit_ok), then status %s at %s answered that the job is unknown: an acknowledged job must survive the coordinator's restart", in.ID, in.App, where(p.node(), p.invoke.Process), at(p.completion.Time))})
			continue
		}
		want := MapReduceReference(in)
		have := slices.Clone(got.Output)
		sortPairs(have)
		d.Records += len(have)
		if slices.Equal(want, have) {
			continue
		}
		key, w, g := firstDiff(want, have)
		fail(Violation{What: "wrong output", Node: p.node(), Op: p.completion, Value: map[string]any{"key": key, "want": w, "got": g}, Time: p.completion.Time,
			Detail: fmt.Sprintf("job %s (%s, %d splits, %d reducers) finished %s at %s with %d pairs, the reference has %d; first difference at key %q: the reference has values %s, the output %s",
				in.ID, in.App, len(in.Splits), in.Reducers, where(p.node(), p.invoke.Process), at(p.completion.Time), len(have), len(want), key, quoteAll(w), quoteAll(g))})
	}
	d.Jobs = len(order)
	for _, id := range order {
		if st := jobs[id]; !st.done {
			o := st.first.observed()
			fail(Violation{What: "unfinished job", Node: st.first.node(), Op: o, Value: id, Time: o.Time,
				Detail: fmt.Sprintf("job %s (%s), submitted at %s, never returned its output, not even in the final phase after the faults stopped", id, st.job.App, at(st.first.invoke.Time))})
		}
	}
	d.JobTime = quantilesOf(times)
	res.Details = d
	res.Summary = fmt.Sprintf("%d jobs, %d done (%d after the main phase), %d output pairs checked; job time p50 %s, p95 %s, max %s",
		d.Jobs, d.Done, d.Finished, d.Records, d.JobTime.P50.Round(time.Millisecond), d.JobTime.P95.Round(time.Millisecond), d.JobTime.Max.Round(time.Millisecond))
	if res.Valid == Invalid {
		res.Summary += fmt.Sprintf("; %s", res.Violations[0].What)
	}
	return res
}

// firstDiff finds the smallest key whose values differ between two sorted
// pair lists, with each side's values of it.
func firstDiff(want, got [][2]string) (string, []string, []string) {
	vals := func(p [][2]string) map[string][]string {
		m := map[string][]string{}
		for _, kv := range p {
			m[kv[0]] = append(m[kv[0]], kv[1])
		}
		return m
	}
	w, g := vals(want), vals(got)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Equal(w[k], g[k]) {
			return k, w[k], g[k]
		}
	}
	return "", nil, nil
}

func quoteAll(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	if len(q) > 6 {
		q = append(q[:6], fmt.Sprintf("... (%d in all)", len(vs)))
	}
	return "[" + strings.Join(q, " ") + "]"
}
