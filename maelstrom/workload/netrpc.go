package workload

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/netrpc"
)

// EnvNetRPCAddr is the environment variable that gives each node of a
// net-rpc run its loopback address, 127.0.0.1:<port>; EnvNetRPCLayer
// names the layer the run grades (--layer).
const (
	EnvNetRPCAddr  = "NETRPC_ADDR"
	EnvNetRPCLayer = "NETRPC_LAYER"
)

// netRPCChunk is how long one check operation runs against a node.
const netRPCChunk = 2 * time.Second

// listenWait bounds how long a node may take to start listening.
const listenWait = 10 * time.Second

// net-rpc (ours, the networker track): each node, besides answering init
// over stdin/stdout, serves the networker RPC protocol on the address in
// NETRPC_ADDR. Every operation is a 2-second run of the net-rpc check
// (package netrpc: concurrent well-formed calls plus garbage, oversized,
// half-open and slow connections) against the worker's node; each must be
// valid. Real sockets do not run under virtual time, so the workload runs
// in process mode only.
//
// --layer tcp|framing|serialization grades one layer of the protocol
// stack instead (netrpc.CheckLayer), so that the networker track's stages
// can be passed one at a time; rpc, the default, is the whole protocol.
func netRPCSpec() Spec {
	return Spec{Name: "net-rpc", Description: "nodes serve the networker RPC protocol on a loopback TCP port",
		Reusable:    true,
		ProcessOnly: "the node serves RPC on a real TCP port, which in-process grading under virtual time cannot give it",
		Flags: []Flag{{Name: "layer", Default: netrpc.LayerRPC,
			Usage: "the layer to grade: " + strings.Join(netrpc.Layers, ", ")}},
		New: newNetRPC}
}

type netRPCW struct {
	noSetup
	p     Params
	layer string
	addrs map[string]string
	mu    sync.Mutex
}

func newNetRPC(p Params) (Instance, error) {
	layer := p.Flags["layer"]
	if !slices.Contains(netrpc.Layers, layer) {
		return nil, fmt.Errorf("--layer must be one of %s, got %q", strings.Join(netrpc.Layers, ", "), layer)
	}
	w := &netRPCW{p: p, layer: layer, addrs: map[string]string{}}
	for _, id := range p.NodeIDs {
		addr, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("net-rpc: find a free port for %s: %w", id, err)
		}
		w.addrs[id] = addr
	}
	return w, nil
}

// freePort asks the system for a free loopback port. Another program may
// take it before the node listens; the node then fails setup, saying so.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// NodeEnv gives each node its address (NodeEnver).
func (w *netRPCW) NodeEnv(node string) map[string]string {
	return map[string]string{EnvNetRPCAddr: w.addrs[node], EnvNetRPCLayer: w.layer}
}

// Setup waits until the node accepts TCP connections on its address.
func (w *netRPCW) Setup(ctx context.Context, node string, _ Caller) error {
	addr := w.addrs[node]
	deadline := time.Now().Add(listenWait)
	for {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("net-rpc for %s: nothing listens on %s (given in %s) after %v: %v", node, addr, EnvNetRPCAddr, listenWait, err)
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func (w *netRPCW) Next(int, int) Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Invocation{F: "check", Value: w.p.Rand.Uint64()%1_000_000 + 1} // the check's seed
}

func (w *netRPCW) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	addr := w.addrs[c.Node()]
	seed, _ := inv.Value.(uint64)
	rep, err := netrpc.CheckLayer(ctx, addr, w.layer, netrpc.Options{Duration: netRPCChunk, Concurrency: 8, Clients: 2, Abusers: 2, Seed: seed})
	if err != nil {
		return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "client-error", Text: err.Error()}}
	}
	if ctx.Err() != nil {
		return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "client-error", Text: "the run ended during the check"}}
	}
	return ok(checker.NetRPCRun{Addr: addr, Valid: rep.Valid, Violation: rep.Violation, At: rep.At, Report: rep.String()})
}

func (w *netRPCW) Check(h history.History) checker.Result { return checkNetRPC(h) }
