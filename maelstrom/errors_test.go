package maelstrom

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// errorsNode answers the errors workload; onUnknown decides what it does
// with a type it does not know.
func errorsNode(onUnknown func(n *testnodes.Node, m testnodes.Msg) error) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Src == "" || m.Body == nil || m.Int("msg_id") == 0 {
				n.Logf("skipping a message I cannot answer")
				return nil
			}
			if m.Type() != "echo" {
				return onUnknown(n, m)
			}
			if _, ok := m.Body["echo"]; !ok {
				n.Reply(m, map[string]any{"type": "error", "code": 12, "text": "echo without echo"})
				return nil
			}
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
			return nil
		}}
	})
}

func notSupported(n *testnodes.Node, m testnodes.Msg) error {
	n.Reply(m, map[string]any{"type": "error", "code": 10, "text": "unknown type " + m.Type()})
	return nil
}

var errorsArgs = []string{"-w", "errors", "--node-count", "2", "--time-limit", "10", "--rate", "20"}

func TestErrorsWorkloadValid(t *testing.T) {
	rep := grade(t, testnodes.Errors(), errorsArgs...)
	wantVerdict(t, rep, checker.Valid, "unknown types answered with error 10")
	if len(rep.LateReplies) > 0 {
		t.Errorf("late replies %v: a bad line was answered", rep.LateReplies)
	}
	for _, f := range []string{checker.ErrorsUnknown, checker.ErrorsMalformed, checker.ErrorsBadLine, checker.ErrorsEcho} {
		if c := rep.ByF[f]; c.OK+c.Fail == 0 {
			t.Errorf("no %s operation completed\n%s", f, rep.Summary())
		}
	}
	// The bad lines reached the nodes and were skipped.
	if !strings.Contains(rep.nodeLogs["n0"]+rep.nodeLogs["n1"], "bad line: this is not JSON") {
		t.Errorf("no node saw the injected lines; logs:\n%s", rep.nodeLogs["n0"])
	}
}

// A node that dies on an unknown type fails the run, invalid (exit 1),
// and the reason names the node, the request and the time.
func TestErrorsWorkloadCrashOnUnknownType(t *testing.T) {
	prog := errorsNode(func(n *testnodes.Node, m testnodes.Msg) error {
		n.Logf("panic: no handler for %s", m.Type())
		return errExit
	})
	rep := grade(t, prog, errorsArgs...)
	wantVerdict(t, rep, checker.Invalid, "first problem (protocol-errors): crash", "crashed at", "while handling a request of unknown type",
		"panic: no handler for")
	if rep.ExitCode() != 1 {
		t.Fatalf("exit %d, want 1 (invalid)", rep.ExitCode())
	}
	if res, _ := rep.Result("protocol-errors"); res.Valid != checker.Invalid || res.First().Node == "" || res.First().Op.F != checker.ErrorsUnknown {
		t.Fatalf("protocol-errors %+v", res)
	}
}

func TestErrorsWorkloadUnknownTypeAnsweredAsSuccess(t *testing.T) {
	prog := errorsNode(func(n *testnodes.Node, m testnodes.Msg) error {
		n.Reply(m, map[string]any{"type": m.Type() + "_ok"})
		return nil
	})
	rep := grade(t, prog, errorsArgs...)
	wantVerdict(t, rep, checker.Invalid, "first problem (protocol-errors): unknown type answered as a success", "which is not an error", "_ok")
}

func TestErrorsWorkloadMalformedRequestAccepted(t *testing.T) {
	rep := grade(t, testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Src == "" || m.Body["msg_id"] == nil {
				return nil
			}
			if m.Type() != "echo" {
				return notSupported(n, m)
			}
			var echo any = m.Body["echo"] // null when missing: a silent guess
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": echo})
			return nil
		}}
	}), errorsArgs...)
	wantVerdict(t, rep, checker.Invalid, "malformed request accepted", "must be refused")
}

func TestErrorsWorkloadStopsAfterBadLine(t *testing.T) {
	rep := grade(t, testnodes.Program(func() testnodes.Handlers {
		dead := false
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Src == "" || m.Body["msg_id"] == nil {
				dead = true // wedged by a bad line: never answers again
			}
			if dead {
				return nil
			}
			if m.Type() != "echo" {
				return notSupported(n, m)
			}
			if _, ok := m.Body["echo"]; !ok {
				n.Reply(m, map[string]any{"type": "error", "code": 12})
				return nil
			}
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
			return nil
		}}
	}), errorsArgs...)
	wantVerdict(t, rep, checker.Invalid, "protocol-errors", "did not answer")
}

type exitError struct{}

func (exitError) Error() string { return "exit status 2" }

var errExit = exitError{}

// net-rpc needs real sockets: in-process grading refuses it and says why.
func TestNetRPCIsProcessOnly(t *testing.T) {
	opts, err := ParseArgs([]string{"-w", "net-rpc", "--node-count", "1", "--time-limit", "5"})
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir = ""
	_, err = Run(t.Context(), opts, InProcess{Program: testnodes.Echo(false)})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "process mode") || !strings.Contains(err.Error(), "--bin") {
		t.Fatalf("in-process net-rpc: %v; want a usage error pointing to process mode", err)
	}
}

// In process mode the bad lines go down the process's real stdin pipe.
func TestErrorsWorkloadProcess(t *testing.T) {
	bin := buildTestNode(t)
	opts, err := ParseArgs([]string{"-w", "errors", "--node-count", "1", "--time-limit", "3", "--rate", "30", "--seed", "3", "--", "errors"})
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir = ""
	rep, err := Run(context.Background(), opts, Binary{Path: bin, Args: opts.NodeArgs})
	if err != nil {
		t.Fatal(err)
	}
	wantVerdict(t, rep, checker.Valid, "bad lines survived")
	if rep.ByF[checker.ErrorsBadLine].OK == 0 || !strings.Contains(rep.nodeLogs["n0"], "bad line:") {
		t.Fatalf("no bad line reached the process\n%s\n%s", rep.Summary(), rep.nodeLogs["n0"])
	}
}
