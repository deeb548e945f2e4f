// Package maelstrom is the grader: a Go reimplementation of Maelstrom's
// `test` command. It starts the nodes (as processes, or in-process as
// goroutines running a program.Program), routes their messages through a
// simulated network (package netsim) with the built-in services, drives
// clients with a workload's generator (package workload), injects faults
// (package nemesis), then checks the history (package checker), writes the
// store directory and returns a Report whose ExitCode matches Maelstrom's.
//
// In-process runs use only timers and channels, so a caller that wraps Run
// in testing/synctest.Test gets virtual time: a 30 s scenario takes well
// under a second.
package maelstrom

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
	"github.com/distsys-curriculum/distsys/maelstrom/services"
	"github.com/distsys-curriculum/distsys/maelstrom/workload"
)

// Options are the flags of `maelstrom test`.
type Options struct {
	Workload  string
	NodeCount int
	// NodeIDs are the nodes' ids (--nodes); empty means n0..n(NodeCount-1).
	NodeIDs           []string
	TimeLimit         time.Duration
	Rate              float64 // total mean ops/s; 0 means no client ops
	Concurrency       string  // "N" or "Kn" (K × node count)
	Latency           time.Duration
	LatencyDist       string
	Nemesis           []string
	NemesisInterval   time.Duration
	Topology          string
	Availability      string // "", "total", a fraction 0..1, "majority" or "majority:F"
	LogStderr         bool
	ConsistencyModels []string
	KeyCount          int
	MaxTxnLength      int
	MaxWritesPerKey   int
	Seed              uint64
	SeedSet           bool   // --seed was given
	StoreDir          string // "" keeps nothing on disk
	Bin               string
	NodeArgs          []string
	// RecoveryTime is the quiet period before final reads (Maelstrom: 10 s).
	RecoveryTime time.Duration
	// IDOrder "per-node" makes unique-ids also check that each node's ids
	// strictly increase (for time-ordered id strategies).
	IDOrder string
	// Timestamps is the timestamp kind the clocks workload demands
	// (wall, lamport, vector, hlc); "" infers it from the first one.
	Timestamps string
	// ClockSkew and ClockDrift bound the clock nemesis: offsets up to
	// ±ClockSkew, drift up to ±ClockDrift ppm (0: the nemesis defaults).
	ClockSkew  time.Duration
	ClockDrift float64
	// ByzantineCount is how many nodes the byzantine nemesis takes over
	// (0: f = (n-1)/3); ByzantineLies the lies they tell (nil: all).
	ByzantineCount int
	ByzantineLies  []string
	// StrictProtocol makes a line a node printed that is not a valid
	// message (malformed, unroutable, or not from that node) fail the run;
	// by default it is reported and dropped, as Maelstrom does.
	StrictProtocol bool
	// Exercise names the faults a run must have exercised to be judged
	// (kill, partition, pause, clock, corrupt): a run whose nemesis never
	// took effect that way is unknown, with the reason, not valid.
	Exercise []string
	// LogNetSend and LogNetRecv print every message as it is sent or
	// delivered, on Stderr.
	LogNetSend, LogNetRecv bool
	// TestCount repeats the test (the command line stops at the first
	// run that does not pass); 0 and 1 both mean once.
	TestCount int
	// NodeLimits bound each node process (Binary); all zero means none.
	NodeLimits Limits
	// WorkloadFlags are the values of flags that belong to a workload
	// (workload.Spec.Flags), by name without dashes.
	WorkloadFlags map[string]string

	// Faults are added to the --nemesis faults: faults a track defines for
	// itself, or a test's scripted fault.
	Faults []nemesis.Fault

	// Stderr receives progress lines and, with LogStderr, node stderr.
	Stderr io.Writer
	// ProgressEvery is the progress period (0: no progress lines);
	// ProgressTerminal redraws one line in place.
	ProgressEvery    time.Duration
	ProgressTerminal bool
}

