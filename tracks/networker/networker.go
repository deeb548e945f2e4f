// Package networker is the reference solution of the networker track:
// networking from first principles. The track builds, one stage at a time,
//
//   - server: a TCP server with a connection limit, idle and read deadlines
//     and graceful shutdown (package server);
//   - framing: length-prefixed messages over a byte stream (package frame);
//   - serialization: a tagged binary wire format whose unknown fields are
//     skipped, so versions interoperate (package wire);
//   - rpc: multiplexed calls over one connection with deadlines,
//     cancellation, status codes and server streaming (package rpc).
//
// This package puts them together as the service that the net-rpc workload
// (package maelstrom/netrpc) grades: the methods echo, count and sleep, served on
// a loopback TCP port. Main is the command line of cmd/networker.
package networker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/networker/rpc"
	"github.com/distsys-curriculum/distsys/tracks/networker/server"
	"github.com/distsys-curriculum/distsys/tracks/networker/wire"
)

// The methods of the net-rpc service. Request and reply bodies are
// described in the lesson README.
const (
	// MethodEcho replies with the request payload, byte for byte.
	MethodEcho = "echo"
	// MethodCount takes a varint n and streams n messages, the varints 0 to
	// n-1, then ends OK. n > MaxCount is InvalidArgument.
	MethodCount = "count"
	// MethodSleep takes a varint number of milliseconds, waits that long
	// (or until the call's deadline or cancellation) and replies empty.
	// More than MaxSleep is InvalidArgument.
	MethodSleep = "sleep"
)

// Limits of the service's arguments.
const (
	MaxCount = 10_000
	MaxSleep = 60_000 // milliseconds
)

// uvarintArg decodes a payload that must be exactly one varint.
func uvarintArg(req []byte, limit uint64) (uint64, error) {
	v, n, err := wire.ConsumeUvarint(req)
	if err != nil {
		return 0, rpc.Errorf(rpc.InvalidArgument, "argument: %v", err)
	}
	if n != len(req) {
		return 0, rpc.Errorf(rpc.InvalidArgument, "argument: %d bytes after the varint", len(req)-n)
	}
	if v > limit {
		return 0, rpc.Errorf(rpc.InvalidArgument, "argument %d exceeds the limit %d", v, limit)
	}
	return v, nil
}

// NewService returns an rpc.Server with the net-rpc methods registered.
func NewService(opts rpc.ServerOptions) *rpc.Server {
	s := rpc.NewServer(opts)
	s.Handle(MethodEcho, func(ctx context.Context, req []byte) ([]byte, error) { return req, nil })
	s.HandleStream(MethodCount, func(ctx context.Context, req []byte, send func([]byte) error) error {
		n, err := uvarintArg(req, MaxCount)
		if err != nil {
			return err
		}
		var buf []byte
		for i := range n {
			buf = wire.AppendUvarint(buf[:0], i)
			if err := send(buf); err != nil {
				return err
			}
		}
		return nil
	})
	s.Handle(MethodSleep, func(ctx context.Context, req []byte) ([]byte, error) {
		ms, err := uvarintArg(req, MaxSleep)
		if err != nil {
			return nil, err
		}
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	return s
}

// Config is how Serve runs the service. Zero values take the defaults of
// rpc.ServerOptions and server.Options.
type Config struct {
	Addr          string // host:port on loopback; port 0 picks a free one
	MaxFrame      int
	MaxConns      int
	MaxStreams    int
	IdleTimeout   time.Duration
	ReadTimeout   time.Duration
	WriteTimeout  time.Duration
	ShutdownGrace time.Duration // how long in-flight calls may finish (5 s)
	Logger        *slog.Logger
	// Layer serves one of the lower layers instead of the RPC service
	// (layers.go); "" or LayerRPC is the service.
	Layer string
}

// Serve listens on cfg.Addr, calls ready with the address it listens on,
// and serves until ctx ends; then it shuts down gracefully, force-closing
// what is left after cfg.ShutdownGrace.
func Serve(ctx context.Context, cfg Config, ready func(addr string)) error {
	if err := checkLoopback(cfg.Addr); err != nil {
		return err
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 5 * time.Second
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var h server.Handler = NewService(rpc.ServerOptions{MaxFrame: cfg.MaxFrame, MaxStreams: cfg.MaxStreams, Logger: cfg.Logger})
	if cfg.Layer != "" && cfg.Layer != LayerRPC {
		if h, err = layerHandler(cfg.Layer, cfg.MaxFrame); err != nil {
			ln.Close()
			return err
		}
	}
	srv := server.New(h, server.Options{
		MaxConns: cfg.MaxConns, IdleTimeout: cfg.IdleTimeout,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-served:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, server.ErrServerClosed) {
		return serr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w (connections force-closed)", err)
	}
	return nil
}

// checkLoopback refuses addresses off this machine: the service is a
// teaching target with no authentication.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("address %q is not a loopback address (127.0.0.1, ::1 or localhost)", addr)
}
