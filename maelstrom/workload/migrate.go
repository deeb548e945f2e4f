package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// migrate (ours, the migrator track): clients of two API versions read and
// write people's names while the grader deploys new releases of the node,
// one of them a faulty canary. Version 1 clients see a person as one
// field, version 2 clients as two:
//
//	{"type":"write","api":1,"key":"t0-k3","name":"Ada Lovelace"}            -> {"type":"write_ok","release":R}
//	{"type":"write","api":2,"key":"t1-k0","first":"Ada","last":"Lovelace"}  -> {"type":"write_ok","release":R}
//	{"type":"read","api":1,"key":"t0-k3"}  -> {"type":"read_ok","release":R,"name":"Ada Lovelace"}
//	{"type":"read","api":2,"key":"t1-k0"}  -> {"type":"read_ok","release":R,"first":"Ada","last":"Lovelace"}
//
// A read of a key never written is error 20. R is the release that served
// the request. Names are two words; even threads speak version 1, odd
// threads version 2, and each thread reads and writes five keys of its
// own, so that every key's history is sequential. At the times of
// --deploys (seconds since the start), one thread deploys, in order:
//
//	{"type":"deploy","release":2}   the expand release: the schema gains the new fields
//	{"type":"deploy","release":3,"canary":true,"percent":P,"fault_rate":F}
//	                                a canary of release 3 for P% of keys, which fails a
//	                                share F of its requests (error 13, text naming the canary)
//	{"type":"deploy","release":4}   the contract release: the old field is gone
//
// each answered {"type":"deploy_ok"}; a deploy that fails is sent again.
// History values: checker.MigrateOp. The migrate checker (one node: the
// database is the node's) demands every request served, every read equal
// to the last write, and the canary gone within --rollback-bound.
func init() {
	Register(func() Spec {
		return Spec{Name: "migrate", Description: "a schema change under live traffic of two API versions, with a faulty canary", Reusable: true,
			Flags: []Flag{
				{Name: "deploys", Default: "2,4,7", Usage: "seconds since the start at which releases 2, 3 (the canary) and 4 are deployed"},
				{Name: "canary-percent", Default: "25", Usage: "percentage of keys the canary serves"},
				{Name: "canary-fault", Default: "0.5", Usage: "share of the canary's requests that fail"},
				{Name: "rollback-bound", Default: "2000", Usage: "milliseconds after its deployment by which the canary must have stopped serving"},
			},
			New: newMigrate}
	})
}

type migrate struct {
	noSetup
	p              Params
	start          time.Time
	at             []time.Duration
	percent, fault float64
	bound          time.Duration
	deploysSent    int

	mu      sync.Mutex
	pending []checker.MigrateOp // deploys to (re)send
	wrote   map[int]int         // thread -> writes so far, for fresh names
}

var migrateReleases = []checker.MigrateOp{{Release: 2}, {Release: 3, Canary: true}, {Release: 4}}

func newMigrate(p Params) (Instance, error) {
	if len(p.NodeIDs) != 1 {
		return nil, fmt.Errorf("migrate: --node-count 1 (the database is the node's own)")
	}
	parts := strings.Split(p.Flags["deploys"], ",")
	if len(parts) != len(migrateReleases) {
		return nil, fmt.Errorf("migrate: --deploys %q: want %d times in seconds", p.Flags["deploys"], len(migrateReleases))
	}
	w := &migrate{p: p, start: time.Now(), wrote: map[int]int{}}
	for i, s := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || f < 0 || (i > 0 && time.Duration(f*float64(time.Second)) <= w.at[i-1]) {
			return nil, fmt.Errorf("migrate: --deploys %q: want increasing seconds", p.Flags["deploys"])
		}
		w.at = append(w.at, time.Duration(f*float64(time.Second)))
	}
	var err error
	if w.percent, err = p.FlagNumber("canary-percent", 1, 100); err != nil {
		return nil, err
	}
	if w.fault, err = p.FlagNumber("canary-fault", 0, 1); err != nil {
		return nil, err
	}
	ms, err := p.FlagNumber("rollback-bound", 1, 600000)
	if err != nil {
		return nil, err
	}
	w.bound = time.Duration(ms) * time.Millisecond
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	return w, nil
}

