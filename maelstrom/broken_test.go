package maelstrom

import (
	"context"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

func TestUniqueIDs(t *testing.T) {
	rep := grade(t, testnodes.UniqueIDs(false), "-w", "unique-ids", "--node-count", "3", "--time-limit", "10",
		"--rate", "200", "--nemesis", "partition", "--availability", "total")
	wantVerdict(t, rep, checker.Valid)

	rep = grade(t, testnodes.UniqueIDs(true), "-w", "unique-ids", "--node-count", "3", "--time-limit", "5", "--rate", "50")
	wantVerdict(t, rep, checker.Invalid, "first problem (unique-ids)")
}

func TestBroadcastGossipSurvivesPartitions(t *testing.T) {
	rep := grade(t, testnodes.Broadcast(false, false), "-w", "broadcast", "--node-count", "5", "--time-limit", "20",
		"--rate", "20", "--nemesis", "partition", "--nemesis-interval", "3", "--latency", "20", "--latency-dist", "uniform")
	wantVerdict(t, rep, checker.Valid, "stable latency", "start-partition")
	if rep.Net.Dropped == 0 {
		t.Fatalf("partitions dropped nothing; the nemesis did not act\n%s", rep.Summary())
	}
}

func TestBroadcastLosesUnderPartition(t *testing.T) {
	rep := grade(t, testnodes.Broadcast(true, false), "-w", "broadcast", "--node-count", "5", "--time-limit", "20",
		"--rate", "20", "--nemesis", "partition", "--nemesis-interval", "3")
	wantVerdict(t, rep, checker.Invalid, "first problem (set-full)")
}

func TestBroadcastExtraKeyInReply(t *testing.T) {
	rep := grade(t, testnodes.Broadcast(false, true), "-w", "broadcast", "--node-count", "3", "--time-limit", "5", "--rate", "20")
	wantVerdict(t, rep, checker.Invalid, "extra key message in broadcast_ok", "malformed replies:")
	if rep.MalformedReplies == 0 {
		t.Fatal("no malformed replies counted")
	}
}

func TestCounters(t *testing.T) {
	rep := grade(t, testnodes.Counter(false), "-w", "g-counter", "--node-count", "3", "--time-limit", "10", "--rate", "20",
		"--latency", "5")
	wantVerdict(t, rep, checker.Valid)
	rep = grade(t, testnodes.Counter(true), "-w", "g-counter", "--node-count", "3", "--time-limit", "10", "--rate", "20")
	wantVerdict(t, rep, checker.Invalid, "first problem (counter)")
}

func TestGarbageOnStdout(t *testing.T) {
	rep := grade(t, testnodes.EchoGarbage(), "-w", "echo", "--node-count", "2", "--time-limit", "3", "--strict-protocol")
	wantVerdict(t, rep, checker.Invalid, "not well-formed JSON", "got an echo, replying")
	pe := rep.ProtocolErrors[0]
	if pe.Node == "" || pe.Line != "got an echo, replying" {
		t.Fatalf("protocol error %+v does not name the node and the line", pe)
	}
	// The run kept reading: the real replies still arrived.
	if rep.ByF["echo"].OK == 0 {
		t.Fatalf("no echo succeeded after the garbage line\n%s", rep.Summary())
	}
}

func TestCrashedNodeEndsRun(t *testing.T) {
	rep := grade(t, testnodes.EchoCrash(), "-w", "echo", "--node-count", "1", "--time-limit", "10", "--rate", "10")
	if rep.Crash == nil || rep.ExitCode() != 255 {
		t.Fatalf("want a crash report and exit 255, got exit %d\n%s", rep.ExitCode(), rep.Summary())
	}
	sum := rep.Summary()
	for _, want := range []string{"node n0", "crashed", "exit status 2", "index out of range"} {
		if !strings.Contains(sum, want) {
			t.Errorf("crash report lacks %q:\n%s", want, sum)
		}
	}
	if rep.SimDuration.Seconds() > 5 {
		t.Errorf("the run went on for %v after the crash", rep.SimDuration)
	}
}

func TestNodeNeverAnswersInit(t *testing.T) {
	rep := grade(t, testnodes.NoInit(), "-w", "echo", "--node-count", "2", "--time-limit", "10")
	if rep.Crash == nil || rep.ExitCode() != 255 {
		t.Fatalf("want a setup failure, got exit %d\n%s", rep.ExitCode(), rep.Summary())
	}
	sum := rep.Summary()
	for _, want := range []string{"node n0", "did not answer init within 10s", "ignoring init on purpose"} {
		if !strings.Contains(sum, want) {
			t.Errorf("report lacks %q:\n%s", want, sum)
		}
	}
}

func TestLinKV(t *testing.T) {
	rep := grade(t, testnodes.LinKVProxy("lin-kv"), "-w", "lin-kv", "--node-count", "2", "--concurrency", "2n",
		"--time-limit", "10", "--rate", "50", "--latency", "5")
	wantVerdict(t, rep, checker.Valid)
	rep = grade(t, testnodes.LinKVProxy("lww-kv"), "-w", "lin-kv", "--node-count", "2", "--concurrency", "2n",
		"--time-limit", "10", "--rate", "50", "--latency", "5")
	wantVerdict(t, rep, checker.Invalid, "first problem (linearizable)", `{"key":0,"value":`)
	if strings.Contains(rep.Summary(), "0x") {
		t.Errorf("summary shows pointers instead of values:\n%s", rep.Summary())
	}
}

func TestKafkaAndTxnSingleNode(t *testing.T) {
	args := []string{"-w", "kafka", "--node-count", "1", "--concurrency", "2n", "--time-limit", "10", "--rate", "100"}
	rep := grade(t, testnodes.KafkaSingle(false), args...)
	wantVerdict(t, rep, checker.Valid)
	if rep.ByF["poll"].OK == 0 || rep.ByF["send"].OK == 0 {
		t.Fatalf("no polls or sends succeeded\n%s", rep.Summary())
	}
	rep = grade(t, testnodes.KafkaSingle(true), args...)
	wantVerdict(t, rep, checker.Invalid, "first problem (kafka)")
	for _, w := range []string{"txn-rw-register", "txn-list-append"} {
		rep = grade(t, testnodes.TxnSingle(), "-w", w, "--node-count", "1", "--time-limit", "10", "--rate", "50")
		wantVerdict(t, rep, checker.Valid)
	}
}

func TestMalformedEnvelope(t *testing.T) {
	prog := testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			n.Raw(`{"src":"` + n.ID + `","dest":"` + m.Src + `","body":{"type":"echo_ok"},"extra":1}`)
			n.Raw(`{"src":"` + n.ID + `","dest":"n7","body":{"type":"hello"}}`)
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
			return nil
		}}
	})
	rep := grade(t, prog, "-w", "echo", "--node-count", "1", "--time-limit", "2", "--strict-protocol")
	wantVerdict(t, rep, checker.Invalid, "first problem (protocol)", `unknown field "extra"`, `invalid destination "n7"`)
}

