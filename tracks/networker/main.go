package networker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/netrpc"
	"github.com/distsys-curriculum/distsys/tracks/networker/frame"
)

const usage = `usage:
  networker [serve] [--addr 127.0.0.1:0] [flags]   serve the net-rpc methods
  networker check --addr HOST:PORT [flags]         grade any net-rpc server
  networker node [--addr HOST:PORT] [--layer L]    a grader node: init on stdin/stdout,
                                                   the methods on $NETRPC_ADDR
  (--layer tcp|framing|serialization|rpc: serve, check or be graded at one layer)

Run "networker serve -h" or "networker check -h" for the flags.
`

// Main is the networker command. serve runs until ctx ends and exits 0
// after a graceful shutdown; check exits 0 when the server is valid, 1 when
// invalid, 2 on bad arguments or when interrupted before it could judge.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "check") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if cmd == "check" {
		return mainCheck(ctx, args, stdout, stderr)
	}
	return mainServe(ctx, args, stdout, stderr)
}

// parseExit is the exit code after a flag parsing error: -h is not one.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

func mainServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("networker serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var verbose bool
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "loopback `host:port` to listen on; port 0 picks one")
	fs.IntVar(&cfg.MaxFrame, "max-frame", frame.DefaultMaxSize, "largest frame in bytes")
	fs.IntVar(&cfg.MaxConns, "max-conns", 1024, "concurrent connections")
	fs.IntVar(&cfg.MaxStreams, "max-streams", 1024, "concurrent calls per connection")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 2*time.Minute, "close a connection with nothing in flight after this")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", 10*time.Second, "time to receive a whole frame once it started")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", 10*time.Second, "time to complete one write")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 5*time.Second, "on SIGINT/SIGTERM, time for calls in flight to finish")
	fs.BoolVar(&verbose, "v", false, "log protocol errors")
	fs.StringVar(&cfg.Layer, "layer", LayerRPC, "the layer to serve: tcp, framing, serialization or rpc")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	err := Serve(ctx, cfg, func(addr string) { fmt.Fprintf(stdout, "listening on %s\n", addr) })
	if err != nil {
		fmt.Fprintf(stderr, "networker: %v\n", err)
		return 1
	}
	return 0
}

func mainCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("networker check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o netrpc.Options
	var addr string
	fs.StringVar(&addr, "addr", "", "`host:port` of the server to grade (required)")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long to run")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "goroutines making well-formed calls")
	fs.IntVar(&o.Clients, "clients", 2, "connections the well-formed calls share")
	fs.IntVar(&o.Abusers, "abusers", 4, "goroutines sending garbage, oversized frames, half-open and slow connections")
	fs.IntVar(&o.MaxFrame, "max-frame", frame.DefaultMaxSize, "the server's frame limit in bytes")
	fs.IntVar(&o.MaxPayload, "max-payload", 4096, "largest ordinary echo payload")
	fs.DurationVar(&o.CallTimeout, "call-timeout", 5*time.Second, "a well-formed call must be answered within this")
	fs.DurationVar(&o.RejectWithin, "reject-within", 2*time.Second, "an oversized or truncated frame must close its connection within this")
	fs.DurationVar(&o.ByteDelay, "byte-delay", 2*time.Millisecond, "pause between bytes on slow connections")
	fs.Uint64Var(&o.Seed, "seed", 1, "randomness of the run")
	layer := fs.String("layer", LayerRPC, "the layer to grade: tcp, framing, serialization or rpc")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if addr == "" {
		fmt.Fprintln(stderr, "networker check: --addr is required")
		return 2
	}
	rep, err := netrpc.CheckLayer(ctx, addr, *layer, o)
	if err != nil {
		fmt.Fprintf(stderr, "networker check: %v\n", err)
		return 2
	}
	fmt.Fprint(stdout, rep)
	if errors.Is(ctx.Err(), context.Canceled) {
		fmt.Fprintln(stderr, "networker check: interrupted; the run is incomplete")
		return 2
	}
	if !rep.Valid {
		return 1
	}
	return 0
}
