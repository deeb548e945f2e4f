package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// errors (ours, the messenger track's errors stage): alongside plain
// echoes, clients send requests of types no node implements (error 10
// expected), echo requests without their echo field (an error reply
// expected, 12 malformed-request being the right code), and the runner
// writes malformed lines straight to a node's stdin, after which the node
// must still answer an echo. The protocol-errors checker says what a node
// did wrong; a node that crashes fails the run with that as the reason.
// Operations and their history values are listed in checker's
// protocolerrors.go.
func errorsSpec() Spec {
	return Spec{Name: "errors", Description: "nodes answer unknown types with error 10, refuse malformed requests and survive malformed input",
		New: func(p Params) (Instance, error) { return &errorsW{p: p}, nil }}
}

// unknownTypes are request types that no node of the curriculum handles.
var unknownTypes = []string{"frobnicate", "launch_missiles", "echo_twice", "teleport", "x-unknown"}

// badLines are written to a node's stdin: none of them is a message that
// could be answered. %s is the node's id, so that the lines look addressed.
var badLines = []string{
	`this is not JSON`,
	`{"src":"c999","dest":"%s"}`,
	`{"src":"c999","dest":"%s","body":"not an object"}`,
	`{"dest":"%s","body":{"type":"echo","msg_id":1,"echo":"from nowhere"}}`,
	`{"src":"c999","dest":"%s","body":{"type":"echo","msg_id":1,"echo":"cut off`,
	`[1,2,3]`,
	`{"src":"c999","dest":"%s","body":{"type":"echo","msg_id":"one","echo":"bad msg_id"}}`,
}

type errorsW struct {
	noSetup
	p Params

	mu    sync.Mutex
	write func(node string, line []byte) error
	lines int // bad lines written, to number the echoes that follow them
}

// SetStdin receives the runner's raw stdin writer (StdinWriter).
func (w *errorsW) SetStdin(write func(node string, line []byte) error) {
	w.mu.Lock()
	w.write = write
	w.mu.Unlock()
}

func (w *errorsW) Next(thread, _ int) Invocation {
	r := w.p.Rand
	switch k := r.IntN(20); {
	case k < 4:
		return Invocation{F: checker.ErrorsUnknown, Value: unknownTypes[r.IntN(len(unknownTypes))]}
	case k < 7:
		return Invocation{F: checker.ErrorsMalformed, Value: `{"type":"echo"}`}
	case k < 10:
		w.mu.Lock()
		w.lines++
		n := w.lines
		w.mu.Unlock()
		// Worker t always talks to node t mod N (the runner's binding).
		node := w.p.NodeIDs[thread%len(w.p.NodeIDs)]
		line := badLines[r.IntN(len(badLines))]
		if strings.Contains(line, "%s") {
			line = fmt.Sprintf(line, node)
		}
		return Invocation{F: checker.ErrorsBadLine, Value: map[string]any{"line": line, "echo": fmt.Sprintf("after bad line %d", n)}}
	default:
		return Invocation{F: checker.ErrorsEcho, Value: fmt.Sprintf("Please echo %d", r.IntN(128))}
	}
}

func (w *errorsW) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	switch inv.F {
	case checker.ErrorsUnknown:
		raw, err := c.RPC(ctx, map[string]any{"type": inv.Value})
		return errorOutcome(raw, err)
	case checker.ErrorsMalformed:
		raw, err := c.RPC(ctx, map[string]any{"type": "echo"})
		return errorOutcome(raw, err)
	case checker.ErrorsBadLine:
		v := inv.Value.(map[string]any)
		w.mu.Lock()
		write := w.write
		w.mu.Unlock()
		if write == nil {
			return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "client-error", Text: "this runner cannot write to a node's stdin"}}
		}
		line := v["line"].(string)
		if err := write(c.Node(), []byte(line)); err != nil {
			return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "client-error", Text: err.Error()}}
		}
		got, comp := echoRPC(ctx, c, v["echo"])
		if comp != nil {
			return *comp
		}
		return ok(map[string]any{"line": line, "echo": got})
	default:
		got, comp := echoRPC(ctx, c, inv.Value)
		if comp != nil {
			return *comp
		}
		return ok(got)
	}
}

// echoRPC sends an echo and returns what came back, or the completion
// for a failure.
func echoRPC(ctx context.Context, c Caller, payload any) (any, *Completion) {
	raw, err := c.RPC(ctx, map[string]any{"type": "echo", "echo": payload})
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, "echo_ok", Field{Name: "echo"})
	}
	if err != nil {
		comp := Outcome(err, true, false)
		return nil, &comp
	}
	var got any
	if err := jsonUnmarshal(m["echo"], &got); err != nil {
		comp := Outcome(&MalformedError{Reason: "echo is not JSON"}, true, false)
		return nil, &comp
	}
	return got, nil
}

// errorOutcome records a reply to a request that must be refused. Any
// reply ends :ok (the node answered, which is what a client can ask of
// it): an error reply as {"code","text"}, anything else as {"reply": the
// body's JSON}; the checker judges which answer was right. Timeouts end
// :info as usual.
func errorOutcome(raw json.RawMessage, err error) Completion {
	if err != nil {
		return Outcome(err, true, false)
	}
	var e struct {
		Type string `json:"type"`
		Code *int   `json:"code"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Type == "error" {
		if e.Code == nil {
			return Outcome(&MalformedError{Reason: "error reply without an integer code"}, true, false)
		}
		return ok(map[string]any{"code": *e.Code, "text": e.Text})
	}
	return ok(map[string]any{"reply": string(raw)})
}

func (w *errorsW) Check(h history.History) checker.Result { return checkProtocolErrors(h, nil) }

// JudgeCrash makes a crash the verdict (CrashJudge): bad input must not
// kill a node.
func (w *errorsW) JudgeCrash(h history.History, c Crash) checker.Result {
	return checkProtocolErrors(h, &checker.NodeCrash{Node: c.Node, Time: c.Time, ExitStatus: c.ExitStatus, Stderr: c.Stderr})
}