// By default a malformed line is reported prominently but, as in
// Maelstrom, does not make the run invalid: Jepsen's own Ruby pn_counter
// demo replies with "src": null when a peer's message races its init.
func TestProtocolErrorsReportedNotJudgedByDefault(t *testing.T) {
	prog := testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			n.Raw(`{"src":null,"dest":"` + m.Src + `","body":{"type":"echo_ok","in_reply_to":0}}`)
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
			return nil
		}}
	})
	rep := grade(t, prog, "-w", "echo", "--node-count", "1", "--time-limit", "2")
	wantVerdict(t, rep, checker.Valid, "WARNINGS", "src must be a non-empty string", `"src":null`, "--strict-protocol")
	res, _ := rep.Result("protocol")
	if res.Valid != checker.Valid || len(res.Warnings) != 1 || rep.ProtocolErrorCount == 0 || len(rep.Warnings) == 0 {
		t.Fatalf("protocol %+v, %d errors, warnings %q", res, rep.ProtocolErrorCount, rep.Warnings)
	}
	rep = grade(t, prog, "-w", "echo", "--node-count", "1", "--time-limit", "2", "--strict-protocol")
	wantVerdict(t, rep, checker.Invalid, "first problem (protocol)", "src must be a non-empty string")
}

// A node may speak only as itself: a line claiming another node, a client
// or a service as its src is dropped and counted, never routed.
func TestSpoofedSourceDropped(t *testing.T) {
	for _, src := range []string{"n1", "c0", "lin-kv"} {
		prog := testnodes.Program(func() testnodes.Handlers {
			return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
				if n.ID == "n0" {
					n.Raw(`{"src":"` + src + `","dest":"n1","body":{"type":"echo","echo":"loop","msg_id":1}}`)
				}
				n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
				return nil
			}}
		})
		rep := grade(t, prog, "-w", "echo", "--node-count", "2", "--time-limit", "2")
		wantVerdict(t, rep, checker.Valid, "src was not the node", `with src "`+src+`"`, "WARNINGS")
		if rep.SpoofedLines == 0 || rep.FirstSpoofed == nil || rep.FirstSpoofed.Node != "n0" {
			t.Fatalf("src %s: spoofed %d, first %+v", src, rep.SpoofedLines, rep.FirstSpoofed)
		}
		for _, e := range rep.journal {
			if e.Src == src && e.Dest == "n1" && e.Kind == "send" && strings.Contains(string(e.Body), "loop") {
				t.Fatalf("src %s: the spoofed line was routed: %+v", src, e)
			}
		}
		rep = grade(t, prog, "-w", "echo", "--node-count", "2", "--time-limit", "2", "--strict-protocol")
		wantVerdict(t, rep, checker.Invalid, "first problem (protocol): message not from its node")
	}
}