// DefaultOptions are Maelstrom's defaults: nodes n0..n(N-1), N = 5 unless
// --node-count or --nodes is given.
func DefaultOptions() Options {
	return Options{
		Workload: "lin-kv", NodeCount: 5, TimeLimit: 60 * time.Second, Rate: 5,
		Concurrency: "1n", LatencyDist: "constant", NemesisInterval: 10 * time.Second,
		Topology: "grid", ConsistencyModels: []string{"strict-serializable"},
		KeyCount: 10, MaxTxnLength: 4, MaxWritesPerKey: 16, StoreDir: "store",
		RecoveryTime: 10 * time.Second, NodeLimits: DefaultLimits(),
	}
}

// IDs are the node ids of a run: --nodes, or n0..n(N-1).
func (o Options) IDs() []string {
	if len(o.NodeIDs) > 0 {
		return o.NodeIDs
	}
	ids := make([]string, o.NodeCount)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%d", i)
	}
	return ids
}

// UsageError is a problem with the arguments (exit code 254).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// Threads resolves Concurrency against the node count.
func (o Options) Threads() (int, error) {
	s := strings.TrimSpace(o.Concurrency)
	if s == "" {
		s = "1n"
	}
	mult := 1
	if strings.HasSuffix(s, "n") {
		mult = o.NodeCount
		s = strings.TrimSuffix(s, "n")
		if s == "" {
			s = "1"
		}
	}
	k, err := strconv.Atoi(s)
	if err != nil || k <= 0 {
		return 0, usagef("--concurrency %q: want a positive integer or Kn (K times the node count), e.g. 2n", o.Concurrency)
	}
	return k * mult, nil
}

// dashes that look like a hyphen but are not one.
var lookalikeDashes = map[rune]string{
	'\u2010': "a hyphen (U+2010)", '\u2011': "a non-breaking hyphen (U+2011)",
	'\u2012': "a figure dash (U+2012)", '\u2013': "an en-dash (U+2013)",
	'\u2014': "an em-dash (U+2014)", '\u2015': "a horizontal bar (U+2015)",
	'\u2212': "a minus sign (U+2212)", '\uFE58': "a small em-dash (U+FE58)",
	'\uFE63': "a small hyphen-minus (U+FE63)", '\uFF0D': "a fullwidth hyphen-minus (U+FF0D)",
}

func checkDashes(arg string) error {
	for i, r := range arg {
		if i > 2 {
			break
		}
		if what, ok := lookalikeDashes[r]; ok {
			return usagef("%s: this dash is %s; type two ASCII hyphens (--), as word processors and chat apps often replace them", arg, what)
		}
		if r == utf8.RuneError {
			break
		}
	}
	return nil
}

