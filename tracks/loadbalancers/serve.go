package loadbalancers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/l4"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/l7"
)

const serveUsage = "usage: loadbalancers l4|l7 --listen ADDR --backends HOST:PORT,... [--balance ALG] [--weights W,...] [--health-interval D] [--attempts N]"

// Serve runs the L4 or L7 balancer as a standalone server until ctx
// ends: `loadbalancers l7 --listen 127.0.0.1:8080 --backends
// 127.0.0.1:9001,127.0.0.1:9002`. It prints the address it listens on to
// out, then serves, with health checks, ejection and retries configured
// as for the Maelstrom node.
func Serve(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] != "l4" && args[0] != "l7") {
		return errors.New(serveUsage)
	}
	kind := args[0]
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	o := DefaultOptions()
	var backends, weights string
	fs.StringVar(&backends, "backends", "", "backend addresses")
	fs.StringVar(&weights, "weights", "", "backend weights")
	fs.StringVar(&o.Balance, "balance", o.Balance, "algorithm")
	fs.DurationVar(&o.HealthInterval, "health-interval", time.Second, "time between health checks (0: none)")
	fs.IntVar(&o.Attempts, "attempts", o.Attempts, "backends tried per request (l7) or connect (l4)")
	fs.DurationVar(&o.AttemptTimeout, "attempt-timeout", 10*time.Second, "time per attempt (l7)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("loadbalancers %s: %w (%s)", kind, err, serveUsage)
	}
	if backends == "" || fs.NArg() > 0 {
		return errors.New(serveUsage)
	}
	// The node's flag rules (algorithm, weights) apply unchanged.
	nodeArgs := []string{"--balance", o.Balance, "--backends", backends, "--attempts", fmt.Sprint(o.Attempts)}
	if weights != "" {
		nodeArgs = append(nodeArgs, "--weights", weights)
	}
	no, err := ParseArgs(nodeArgs)
	if err != nil {
		return err
	}
	no.HealthInterval, no.AttemptTimeout = o.HealthInterval, o.AttemptTimeout
	pool, err := NewPool(no, time.Now, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s balancer on %s over %s (%s)\n", kind, ln.Addr(), strings.Join(no.Backends, ", "), no.Balance)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	switch kind {
	case "l4":
		b, err := l4.New(l4.Config{Pool: pool, Attempts: no.Attempts})
		if err != nil {
			ln.Close()
			return err
		}
		if no.HealthInterval > 0 {
			go b.CheckHealthEvery(ctx, no.HealthInterval)
		}
		go func() { errc <- b.Serve(ln) }()
		<-ctx.Done()
		b.Close()
	default:
		b, err := l7.New(l7.Config{Pool: pool, Attempts: no.Attempts, AttemptTimeout: no.AttemptTimeout})
		if err != nil {
			ln.Close()
			return err
		}
		if no.HealthInterval > 0 {
			go b.CheckHealthEvery(ctx, no.HealthInterval)
		}
		srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		b.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
