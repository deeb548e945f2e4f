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
	"github.com/distsys-curriculum/distsys/maelstrom/netrpc/proto"
)

func quick() netrpc.Options {
	// RejectWithin stays at its generous default so that a loaded machine
	// does not make a correct server look slow to refuse.
	return netrpc.Options{Duration: 1500 * time.Millisecond, Concurrency: 8, Abusers: 4}
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
	send := func(e proto.Envelope) {
		p := e.Append(nil)
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
		env, err := proto.ParseEnvelope(buf)
		if err != nil {
			if fs.dieOnGarbage {
				fs.die()
			}
			return
		}
		switch env.Kind {
		case proto.Cancel:
			smu.Lock()
			if f := cancels[env.Stream]; f != nil {
				f()
			}
			smu.Unlock()
			continue
		case proto.Request:
		default:
			continue
		}
		replyTo := env.Stream
		if fs.mixStreams && env.Method == netrpc.MethodEcho {
			if prevEcho != 0 {
				replyTo = prevEcho
			}
			prevEcho = env.Stream
		}
		sctx, scancel := context.WithCancel(ctx)
		if env.TimeoutMicros > 0 {
			sctx, scancel = context.WithTimeout(ctx, time.Duration(env.TimeoutMicros)*time.Microsecond)
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

func (fs *flawedServer) handle(ctx context.Context, env proto.Envelope, replyTo uint64, send func(proto.Envelope)) {
	status := func(code proto.Code, payload []byte) {
		send(proto.Envelope{Kind: proto.Status, Stream: replyTo, Code: code, Payload: payload})
	}
	arg := func(limit uint64) (uint64, bool) {
		v, n, err := proto.Uvarint(env.Payload)
		if err != nil || n != len(env.Payload) || v > limit {
			status(proto.InvalidArgument, nil)
			return 0, false
		}
		return v, true
	}
	switch env.Method {
	case netrpc.MethodEcho:
		status(proto.OK, env.Payload)
	case netrpc.MethodCount:
		n, ok := arg(netrpc.MaxCount)
		if !ok {
			return
		}
		for i := range n {
			if ctx.Err() != nil {
				return
			}
			send(proto.Envelope{Kind: proto.Data, Stream: replyTo, Payload: proto.AppendUvarint(nil, i)})
		}
		status(proto.OK, nil)
	case netrpc.MethodSleep:
		ms, ok := arg(netrpc.MaxSleep)
		if !ok {
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			status(proto.OK, nil)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				status(proto.DeadlineExceeded, nil)
			}
		}
	default:
		status(proto.NotFound, nil)
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
