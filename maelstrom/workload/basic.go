package workload

import (
	"context"
	"fmt"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// noSetup is embedded by workloads that need no per-node setup.
type noSetup struct{}

func (noSetup) Setup(context.Context, string, Caller) error { return nil }
func (noSetup) Final(int) []Invocation                      { return nil }

// echo: every reply must carry back the string sent.
func echoSpec() Spec {
	return Spec{Name: "echo", Description: "nodes echo back the string they are sent",
		New: func(p Params) (Instance, error) { return &echo{p: p}, nil }}
}

type echo struct {
	noSetup
	p Params
}

func (w *echo) Next(int, int) Invocation {
	return Invocation{F: "echo", Value: fmt.Sprintf("Please echo %d", w.p.Rand.IntN(128))}
}

func (w *echo) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	raw, err := c.RPC(ctx, map[string]any{"type": "echo", "echo": inv.Value})
	if err != nil {
		return Outcome(err, true, false)
	}
	m, err := Decode(raw, "echo_ok", Field{Name: "echo"})
	if err != nil {
		return Outcome(err, true, false)
	}
	var s any
	if err := jsonUnmarshal(m["echo"], &s); err != nil {
		return Outcome(&MalformedError{Reason: "echo is not JSON"}, true, false)
	}
	return ok(s)
}

func (w *echo) Check(h history.History) checker.Result { return checkEcho(h) }

// unique-ids: every generated id must be distinct.
func uniqueIDsSpec() Spec {
	return Spec{Name: "unique-ids", Description: "nodes generate globally unique ids", Reusable: true,
		New: func(p Params) (Instance, error) { return &uniqueIDs{perNode: p.IDOrder == "per-node"}, nil }}
}

type uniqueIDs struct {
	noSetup
	perNode bool // --id-order per-node
}

func (*uniqueIDs) Next(int, int) Invocation { return Invocation{F: "generate"} }

func (*uniqueIDs) Invoke(ctx context.Context, c Caller, _ int, _ Invocation) Completion {
	raw, err := c.RPC(ctx, map[string]any{"type": "generate"})
	if err != nil {
		return Outcome(err, true, false)
	}
	m, err := Decode(raw, "generate_ok", Field{Name: "id"})
	if err != nil {
		return Outcome(err, true, false)
	}
	var id any
	if err := jsonUnmarshalNumber(m["id"], &id); err != nil {
		return Outcome(&MalformedError{Reason: "id is not JSON"}, true, false)
	}
	return ok(id)
}

func (*uniqueIDs) Check(h history.History) checker.Result { return checkUniqueIDs(h) }

func (w *uniqueIDs) ExtraChecks(h history.History) []checker.Result {
	if !w.perNode {
		return nil
	}
	return []checker.Result{checkPerNodeIncreasing(h)}
}

// counters: add deltas, read the total; only final reads are judged.
func counterSpec(name string, negative bool) Spec {
	desc := "a grow-only counter"
	if negative {
		desc = "a counter that goes up and down"
	}
	return Spec{Name: name, Description: desc, Final: true,
		New: func(p Params) (Instance, error) { return &counter{p: p, negative: negative}, nil }}
}

type counter struct {
	noSetup
	p        Params
	negative bool
}

func (w *counter) Next(int, int) Invocation {
	if w.p.Rand.IntN(2) == 0 {
		return Invocation{F: "read"}
	}
	if w.negative {
		return Invocation{F: "add", Value: int64(w.p.Rand.IntN(10) - 5)}
	}
	return Invocation{F: "add", Value: int64(w.p.Rand.IntN(5))}
}

func (w *counter) Final(int) []Invocation { return []Invocation{{F: "read"}} }

func (w *counter) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	if inv.F == "add" {
		raw, err := c.RPC(ctx, map[string]any{"type": "add", "delta": inv.Value})
		if err == nil {
			_, err = Decode(raw, "add_ok")
		}
		if err != nil {
			return Outcome(err, false, false)
		}
		return ok(inv.Value)
	}
	raw, err := c.RPC(ctx, map[string]any{"type": "read"})
	if err != nil {
		return Outcome(err, false, false)
	}
	m, err := Decode(raw, "read_ok", Field{Name: "value"})
	if err != nil {
		return Outcome(err, false, false)
	}
	v, err := decodeInt(m["value"], "value")
	if err != nil {
		return Outcome(err, false, false)
	}
	return ok(v)
}

func (w *counter) Check(h history.History) checker.Result { return checkCounter(h) }
