package maelstrom

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"-w", "broadcast", "--bin", "x", "--node-count", "5", "--time-limit=20",
		"--rate", "100.5", "--concurrency", "2n", "--latency", "15", "--latency-dist", "uniform",
		"--nemesis", "partition", "--nemesis-interval", "3", "--topology", "tree4", "--availability", "0.9",
		"--log-stderr", "--seed", "12", "--", "--stage", "x"})
	if err != nil {
		t.Fatal(err)
	}
	th, _ := o.Threads()
	if o.Workload != "broadcast" || o.TimeLimit != 20*time.Second || o.Rate != 100.5 || th != 10 ||
		o.Latency != 15*time.Millisecond || !o.LogStderr || o.Seed != 12 || !o.SeedSet ||
		!slices.Equal(o.NodeArgs, []string{"--stage", "x"}) || o.Topology != "tree4" {
		t.Fatalf("parsed %+v", o)
	}
	// Node arguments may also follow the flags without --.
	o, err = ParseArgs([]string{"-w", "echo", "--bin", "x", "echo", "--verbose"})
	if err != nil || !slices.Equal(o.NodeArgs, []string{"echo", "--verbose"}) {
		t.Fatalf("positional node args: %v %v", o.NodeArgs, err)
	}
}

func TestParseArgsRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"\u2013-rate", "5"}, "en-dash (U+2013); type two ASCII hyphens"},
		{[]string{"\u2014rate", "5"}, "em-dash (U+2014)"},
		{[]string{"--rte", "5"}, "unknown flag --rte"},
		{[]string{"-w", "nope"}, `unknown workload "nope"`},
		{[]string{"-w", "lin-kv", "--node-count", "3", "--concurrency", "4"}, "multiple of 6"},
		{[]string{"-w", "echo", "--latency-dist", "bimodal"}, "unknown latency distribution"},
		{[]string{"-w", "echo", "--rte"}, "unknown flag --rte"},
		{[]string{"-w", "echo", "--nodes", "n1,n1"}, "listed twice"},
		{[]string{"-w", "echo", "--nodes", "c1,n2"}, "names clients"},
		{[]string{"-w", "echo", "--nodes", "n1,lin-kv"}, "service"},
		{[]string{"-w", "echo", "--nodes", "n1,n2", "--node-count", "3"}, "--nodes lists 2"},
		{[]string{"-w", "echo", "--log-net-send=maybe"}, "a switch takes no value"},
		{[]string{"-w", "echo", "--nemesis", "partition,bogus"}, `unknown nemesis "bogus"`},
		{[]string{"-w", "echo", "--availability", "2"}, "fraction between 0 and 1"},
		{[]string{"--rate"}, "--rate needs a value"},
		{[]string{"-w", "echo", "--topology", "star"}, `unknown topology "star"`},
	} {
		_, err := ParseArgs(c.args)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseArgs(%q) = %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}

func TestParseArgsParityFlags(t *testing.T) {
	o, err := ParseArgs([]string{"-w", "echo", "--nodes", "n1,n2,n3", "--test-count", "3", "--log-net-send",
		"--log-net-recv", "--latency-dist", "exponential", "--strict-protocol", "--node-memory", "512",
		"--node-open-files", "64", "--node-processes", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.IDs(), []string{"n1", "n2", "n3"}) || o.NodeCount != 3 || o.TestCount != 3 ||
		!o.LogNetSend || !o.LogNetRecv || !o.StrictProtocol || o.NodeLimits != (Limits{Memory: 512 << 20, OpenFiles: 64}) {
		t.Fatalf("parsed %+v", o)
	}
	// Switches in last position, and =false.
	o, err = ParseArgs([]string{"-w", "echo", "--log-net-send=false", "--log-net-recv"})
	if err != nil || o.LogNetSend || !o.LogNetRecv {
		t.Fatalf("switches: %+v %v", o, err)
	}
	if o, _ := ParseArgs([]string{"-w", "echo", "--node-count", "2"}); !slices.Equal(o.IDs(), []string{"n0", "n1"}) {
		t.Fatalf("default ids %v", o.IDs())
	}
}
