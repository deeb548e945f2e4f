package netrpc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/netrpc"
	"github.com/distsys-curriculum/distsys/tracks/networker"
	"github.com/distsys-curriculum/distsys/tracks/networker/rpc"
	"github.com/distsys-curriculum/distsys/tracks/networker/server"
	"github.com/distsys-curriculum/distsys/tracks/networker/wire"
)

func quick() netrpc.Options {
	// RejectWithin stays at its generous default so that a loaded machine
	// does not make a correct server look slow to refuse.
	return netrpc.Options{Duration: 1500 * time.Millisecond, Concurrency: 8, Abusers: 4}
}

func TestReferenceServerIsValid(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(networker.NewService(rpc.ServerOptions{}), server.Options{})
	go srv.Serve(ln)
	defer srv.Close()
	// Every kind of call and abuse must have run: a short ByteDelay and a
	// longer run let the slow request finish even on a loaded machine
	// under the race detector.
	opts := quick()
	opts.Duration, opts.ByteDelay = 3*time.Second, 300*time.Microsecond
	rep, err := netrpc.Check(context.Background(), ln.Addr().String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if !rep.Valid {
		t.Fatalf("reference server judged invalid: %s", rep.Violation)
	}
	c := rep.Counts
	if c.Echo == 0 || c.Count == 0 || c.Oversized == 0 || c.Garbage == 0 || c.HalfOpen == 0 || c.Slow == 0 || c.Probes == 0 {
		t.Fatalf("some part of the workload did not run: %+v", c)
	}
	if rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 {
		t.Fatalf("latency quantiles %+v", rep.Latency)
	}
}

func TestNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rep, err := netrpc.Check(context.Background(), addr, quick())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || !strings.Contains(rep.Violation, "does not answer") {
		t.Fatalf("got %+v", rep)
	}
}

func TestBadOptions(t *testing.T) {
	_, err := netrpc.Check(context.Background(), "127.0.0.1:1", netrpc.Options{MaxFrame: 100, MaxPayload: 100})
	if err == nil {
		t.Fatal("a payload larger than the frame limit was accepted")
	}
	if _, err := netrpc.Check(context.Background(), "no port", quick()); err == nil {
		t.Fatal("a malformed address was accepted")
	}
}

// flawedServer is a hand-written net-rpc server with one deliberate flaw, so
// the check can be seen to catch it. Apart from its flaw it serves the
// protocol correctly.
type flawedServer struct {
	// trustLength: allocate whatever the length prefix says, up to 64 MiB
	// (a bound only to keep the test process small), instead of refusing
	// frames above the 1 MiB limit.
	trustLength bool
	// mixStreams: answer each echo on the stream id of the connection's
	// previous echo.
	mixStreams bool
	// dieOnGarbage: stop serving altogether on an envelope it cannot parse.
	dieOnGarbage bool

	ln   net.Listener
	wg   sync.WaitGroup
	once sync.Once
}

func startFlawed(t *testing.T, fs *flawedServer) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs.ln = ln
	var mu sync.Mutex
	var conns []net.Conn
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			fs.wg.Add(1)
			go func() { defer fs.wg.Done(); fs.serveConn(c) }()
		}
	}()
	t.Cleanup(func() {
		fs.die()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		fs.wg.Wait()
	})
	return ln.Addr().String()
}

func (fs *flawedServer) die() { fs.once.Do(func() { fs.ln.Close() }) }