// A node that echoes its input (as cat does) sends init back as if from
// the client: the run ends at once with a clear reason, not in a storm of
// messages until init times out.
func TestEchoingNodeEndsRunAtOnce(t *testing.T) {
	cat := func(_ context.Context, pio program.IO) error {
		_, err := io.Copy(pio.Stdout, pio.Stdin)
		return err
	}
	rep := grade(t, cat, "-w", "echo", "--node-count", "1", "--time-limit", "10")
	if rep.Crash == nil || rep.ExitCode() != 255 {
		t.Fatalf("exit %d, want 255 with a crash report\n%s", rep.ExitCode(), rep.Summary())
	}
	s := rep.Summary()
	for _, want := range []string{`src "c0"`, "before answering init", "like cat"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if rep.SimDuration > time.Second || rep.Net.All.MsgCount > 5 || rep.SpoofedLines != 1 {
		t.Fatalf("ran %v with %d messages and %d spoofed lines; want an immediate end\n%s", rep.SimDuration, rep.Net.All.MsgCount, rep.SpoofedLines, s)
	}
}

func TestProgressLines(t *testing.T) {
	opts, _ := ParseArgs([]string{"-w", "echo", "--node-count", "1", "--time-limit", "12", "--seed", "1"})
	opts.StoreDir = ""
	var out strings.Builder
	opts.Stderr, opts.ProgressEvery = &out, 5*time.Second
	synctest.Test(t, func(t *testing.T) {
		if _, err := Run(context.Background(), opts, InProcess{Program: testnodes.Echo(false)}); err != nil {
			t.Fatal(err)
		}
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "10.0s  ops ok") {
		t.Fatalf("progress lines %q, want two, at 5 s and 10 s", lines)
	}
}

// A reply that arrives after the client timed out and was replaced is
// dropped and counted, not treated as a protocol error.
func TestLateReplyToReplacedClient(t *testing.T) {
	prog := testnodes.Program(func() testnodes.Handlers {
		var held []testnodes.Msg
		return testnodes.Handlers{
			Every: 6 * time.Second,
			Tick: func(n *testnodes.Node) {
				for _, m := range held {
					n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
				}
				held = nil
			},
			Handle: func(n *testnodes.Node, m testnodes.Msg) error {
				held = append(held, m) // answer only on the next tick: too late
				return nil
			}}
	})
	rep := grade(t, prog, "-w", "echo", "--node-count", "1", "--time-limit", "20", "--rate", "1")
	wantVerdict(t, rep, checker.Invalid, "late replies to clients that had already timed out")
	if rep.ProtocolErrorCount != 0 || rep.LateReplies["n0"] == 0 {
		t.Fatalf("late replies %v, protocol errors %d; want late replies only\n%s", rep.LateReplies, rep.ProtocolErrorCount, rep.Summary())
	}
}

func TestNodeNeverAnswersTopology(t *testing.T) {
	prog := testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error { return nil }}
	})
	rep := grade(t, prog, "-w", "broadcast", "--node-count", "2", "--time-limit", "10")
	if rep.Crash == nil || rep.ExitCode() != 255 {
		t.Fatalf("want a setup failure, got exit %d\n%s", rep.ExitCode(), rep.Summary())
	}
	if s := rep.Summary(); !strings.Contains(s, "failed setup: topology for n") || !strings.Contains(s, "timed out") {
		t.Fatalf("report does not say topology timed out:\n%s", s)
	}
}

func TestPanickingNodeShowsWhere(t *testing.T) {
	prog := testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			return deepPanic(30, len(m.Body))
		}}
	})
	rep := grade(t, prog, "-w", "echo", "--node-count", "1", "--time-limit", "5")
	if rep.ExitCode() != 255 {
		t.Fatalf("exit %d, want 255\n%s", rep.ExitCode(), rep.Summary())
	}
	if s := rep.Summary(); !strings.Contains(s, "index out of range") || !strings.Contains(s, "broken_test.go") {
		t.Fatalf("crash report lacks the panic and where it happened:\n%s", s)
	}
}

// deepPanic panics depth calls down, so that the stack trace is longer
// than the stderr lines a crash report keeps.
func deepPanic(depth, i int) error {
	if depth > 0 {
		return deepPanic(depth-1, i)
	}
	var seen []int64
	seen[i]++ // a learner's off-by-everything index
	return nil
}

// A node flooding stderr: the log keeps its first 8 MiB, a long line is
// cut, and the summary says what was dropped.
func TestStderrFloodIsCut(t *testing.T) {
	prog := func(ctx context.Context, pio program.IO) error {
		line := strings.Repeat("x", 1023) + "\n"
		for range 10 << 10 { // 10 MiB
			if _, err := io.WriteString(pio.Stderr, line); err != nil {
				return err
			}
		}
		io.WriteString(pio.Stderr, strings.Repeat("y", 1<<20)+"\n")
		return testnodes.Echo(false)(ctx, pio)
	}
	rep := grade(t, prog, "-w", "echo", "--node-count", "1", "--time-limit", "2")
	wantVerdict(t, rep, checker.Valid, "WARNINGS", "node n0 wrote more to stderr than the grader keeps")
	if len(rep.nodeLogs["n0"]) > maxLogBytes || rep.StderrDropped["n0"] < 2<<20 {
		t.Fatalf("log %d bytes, dropped %d", len(rep.nodeLogs["n0"]), rep.StderrDropped["n0"])
	}
}
