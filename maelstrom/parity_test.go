package maelstrom

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

func TestHelpListsParityFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, Main(context.Background(), []string{"test", "--help"}, &out, &errOut))
	for _, f := range []string{"--nodes IDS", "--test-count N", "--log-net-send", "--log-net-recv", "--latency-dist D",
		"--strict-protocol", "--node-memory MB", "--node-open-files N", "--node-processes N", "--strict-initial-reads"} {
		require.Contains(t, out.String(), f)
	}
	// Every flag the parser knows is in the help.
	for _, f := range flagNames {
		if f == "--store-dir" {
			continue // an alias of --store
		}
		require.Contains(t, out.String(), f, "help lacks %s", f)
	}
}

func TestUnknownCommandListsEveryCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 254, Main(context.Background(), []string{"serve"}, &out, &errOut))
	for _, c := range Commands {
		require.Contains(t, errOut.String(), c)
	}
}

func TestUnknownFlagInLastPosition(t *testing.T) {
	for _, args := range [][]string{{"-w", "echo", "--frobnicate"}, {"-w", "echo", "--bin", "x", "--log-net"}} {
		_, err := ParseArgs(args)
		require.ErrorContains(t, err, "unknown flag "+args[len(args)-1])
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 254, Main(context.Background(), []string{"test", "-w", "echo", "--bin", "x", "--frobnicate"}, &out, &errOut))
	require.Contains(t, errOut.String(), "unknown flag --frobnicate")
}

// --test-count repeats with the next seeds and stops at the first run
// that does not pass.
func TestTestCountStopsAtFirstFailure(t *testing.T) {
	opts, err := ParseArgs([]string{"-w", "echo", "--test-count", "5", "--seed", "10"})
	require.NoError(t, err)
	var seeds []uint64
	var out bytes.Buffer
	code := repeat(context.Background(), opts, &out, func(o Options) int {
		seeds = append(seeds, o.Seed)
		if len(seeds) == 3 {
			return 1
		}
		return 0
	})
	require.Equal(t, 1, code)
	require.Equal(t, []uint64{10, 11, 12}, seeds)
	require.Contains(t, out.String(), "stopped at test 3 of 5")

	seeds = nil
	opts.TestCount = 2
	require.Zero(t, repeat(context.Background(), opts, &out, func(o Options) int { seeds = append(seeds, o.Seed); return 0 }))
	require.Len(t, seeds, 2)
	require.Contains(t, out.String(), "all 2 tests passed")
}

// --nodes names the nodes; --log-net-send and --log-net-recv print the
// traffic; --latency-dist without --latency is accepted.
func TestNodesAndNetLogging(t *testing.T) {
	opts, err := ParseArgs([]string{"-w", "echo", "--nodes", "n1,n2,n3", "--time-limit", "2", "--log-net-send",
		"--log-net-recv", "--latency-dist", "exponential", "--seed", "3"})
	require.NoError(t, err)
	opts.StoreDir = ""
	var log bytes.Buffer
	opts.Stderr = &log
	var rep *Report
	synctest.Test(t, func(t *testing.T) {
		rep, err = Run(context.Background(), opts, InProcess{Program: testnodes.Echo(false)})
	})
	require.NoError(t, err)
	wantVerdict(t, rep, checker.Valid)
	var nodes []string
	for _, op := range rep.History {
		if op.Node != "" && !slices.Contains(nodes, op.Node) {
			nodes = append(nodes, op.Node)
		}
	}
	slices.Sort(nodes)
	require.Equal(t, []string{"n1", "n2", "n3"}, nodes)
	l := log.String()
	require.Regexp(t, regexp.MustCompile(`send c0 -> n1 \{.*"node_id":"n1","node_ids":\["n1","n2","n3"\],"type":"init"`), l)
	require.Contains(t, l, "recv n1 -> c0")
	require.Equal(t, strings.Count(l, " send "), strings.Count(l, " recv "), "every message here is delivered")
}
