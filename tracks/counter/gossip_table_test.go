package counter

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
)

var gossipTable = flag.Bool("gossip-table", false, "measure msgs-per-op and convergence after a heal for several gossip intervals")

// isolateAll cuts every node off from every other for as long as it lasts:
// with a nemesis interval far beyond the run, that is the whole main phase,
// so at the heal each node has counted only its own adds.
type isolateAll struct{}

func (isolateAll) Name() string { return "isolate-all" }

func (isolateAll) Start(_ context.Context, env nemesis.Env, _ *rand.Rand) (string, any, error) {
	rules := map[string][]string{}
	for _, n := range env.Nodes() {
		for _, m := range env.Nodes() {
			if m != n {
				rules[n] = append(rules[n], m)
			}
		}
	}
	env.Partition(rules)
	return "start-partition", rules, nil
}

func (isolateAll) Stop(_ context.Context, env nemesis.Env) (string, any, error) {
	env.Heal()
	return "stop-partition", "network-healed", nil
}

// convergenceArgs is the scenario behind the "converged" columns: the
// pn-counter workload on 3 fully isolated nodes with 10 ms links, healed at
// the end of the main phase, after which final reads come --recovery-time
// later.
var convergenceArgs = []string{"-w", "pn-counter", "--node-count", "3", "--rate", "100", "--latency", "10"}

// healTimes are the main-phase lengths of the convergence scenario: the
// heal lands at a different point of the gossip period in each.
var healTimes = []time.Duration{10123 * time.Millisecond, 10456 * time.Millisecond, 10789 * time.Millisecond}

// TestGossipIntervalTable measures, for each gossip mode and interval, the
// pn-counter stage's messages per operation and how soon after a heal the
// final reads are correct: the smallest --recovery-time (searched in 5 ms
// steps) with which the grader judges the run valid. It prints a table and
// asserts nothing about the figures. Run it with
//
//	go test ./tracks/counter -run GossipIntervalTable -v -args -gossip-table
func TestGossipIntervalTable(t *testing.T) {
	if !*gossipTable {
		t.Skip("pass -args -gossip-table to measure")
	}
	st := stage(t, "pn-counter")
	var rows []string
	for _, mode := range []string{"delta", "full"} {
		for _, interval := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond, time.Second} {
			nodeArgs := []string{"--stage", "pn-counter", "--gossip-interval", interval.String(), "--gossip", mode}
			run := st
			run.NodeArgs = nodeArgs
			rep := gradetest.Grade(t, run, prog)
			var conv []string
			for _, heal := range healTimes {
				conv = append(conv, ms(convergence(t, nodeArgs, heal, 2*interval+100*time.Millisecond)))
			}
			rows = append(rows, fmt.Sprintf("| %-5s | %8s | %-7s | %6.2f | %6.2f | %s |",
				mode, interval, rep.Valid, rep.MsgsPerOp, rep.ServerMsgsPerOp, strings.Join(conv, " / ")))
		}
	}
	t.Logf("pn-counter stage (%s) and convergence after a heal (%s, heals at %v)\n"+
		"| gossip | interval | stage   | msgs/op | between servers | final reads correct after the heal |\n%s",
		strings.Join(st.GraderArgs, " "), strings.Join(convergenceArgs, " "), healTimes, strings.Join(rows, "\n"))
}

func ms(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// convergence returns the smallest recovery time up to limit, in 5 ms
// steps, whose run the grader judges valid, or -1. Validity grows with the
// recovery time (a converged replica stays converged once adds stop), so a
// binary search finds it.
func convergence(t *testing.T, nodeArgs []string, timeLimit, limit time.Duration) time.Duration {
	steps := int(limit / (5 * time.Millisecond))
	valid := func(i int) bool {
		return gradeScenario(t, nodeArgs, timeLimit, time.Duration(i)*5*time.Millisecond) == checker.Valid
	}
	lo, hi := 0, steps+1 // invariant: runs below lo are invalid, runs from hi are valid
	for lo < hi {
		mid := (lo + hi) / 2
		if valid(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo > steps {
		return -1
	}
	return time.Duration(lo) * 5 * time.Millisecond
}

func gradeScenario(t *testing.T, nodeArgs []string, timeLimit, recovery time.Duration) checker.Validity {
	opts, err := maelstrom.ParseArgs(convergenceArgs)
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir = ""
	opts.Seed = gradetest.Seed
	opts.TimeLimit = timeLimit
	opts.RecoveryTime = recovery
	opts.NemesisInterval = 1000 * time.Hour
	opts.Faults = []nemesis.Fault{isolateAll{}}
	var rep *maelstrom.Report
	synctest.Test(t, func(t *testing.T) {
		rep, err = maelstrom.Run(context.Background(), opts, maelstrom.InProcess{Program: node.Program(Configure), Args: nodeArgs})
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Valid
}