func (fs *flawedServer) serveConn(c net.Conn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wmu sync.Mutex
	send := func(e rpc.Envelope) {
		p := rpc.AppendEnvelope(nil, &e)
		wmu.Lock()
		defer wmu.Unlock()
		c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(p))), p...))
	}
	var smu sync.Mutex
	cancels := map[uint64]context.CancelFunc{}
	var prevEcho uint64
	var hdr [4]byte
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		limit := uint32(1 << 20)
		if fs.trustLength {
			limit = 64 << 20
		}
		if n > limit {
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		env, err := rpc.ParseEnvelope(buf)
		if err != nil {
			if fs.dieOnGarbage {
				fs.die()
			}
			return
		}
		switch env.Type {
		case rpc.Cancel:
			smu.Lock()
			if f := cancels[env.Stream]; f != nil {
				f()
			}
			smu.Unlock()
			continue
		case rpc.Request:
		default:
			continue
		}
		replyTo := env.Stream
		if fs.mixStreams && env.Method == networker.MethodEcho {
			if prevEcho != 0 {
				replyTo = prevEcho
			}
			prevEcho = env.Stream
		}
		sctx, scancel := context.WithCancel(ctx)
		if env.Timeout > 0 {
			sctx, scancel = context.WithTimeout(ctx, time.Duration(env.Timeout)*time.Microsecond)
		}
		smu.Lock()
		cancels[env.Stream] = scancel
		smu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer scancel()
			fs.handle(sctx, env, replyTo, send)
		}()
	}
}

func (fs *flawedServer) handle(ctx context.Context, env rpc.Envelope, replyTo uint64, send func(rpc.Envelope)) {
	status := func(code rpc.Code, payload []byte) {
		send(rpc.Envelope{Type: rpc.Status, Stream: replyTo, Code: code, Payload: payload})
	}
	arg := func(limit uint64) (uint64, bool) {
		v, n, err := wire.ConsumeUvarint(env.Payload)
		if err != nil || n != len(env.Payload) || v > limit {
			status(rpc.InvalidArgument, nil)
			return 0, false
		}
		return v, true
	}
	switch env.Method {
	case networker.MethodEcho:
		status(rpc.OK, env.Payload)
	case networker.MethodCount:
		n, ok := arg(networker.MaxCount)
		if !ok {
			return
		}
		for i := range n {
			if ctx.Err() != nil {
				return
			}
			send(rpc.Envelope{Type: rpc.Data, Stream: replyTo, Payload: wire.AppendUvarint(nil, i)})
		}
		status(rpc.OK, nil)
	case networker.MethodSleep:
		ms, ok := arg(networker.MaxSleep)
		if !ok {
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			status(rpc.OK, nil)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				status(rpc.DeadlineExceeded, nil)
			}
		}
	default:
		status(rpc.NotFound, nil)
	}
}

// expectInvalid grades a flawed server and wants the violation to mention
// one of want (several when the flaw can show first in more than one way).
func expectInvalid(t *testing.T, fs *flawedServer, want ...string) {
	t.Helper()
	addr := startFlawed(t, fs)
	opts := quick()
	opts.Duration = 3 * time.Second // longer than RejectWithin, so the oversized probe can conclude
	rep, err := netrpc.Check(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if rep.Valid {
		t.Fatalf("a flawed server was judged valid")
	}
	for _, w := range want {
		if strings.Contains(rep.Violation, w) {
			return
		}
	}
	t.Fatalf("violation %q mentions none of %q", rep.Violation, want)
}

// The flawed server without a flaw is valid, so the flaws below are what
// the check catches.
func TestUnflawedServerIsValid(t *testing.T) {
	addr := startFlawed(t, &flawedServer{})
	rep, err := netrpc.Check(context.Background(), addr, quick())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid {
		t.Fatalf("judged invalid: %s", rep.Violation)
	}
}

func TestServerTrustingTheLengthPrefixIsInvalid(t *testing.T) {
	expectInvalid(t, &flawedServer{trustLength: true}, "above the frame limit")
}

func TestServerMixingStreamIdsIsInvalid(t *testing.T) {
	expectInvalid(t, &flawedServer{mixStreams: true}, "wrong stream ids")
}

func TestServerDyingOnGarbageIsInvalid(t *testing.T) {
	// The server dies on the garbage; a new connection finds nobody, a
	// slow request in progress is cut off, or a call cannot connect
	// (Unavailable), whichever the run sees first.
	expectInvalid(t, &flawedServer{dieOnGarbage: true}, "stopped answering new connections", "the server closed it", "Unavailable")
}
