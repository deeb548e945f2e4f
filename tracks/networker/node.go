package networker

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
)

// EnvAddr and EnvLayer name the environment variables through which the
// grader's net-rpc workload gives each node its loopback address and the
// layer it grades.
const (
	EnvAddr  = "NETRPC_ADDR"
	EnvLayer = "NETRPC_LAYER"
)

// NodeProgram is the networker as a grader node (`networker node`): it
// speaks the Maelstrom protocol on its standard streams through the node
// runtime (it answers init, and unknown types with error 10) and serves
// the net-rpc methods on the address in NETRPC_ADDR, or --addr, until its
// input ends or ctx is cancelled. Logs go to stderr: stdout carries only
// messages.
func NodeProgram(ctx context.Context, pio program.IO) error {
	fs := flag.NewFlagSet("networker node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", pio.Getenv(EnvAddr), "loopback host:port to serve on (default $"+EnvAddr+")")
	defLayer := pio.Getenv(EnvLayer)
	if defLayer == "" {
		defLayer = LayerRPC
	}
	layer := fs.String("layer", defLayer, "the layer to serve: tcp, framing, serialization or rpc (default $"+EnvLayer+", else rpc)")
	if err := fs.Parse(pio.Args); err != nil {
		return fmt.Errorf("networker node: %w (usage: networker node [--addr HOST:PORT] [--layer L])", err)
	}
	if !slices.Contains(Layers, *layer) {
		return fmt.Errorf("networker node: --layer must be one of %v, got %q", Layers, *layer)
	}
	if *addr == "" {
		return fmt.Errorf("networker node: no address to serve on: the grader sets %s; by hand, pass --addr 127.0.0.1:PORT", EnvAddr)
	}
	stderr := pio.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- Serve(sctx, Config{Addr: *addr, Logger: logger, ShutdownGrace: time.Second, Layer: *layer},
			func(a string) { ready <- a })
	}()
	select {
	case err := <-served:
		return fmt.Errorf("networker node: serve on %s: %w", *addr, err)
	case a := <-ready:
		logger.Info("serving net-rpc", "addr", a, "layer", *layer)
	}
	err := node.Program(func(*node.Node) error { return nil })(ctx, pio)
	stop()
	if serr := <-served; serr != nil && err == nil && ctx.Err() == nil {
		err = serr
	}
	return err
}

// NodeMain runs NodeProgram on the process's streams and environment and
// returns the exit code.
func NodeMain(ctx context.Context, args []string) int {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	err := NodeProgram(ctx, program.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Args: args, Env: env})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
