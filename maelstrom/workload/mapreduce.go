package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// mapreduce (ours, the mapreducer track): the grader submits MapReduce
// jobs with their input and waits for their output.
//
//	{"type":"submit","job":J,"app":A,"reducers":R,"splits":[{"name":N,"text":T},...][,"pattern":P]}
//	    -> {"type":"submit_ok"}
//	{"type":"status","job":J}
//	    -> {"type":"status_ok","done":false}
//	    |  {"type":"status_ok","done":true,"output":[[K,V],...]}
//
// A is wordcount, index, grep (with pattern P) or join; R is the number of
// reduce tasks. submit is idempotent: submitting a known job again
// changes nothing. After submit_ok a job must never be forgotten: a
// status answered with error 20 (key-does-not-exist: unknown job) is a
// lost job. Any node may be asked; the output's pairs may come in any
// order, but as a multiset they must equal the grader's own computation
// (checker.MapReduceReference) exactly.
//
// The client submits until submit_ok, then polls status every
// mrPoll until the output comes back or mrJobDeadline passes (then the op
// ends :info and the final phase, after the faults stop, waits for the
// job with the op "finish"). History values: checker.MRJob.
func mapReduceSpec() Spec {
	return Spec{Name: "mapreduce", Description: "MapReduce jobs (word count, inverted index, grep, join) checked against the grader's own computation",
		Final:   true,
		Timeout: func(lat time.Duration) time.Duration { return max(10*lat, time.Second) },
		New: func(p Params) (Instance, error) {
			return &mapReduce{p: p, unfinished: map[string]checker.MRJob{}}, nil
		}}
}

func init() { Register(mapReduceSpec) }

const (
	mrPoll           = 20 * time.Millisecond
	mrJobDeadline    = 15 * time.Second
	mrFinishDeadline = 30 * time.Second
	mrRetry          = 100 * time.Millisecond
	mrUnknownJobCode = 20
)

var mrVocabulary = strings.Fields(`the quick brown fox jumps over lazy dog map reduce shuffle sort key value worker
	coordinator split task lease backup straggler partition record output input word count index grep join
	stream window watermark late event time sink checkpoint replay other`)

type mapReduce struct {
	noSetup
	p    Params
	next int

	mu         sync.Mutex
	unfinished map[string]checker.MRJob // jobs whose main-phase op ended without output
}

func (w *mapReduce) Next(int, int) Invocation {
	w.next++
	r := w.p.Rand
	j := checker.MRJob{ID: "j" + strconv.Itoa(w.next), App: []string{"wordcount", "index", "grep", "join"}[r.IntN(4)], Reducers: 1 + r.IntN(4)}
	if j.App == "join" {
		for i := range 2 + r.IntN(3) {
			j.Splits = append(j.Splits, checker.MRSplit{Name: "left/" + strconv.Itoa(i), Text: mrRelation(r)},
				checker.MRSplit{Name: "right/" + strconv.Itoa(i), Text: mrRelation(r)})
		}
		return Invocation{F: "job", Value: j}
	}
	if j.App == "grep" {
		j.Pattern = mrVocabulary[r.IntN(len(mrVocabulary))]
	}
	for i := range 3 + r.IntN(6) {
		j.Splits = append(j.Splits, checker.MRSplit{Name: fmt.Sprintf("doc-%d-%d", w.next, i), Text: mrText(r)})
	}
	return Invocation{F: "job", Value: j}
}

// mrText is a small document: lines of vocabulary words, some capitalised,
// with punctuation and digits between them.
func mrText(r *rand.Rand) string {
	var b strings.Builder
	for l := range 6 + r.IntN(10) {
		if l > 0 {
			b.WriteByte('\n')
		}
		for i := range 3 + r.IntN(8) {
			if i > 0 {
				b.WriteString([]string{" ", " ", " ", ", ", ". ", " - ", " 42 ", "; "}[r.IntN(8)])
			}
			w := mrVocabulary[r.IntN(len(mrVocabulary))]
			if r.IntN(5) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
		}
	}
	return b.String()
}