func (w *migrate) Next(thread, _ int) Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.deploysSent < len(w.at) && time.Since(w.start) >= w.at[w.deploysSent] {
		w.pending = append(w.pending, migrateReleases[w.deploysSent])
		w.deploysSent++
	}
	if len(w.pending) > 0 {
		v := w.pending[0]
		w.pending = w.pending[1:]
		return Invocation{F: "deploy", Value: v}
	}
	r := w.p.Rand
	v := checker.MigrateOp{API: 1 + thread%2, Key: fmt.Sprintf("t%d-k%d", thread, r.IntN(5))}
	if r.IntN(2) == 0 {
		return Invocation{F: "read", Value: v}
	}
	w.wrote[thread]++
	v.Name = fmt.Sprintf("%s%d %s", migrateFirst[r.IntN(len(migrateFirst))], w.wrote[thread], migrateLast[r.IntN(len(migrateLast))])
	return Invocation{F: "write", Value: v}
}

var (
	migrateFirst = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Leslie"}
	migrateLast  = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Lamport"}
)

func (w *migrate) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	v := inv.Value.(checker.MigrateOp)
	switch inv.F {
	case "deploy":
		body := map[string]any{"type": "deploy", "release": v.Release}
		if v.Canary {
			body["canary"], body["percent"], body["fault_rate"] = true, w.percent, w.fault
		}
		raw, err := c.RPC(ctx, body)
		if err == nil {
			_, err = Decode(raw, "deploy_ok")
		}
		if err != nil {
			w.mu.Lock()
			w.pending = append(w.pending, v)
			w.mu.Unlock()
			return Outcome(err, true, true)
		}
		return ok(v)
	case "write":
		body := map[string]any{"type": "write", "api": v.API, "key": v.Key}
		if v.API == 1 {
			body["name"] = v.Name
		} else {
			first, last, _ := strings.Cut(v.Name, " ")
			body["first"], body["last"] = first, last
		}
		raw, err := c.RPC(ctx, body)
		var m map[string]json.RawMessage
		if err == nil {
			m, err = Decode(raw, "write_ok", Field{Name: "release"})
		}
		if err != nil {
			return Outcome(err, true, false)
		}
		return w.served(m, v, v.Name)
	default:
		raw, err := c.RPC(ctx, map[string]any{"type": "read", "api": v.API, "key": v.Key})
		fields := []Field{{Name: "release"}, {Name: "name"}}
		if v.API == 2 {
			fields = []Field{{Name: "release"}, {Name: "first"}, {Name: "last"}}
		}
		var m map[string]json.RawMessage
		if err == nil {
			m, err = Decode(raw, "read_ok", fields...)
		}
		if err != nil {
			return Outcome(err, true, true)
		}
		var name, first, last string
		if v.API == 1 {
			err = json.Unmarshal(m["name"], &name)
		} else {
			err1, err2 := json.Unmarshal(m["first"], &first), json.Unmarshal(m["last"], &last)
			err, name = errorsJoin(err1, err2), first+" "+last
			if err == nil && (first == "" || last == "" || strings.Contains(first, " ")) {
				err = fmt.Errorf("first %q last %q: want one word each", first, last)
			}
		}
		if err != nil {
			return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "malformed-response", Text: "read_ok: " + err.Error()}}
		}
		return w.served(m, v, name)
	}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// served completes a request with the release that served it.
func (w *migrate) served(m map[string]json.RawMessage, v checker.MigrateOp, name string) Completion {
	var rel int
	if err := json.Unmarshal(m["release"], &rel); err != nil || rel < 1 {
		return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "malformed-response", Text: "release: want a positive integer"}}
	}
	v.Release, v.Name = rel, name
	return ok(v)
}

func (w *migrate) Check(h history.History) checker.Result {
	var rels []int
	for _, r := range migrateReleases {
		rels = append(rels, r.Release)
	}
	return checker.Migrate(h, checker.MigrateParams{CanaryRelease: 3, RollbackBound: w.bound, Releases: rels})
}