// ParseArgs parses `maelstrom test` arguments (without "test"). Arguments
// after "--", or after the first positional argument, go to the nodes.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	nodeCountSet := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if err := checkDashes(a); err != nil {
			return o, err
		}
		if a == "--" {
			o.NodeArgs = append(o.NodeArgs, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") {
			o.NodeArgs = append(o.NodeArgs, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		if !knownFlag(name) {
			return o, usagef("unknown flag %s (see `maelstrom help`)", name)
		}
		if !hasVal && !switches[name] && !workload.IsSwitch(strings.TrimPrefix(name, "--")) {
			if i+1 >= len(args) {
				return o, usagef("%s needs a value", name)
			}
			i++
			val = args[i]
		}
		if err := o.set(name, val, hasVal); err != nil {
			return o, err
		}
		nodeCountSet = nodeCountSet || name == "--node-count"
	}
	if len(o.NodeIDs) > 0 {
		if nodeCountSet && o.NodeCount != len(o.NodeIDs) {
			return o, usagef("--node-count %d but --nodes lists %d nodes; give one of them", o.NodeCount, len(o.NodeIDs))
		}
		o.NodeCount = len(o.NodeIDs)
	}
	return o, o.Validate()
}

// switches are the flags that take no value (--flag=false turns one off).
var switches = map[string]bool{"--log-stderr": true, "--log-net-send": true, "--log-net-recv": true, "--strict-protocol": true}

// flagNames are the flags of `maelstrom test` besides workload flags.
var flagNames = []string{"-w", "--workload", "--bin", "--node-count", "--nodes", "--time-limit", "--rate", "--concurrency",
	"--latency", "--latency-dist", "--nemesis", "--nemesis-interval", "--topology", "--availability", "--log-stderr",
	"--log-net-send", "--log-net-recv", "--consistency-models", "--key-count", "--max-txn-length", "--max-writes-per-key",
	"--seed", "--store", "--store-dir", "--id-order", "--timestamps", "--clock-skew", "--clock-drift", "--recovery-time",
	"--byzantine-count", "--byzantine-lies", "--test-count", "--strict-protocol", "--exercise", "--node-memory", "--node-open-files", "--node-processes"}

func knownFlag(name string) bool {
	if slices.Contains(flagNames, name) {
		return true
	}
	bare := strings.TrimLeft(name, "-")
	return strings.HasPrefix(name, "--") && len(workload.FlagOwners(bare)) > 0
}

// switchValue reads a switch: present alone, or =true / =false.
func switchValue(name, val string, hasVal bool) (bool, error) {
	if !hasVal {
		return true, nil
	}
	b, err := strconv.ParseBool(val)
	if err != nil {
		return false, usagef("%s=%s: a switch takes no value, or =true / =false", name, val)
	}
	return b, nil
}

func (o *Options) set(name, val string, hasVal bool) error {
	num := func() (float64, error) {
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || f < 0 {
			return 0, usagef("%s %q: want a non-negative number", name, val)
		}
		return f, nil
	}
	integer := func() (int, error) {
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return 0, usagef("%s %q: want a non-negative integer", name, val)
		}
		return n, nil
	}
	secs := func() (time.Duration, error) {
		f, err := num()
		return time.Duration(f * float64(time.Second)), err
	}
	var err error
	switch name {
	case "-w", "--workload":
		o.Workload = val
	case "--bin":
		o.Bin = val
	case "--node-count":
		o.NodeCount, err = integer()
	case "--time-limit":
		o.TimeLimit, err = secs()
	case "--rate":
		o.Rate, err = num()
	case "--concurrency":
		o.Concurrency = val
	case "--latency":
		var ms float64
		ms, err = num()
		o.Latency = time.Duration(ms * float64(time.Millisecond))
	case "--latency-dist":
		o.LatencyDist = val
	case "--nemesis":
		o.Nemesis = splitList(val)
	case "--nemesis-interval":
		o.NemesisInterval, err = secs()
	case "--topology":
		o.Topology = val
	case "--availability":
		o.Availability = val
	case "--log-stderr":
		o.LogStderr, err = switchValue(name, val, hasVal)
	case "--log-net-send":
		o.LogNetSend, err = switchValue(name, val, hasVal)
	case "--log-net-recv":
		o.LogNetRecv, err = switchValue(name, val, hasVal)
	case "--strict-protocol":
		o.StrictProtocol, err = switchValue(name, val, hasVal)
	case "--exercise":
		o.Exercise = splitList(val)
	case "--nodes":
		o.NodeIDs = splitList(val)
		if len(o.NodeIDs) == 0 {
			err = usagef("--nodes %q: want node ids separated by commas, e.g. n1,n2,n3", val)
		}
	case "--test-count":
		o.TestCount, err = integer()
	case "--node-memory":
		var mb float64
		mb, err = num()
		o.NodeLimits.Memory = uint64(mb * (1 << 20))
	case "--node-open-files":
		var n int
		n, err = integer()
		o.NodeLimits.OpenFiles = uint64(n)
	case "--node-processes":
		var n int
		n, err = integer()
		o.NodeLimits.Processes = uint64(n)
	case "--consistency-models":
		o.ConsistencyModels = splitList(val)
	case "--key-count":
		o.KeyCount, err = integer()
	case "--max-txn-length":
		o.MaxTxnLength, err = integer()
	case "--max-writes-per-key":
		o.MaxWritesPerKey, err = integer()
	case "--seed":
		o.Seed, err = strconv.ParseUint(val, 10, 64)
		if err != nil {
			err = usagef("--seed %q: want a non-negative integer", val)
		}
		o.SeedSet = true
	case "--store", "--store-dir":
		o.StoreDir = val
	case "--id-order":
		o.IDOrder = val
	case "--timestamps":
		o.Timestamps = val
	case "--clock-skew":
		var ms float64
		ms, err = num()
		o.ClockSkew = time.Duration(ms * float64(time.Millisecond))
	case "--clock-drift":
		o.ClockDrift, err = num()
	case "--byzantine-count":
		o.ByzantineCount, err = integer()
		if err == nil && o.ByzantineCount < 0 {
			err = usagef("--byzantine-count %q: want a non-negative integer", val)
		}
	case "--byzantine-lies":
		o.ByzantineLies, err = nemesis.ParseLies(val)
		if err != nil {
			err = usagef("--byzantine-lies: %v", err)
		}
	case "--recovery-time":
		o.RecoveryTime, err = secs()
	default:
		if bare := strings.TrimLeft(name, "-"); strings.HasPrefix(name, "--") && len(workload.FlagOwners(bare)) > 0 {
			if o.WorkloadFlags == nil {
				o.WorkloadFlags = map[string]string{}
			}
			if !hasVal && workload.IsSwitch(bare) {
				val = "true"
			}
			o.WorkloadFlags[bare] = val
			return nil
		}
		return usagef("unknown flag %s (see `maelstrom help`)", name)
	}
	return err
}