// mrRelation is "key,value" lines over a few keys, so that keys repeat.
func mrRelation(r *rand.Rand) string {
	lines := make([]string, 3+r.IntN(6))
	for i := range lines {
		lines[i] = fmt.Sprintf("k%d,%s%d", r.IntN(8), mrVocabulary[r.IntN(len(mrVocabulary))], r.IntN(100))
	}
	return strings.Join(lines, "\n")
}

func (w *mapReduce) Final(thread int) []Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Invocation
	for i := 1; i <= w.next; i++ {
		if j, ok := w.unfinished["j"+strconv.Itoa(i)]; ok && i%max(w.p.Concurrency, 1) == thread {
			out = append(out, Invocation{F: "finish", Value: j})
		}
	}
	return out
}

func (w *mapReduce) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	j := inv.Value.(checker.MRJob)
	deadline := mrJobDeadline
	if inv.F == "finish" {
		deadline = mrFinishDeadline
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	out, lost, err := w.run(ctx, c, j)
	var final *finalError
	if errors.As(err, &final) {
		// The node refused the job for good (or answered garbage): no
		// point waiting for it.
		comp := Outcome(final.err, true, true)
		comp.Value = j
		return comp
	}
	if err != nil {
		w.mu.Lock()
		w.unfinished[j.ID] = j
		w.mu.Unlock()
		return Completion{Type: history.Info, Value: j, Error: &history.Error{Code: -1, Name: "unfinished",
			Text: fmt.Sprintf("no output within %s: %v", deadline, err)}}
	}
	j.Output, j.Lost = out, lost
	return ok(j)
}

var errNoOutput = errors.New("job not done")

// finalError is an answer that retrying cannot change: a definite error
// reply (not-supported, malformed-request, ...) or a malformed reply.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }

// mrTransient says whether an error is worth retrying: no answer, or
// error 11 (temporarily-unavailable: a worker that cannot reach the
// coordinator) or 13 (crash).
func mrTransient(err error) bool {
	var rpc *RPCError
	var mal *MalformedError
	switch {
	case errors.As(err, &mal):
		return false
	case errors.As(err, &rpc):
		return rpc.Code == 11 || rpc.Code == 13
	}
	return true
}

// run submits j until acknowledged, then polls until its output comes.
func (w *mapReduce) run(ctx context.Context, c Caller, j checker.MRJob) ([][2]string, bool, error) {
	body := map[string]any{"type": "submit", "job": j.ID, "app": j.App, "reducers": j.Reducers, "splits": j.Splits}
	if j.App == "grep" {
		body["pattern"] = j.Pattern
	}
	var last error
	for {
		raw, err := c.RPC(ctx, body)
		if err == nil {
			if _, err = Decode(raw, "submit_ok"); err == nil {
				break
			}
		}
		if !mrTransient(err) {
			return nil, false, &finalError{err}
		}
		last = err
		if !sleepFor(ctx, mrRetry) {
			return nil, false, fmt.Errorf("submit: %w", last)
		}
	}
	for {
		raw, err := c.RPC(ctx, map[string]any{"type": "status", "job": j.ID})
		if err == nil {
			var m map[string]json.RawMessage
			if m, err = Decode(raw, "status_ok", Field{Name: "done"}, Field{Name: "output", Optional: true}); err == nil {
				var done bool
				if uerr := json.Unmarshal(m["done"], &done); uerr != nil {
					return nil, false, &finalError{&MalformedError{Reason: "done must be a boolean, got " + string(m["done"])}}
				}
				if done {
					var out [][2]string
					if uerr := json.Unmarshal(m["output"], &out); uerr != nil || m["output"] == nil {
						return nil, false, &finalError{&MalformedError{Reason: "output must be a list of [key, value] string pairs, got " + truncate(string(m["output"]), 80)}}
					}
					if out == nil {
						out = [][2]string{}
					}
					return out, false, nil
				}
				err = errNoOutput
			} else if e, isRPC := err.(*RPCError); isRPC && e.Code == mrUnknownJobCode {
				return [][2]string{}, true, nil
			}
		}
		if err != errNoOutput && !mrTransient(err) {
			return nil, false, &finalError{err}
		}
		last = err
		if !sleepFor(ctx, mrPoll) {
			return nil, false, fmt.Errorf("status: %w", last)
		}
	}
}

func (w *mapReduce) Check(h history.History) checker.Result { return checker.MapReduce(h) }