// validIDs checks --nodes: distinct ids that cannot be mistaken for a
// client (c...), a service or the nemesis endpoint.
func validIDs(ids []string) error {
	seen := map[string]bool{}
	for _, id := range ids {
		switch {
		case seen[id]:
			return usagef("--nodes: %q is listed twice", id)
		case netsim.IsClient(id):
			return usagef("--nodes: %q starts with c, which names clients; node ids usually start with n", id)
		case slices.Contains(services.Names, id) || id == nemesis.ControlSource:
			return usagef("--nodes: %q is the name of a service of the grader", id)
		case strings.ContainsAny(id, " \t\"\\"):
			return usagef("--nodes: %q: ids must not contain spaces or quotes", id)
		}
		seen[id] = true
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks option values that do not depend on the nodes.
func (o Options) Validate() error {
	spec, err := workload.Lookup(o.Workload)
	if err != nil {
		return &UsageError{Msg: "--workload: " + err.Error()}
	}
	if _, err := spec.FlagValues(o.WorkloadFlags); err != nil {
		return &UsageError{Msg: err.Error()}
	}
	if o.NodeCount < 1 {
		return usagef("--node-count must be at least 1")
	}
	threads, err := o.Threads()
	if err != nil {
		return err
	}
	if spec.ConcurrencyMultipleOf != nil {
		if m := spec.ConcurrencyMultipleOf(o.NodeCount); threads%m != 0 {
			return usagef("--concurrency %s gives %d clients; %s needs a multiple of %d (2 × node count): use --concurrency 2n", o.Concurrency, threads, o.Workload, m)
		}
	}
	// Without --latency every distribution is 0 ms: Maelstrom ignores
	// --latency-dist then, and so does the grader (run.go).
	if _, err := netsim.ParseDist(o.LatencyDist); err != nil {
		return &UsageError{Msg: "--latency-dist: " + err.Error()}
	}
	if err := validIDs(o.NodeIDs); err != nil {
		return err
	}
	if _, err := nemesis.Parse(strings.Join(o.Nemesis, ",")); err != nil {
		return &UsageError{Msg: "--nemesis: " + err.Error()}
	}
	for _, f := range o.Exercise {
		if !slices.Contains(o.Nemesis, f) && !slices.ContainsFunc(o.Nemesis, func(n string) bool { return exercisedBy[n] == f }) {
			return usagef("--exercise %s: no fault of --nemesis %q can exercise it", f, strings.Join(o.Nemesis, ","))
		}
	}
	if _, err := workload.Topology(o.Topology, []string{"n0"}); err != nil {
		return &UsageError{Msg: "--topology: " + err.Error()}
	}
	if _, _, err := checker.ParseAvailabilityGoal(o.Availability); err != nil {
		return usagef("--availability %q: want total, a fraction between 0 and 1, majority or majority:F", o.Availability)
	}
	if o.IDOrder != "" && o.IDOrder != "per-node" {
		return usagef("--id-order %q: the only order unique-ids can check is per-node", o.IDOrder)
	}
	if o.TimeLimit <= 0 {
		return usagef("--time-limit must be above 0 seconds")
	}
	return nil
}
