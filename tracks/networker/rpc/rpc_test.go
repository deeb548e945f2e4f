package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/distsys-curriculum/distsys/tracks/networker/frame"
	"github.com/distsys-curriculum/distsys/tracks/networker/server"
	"github.com/distsys-curriculum/distsys/tracks/networker/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer registers the methods the tests use. blocked receives the
// context error a "block" handler ended with.
type testServer struct {
	*Server
	blocked chan error
	started chan struct{}
}

func newTestServer(opts ServerOptions) *testServer {
	ts := &testServer{Server: NewServer(opts), blocked: make(chan error, 16), started: make(chan struct{}, 16)}
	ts.Handle("echo", func(ctx context.Context, req []byte) ([]byte, error) { return req, nil })
	ts.Handle("fail", func(ctx context.Context, req []byte) ([]byte, error) {
		return nil, Errorf(InvalidArgument, "bad %q", req)
	})
	ts.Handle("panic", func(ctx context.Context, req []byte) ([]byte, error) { panic("boom") })
	ts.Handle("big", func(ctx context.Context, req []byte) ([]byte, error) { return make([]byte, 1<<20), nil })
	ts.Handle("block", func(ctx context.Context, req []byte) ([]byte, error) {
		ts.started <- struct{}{}
		<-ctx.Done()
		ts.blocked <- ctx.Err()
		return nil, ctx.Err()
	})
	ts.HandleStream("count", func(ctx context.Context, req []byte, send func([]byte) error) error {
		n, _, err := wire.ConsumeUvarint(req)
		if err != nil {
			return Errorf(InvalidArgument, "count: %v", err)
		}
		for i := range n {
			if err := send(wire.AppendUvarint(nil, i)); err != nil {
				return err
			}
		}
		return nil
	})
	return ts
}

func serve(t *testing.T, h server.Handler, opts server.Options) (*server.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(h, opts)
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	return s, ln.Addr().String()
}

func client(t *testing.T, addr string, opts ClientOptions) *Client {
	c := NewClient(addr, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	if got := StatusCode(err); got != code {
		t.Fatalf("got %v (%v), want %v", got, err, code)
	}
}

func TestConcurrentCallsShareOneConnection(t *testing.T) {
	_, addr := serve(t, newTestServer(ServerOptions{}), server.Options{})
	c := client(t, addr, ClientOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				req := []byte(fmt.Sprintf("caller %d call %d", i, j))
				got, err := c.Call(ctxT(t), "echo", req)
				if err != nil || !bytes.Equal(got, req) {
					errs <- fmt.Errorf("echo %q: got %q, %v", req, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Dials != 1 || st.StrayFrames != 0 {
		t.Fatalf("stats %+v, want one dial and no stray frames", st)
	}
}

func TestServerStreaming(t *testing.T) {
	_, addr := serve(t, newTestServer(ServerOptions{}), server.Options{})
	c := client(t, addr, ClientOptions{StreamBuffer: 4}) // smaller than the stream
	s, err := c.Stream(ctxT(t), "count", wire.AppendUvarint(nil, 100))
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(100) {
		msg, err := s.Recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if v, _, _ := wire.ConsumeUvarint(msg); v != i {
			t.Fatalf("message %d carries %d", i, v)
		}
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
	// A stream error arrives as the status.
	s, err = c.Stream(ctxT(t), "count", []byte{0x80})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv()
	wantCode(t, err, InvalidArgument)
}

func TestStatusCodes(t *testing.T) {
	ts := newTestServer(ServerOptions{})
	_, addr := serve(t, ts, server.Options{})
	c := client(t, addr, ClientOptions{})
	_, err := c.Call(ctxT(t), "nope", nil)
	wantCode(t, err, NotFound)
	_, err = c.Call(ctxT(t), "fail", []byte("x"))
	wantCode(t, err, InvalidArgument)
	if e := (*Error)(nil); !errors.As(err, &e) || e.Message != `bad "x"` {
		t.Fatalf("message lost: %v", err)
	}
	_, err = c.Call(ctxT(t), "panic", nil)
	wantCode(t, err, Internal)
	if got, err := c.Call(ctxT(t), "echo", []byte("still fine")); err != nil || string(got) != "still fine" {
		t.Fatalf("after a panic: %q, %v", got, err)
	}
	if st := ts.Stats(); st.Panics != 1 || st.Rejected != 1 {
		t.Fatalf("server stats %+v", st)
	}
}

func TestClientCancelReachesHandler(t *testing.T) {
	ts := newTestServer(ServerOptions{})
	_, addr := serve(t, ts, server.Options{})
	c := client(t, addr, ClientOptions{})
	ctx, cancel := context.WithCancel(ctxT(t))
	go func() { <-ts.started; cancel() }()
	_, err := c.Call(ctx, "block", nil)
	wantCode(t, err, Canceled)
	if herr := <-ts.blocked; !errors.Is(herr, context.Canceled) {
		t.Fatalf("handler ended with %v, want context.Canceled", herr)
	}
}

func TestClientDeadline(t *testing.T) {
	ts := newTestServer(ServerOptions{})
	_, addr := serve(t, ts, server.Options{})
	c := client(t, addr, ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, "block", nil)
	wantCode(t, err, DeadlineExceeded)
	<-ts.blocked // the handler was stopped, by the deadline or the cancel
	_, err = c.Call(ctx, "echo", nil)
	wantCode(t, err, DeadlineExceeded) // not even sent
}

// rawConn speaks the protocol by hand, to test the server without our client.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fr *frame.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, fr: frame.NewReader(nc, 0)}
}

func (r *rawConn) send(e Envelope) {
	if _, err := r.nc.Write(frame.AppendFrame(nil, AppendEnvelope(nil, &e))); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) recv() Envelope {
	p, err := r.fr.ReadFrame()
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := ParseEnvelope(p)
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

func (r *rawConn) expectClosed() {
	if _, err := io.Copy(io.Discard, r.nc); err != nil {
		r.t.Fatalf("want the server to close, got %v", err)
	}
}

// The deadline in the header alone (no Cancel frame) stops the handler.
func TestDeadlinePropagatedInHeader(t *testing.T) {
	ts := newTestServer(ServerOptions{})
	_, addr := serve(t, ts, server.Options{})
	r := dialRaw(t, addr)
	r.send(Envelope{Type: Request, Stream: 7, Method: "block", Timeout: 20000})
	got := r.recv()
	if got.Stream != 7 || got.Type != Status || got.Code != DeadlineExceeded {
		t.Fatalf("got %+v, want DeadlineExceeded on stream 7", got)
	}
	if herr := <-ts.blocked; !errors.Is(herr, context.DeadlineExceeded) {
		t.Fatalf("handler ended with %v", herr)
	}
}

func TestRepliesOutOfOrderMatchStreams(t *testing.T) {
	ts := newTestServer(ServerOptions{})
	_, addr := serve(t, ts, server.Options{})
	r := dialRaw(t, addr)
	r.send(Envelope{Type: Request, Stream: 1, Method: "block"})
	<-ts.started
	r.send(Envelope{Type: Request, Stream: 2, Method: "echo", Payload: []byte("two")})
	if got := r.recv(); got.Stream != 2 || string(got.Payload) != "two" {
		t.Fatalf("got %+v, want stream 2's reply first", got)
	}
	r.send(Envelope{Type: Cancel, Stream: 1})
	<-ts.blocked
	// A cancelled stream gets no status; the next reply is for stream 3.
	r.send(Envelope{Type: Request, Stream: 3, Method: "echo", Payload: []byte("three")})
	if got := r.recv(); got.Stream != 3 {
		t.Fatalf("got %+v, want stream 3", got)
	}
}

func TestProtocolViolationsCloseOnlyThatConnection(t *testing.T) {
	ts := newTestServer(ServerOptions{MaxFrame: 1024})
	_, addr := serve(t, ts, server.Options{})
	good := client(t, addr, ClientOptions{MaxFrame: 1024})
	cases := map[string]func(r *rawConn){
		"garbage":   func(r *rawConn) { r.nc.Write(append(binary.BigEndian.AppendUint32(nil, 5), "hello"...)) },
		"oversized": func(r *rawConn) { r.nc.Write(binary.BigEndian.AppendUint32(nil, 1<<30)) },
		"stream 0":  func(r *rawConn) { r.send(Envelope{Type: Request, Method: "echo"}) },
		"reused stream": func(r *rawConn) {
			r.send(Envelope{Type: Request, Stream: 1, Method: "block"})
			<-ts.started
			r.send(Envelope{Type: Request, Stream: 1, Method: "echo"})
			<-ts.blocked
		},
		"half frame then EOF": func(r *rawConn) {
			r.nc.Write([]byte{0, 0, 0, 9, 1})
			r.nc.(*net.TCPConn).CloseWrite()
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			before := ts.Stats().ProtocolErrors
			r := dialRaw(t, addr)
			send(r)
			r.expectClosed()
			if ts.Stats().ProtocolErrors != before+1 {
				t.Fatalf("protocol errors %d, want %d", ts.Stats().ProtocolErrors, before+1)
			}
			if got, err := good.Call(ctxT(t), "echo", []byte("ok")); err != nil || string(got) != "ok" {
				t.Fatalf("other connection: %q, %v", got, err)
			}
		})
	}
}

func TestUnknownFrameTypeAndFieldsIgnored(t *testing.T) {
	_, addr := serve(t, newTestServer(ServerOptions{}), server.Options{})
	r := dialRaw(t, addr)
	p := AppendEnvelope(nil, &Envelope{Type: 99, Stream: 1})
	r.nc.Write(frame.AppendFrame(nil, p))
	p = AppendEnvelope(nil, &Envelope{Type: Request, Stream: 2, Method: "echo", Payload: []byte("v2")})
	p = wire.AppendStringField(p, 42, "a field from a later version")
	r.nc.Write(frame.AppendFrame(nil, p))
	if got := r.recv(); got.Stream != 2 || string(got.Payload) != "v2" {
		t.Fatalf("got %+v", got)
	}
}

func TestLimits(t *testing.T) {
	ts := newTestServer(ServerOptions{MaxStreams: 1, MaxFrame: 4096})
	_, addr := serve(t, ts, server.Options{})
	c := client(t, addr, ClientOptions{MaxFrame: 4096})
	_, err := c.Call(ctxT(t), "echo", make([]byte, 5000))
	wantCode(t, err, ResourceExhausted) // refused by our own writer
	_, err = c.Call(ctxT(t), "big", nil)
	wantCode(t, err, ResourceExhausted) // the reply would not fit
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { _, err := c.Call(ctx, "block", nil); done <- err }()
	<-ts.started
	_, err = c.Call(ctxT(t), "echo", nil)
	wantCode(t, err, ResourceExhausted) // one stream per connection
	cancel()
	wantCode(t, <-done, Canceled)
	<-ts.blocked
	if st := c.Stats(); st.Dials != 1 {
		t.Fatalf("limits broke the connection: %+v", st)
	}
}

func TestReconnectAfterConnectionLoss(t *testing.T) {
	_, addr := serve(t, newTestServer(ServerOptions{}), server.Options{})
	var mu sync.Mutex
	var conns []net.Conn
	c := client(t, addr, ClientOptions{Dial: func(ctx context.Context) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		mu.Lock()
		conns = append(conns, nc)
		mu.Unlock()
		return nc, err
	}})
	if _, err := c.Call(ctxT(t), "echo", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	conns[0].Close()
	mu.Unlock()
	var err error
	for range 3 { // the first call may race with the reader noticing
		if _, err = c.Call(ctxT(t), "echo", []byte("again")); err == nil {
			break
		}
		wantCode(t, err, Unavailable)
	}
	if err != nil || c.Stats().Dials != 2 {
		t.Fatalf("after loss: %v, stats %+v", err, c.Stats())
	}
}

func TestGracefulShutdownFinishesCalls(t *testing.T) {
	ts := newTestServer(ServerOptions{})
	srv, addr := serve(t, ts, server.Options{})
	c := client(t, addr, ClientOptions{})
	s, err := c.Stream(ctxT(t), "count", wire.AppendUvarint(nil, 3))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { _, err := c.Call(ctx, "block", nil); done <- err }()
	<-ts.started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctxT(t)) }()
	for range 3 {
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("stream during shutdown: %v", err)
	}
	cancel() // the in-flight call ends: the server can finish
	wantCode(t, <-done, Canceled)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	_, err = c.Call(ctxT(t), "echo", nil)
	wantCode(t, err, Unavailable)
}

func TestClosedClient(t *testing.T) {
	_, addr := serve(t, newTestServer(ServerOptions{}), server.Options{})
	c := NewClient(addr, ClientOptions{})
	c.Close()
	_, err := c.Call(ctxT(t), "echo", nil)
	wantCode(t, err, Unavailable)
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(AppendEnvelope(nil, &Envelope{Type: Request, Stream: 1, Method: "echo", Timeout: 5, Payload: []byte("x")}))
	f.Add(AppendEnvelope(nil, &Envelope{Type: Status, Stream: 1, Code: NotFound, Message: "no"}))
	f.Add([]byte{0x08})
	f.Add([]byte{0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		if len(e.Payload)+len(e.Method)+len(e.Message) > len(data) {
			t.Fatalf("decoded more than the input holds")
		}
		again, err := ParseEnvelope(AppendEnvelope(nil, &e))
		if err != nil || again.Stream != e.Stream || again.Type != e.Type || !bytes.Equal(again.Payload, e.Payload) {
			t.Fatalf("round trip: %+v -> %+v, %v", e, again, err)
		}
	})
}

// A call the server's GoAway says it never started is sent again on a new
// connection; the caller sees only the answer.
func TestGoAwayUnstartedCallIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2 {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			p, err := frame.NewReader(nc, 0).ReadFrame()
			if err != nil {
				return
			}
			req, err := ParseEnvelope(p)
			if err != nil {
				return
			}
			reply := Envelope{Type: GoAway, Stream: req.Stream - 1}
			if i == 1 {
				reply = Envelope{Type: Status, Stream: req.Stream, Payload: []byte("second connection")}
			}
			nc.Write(frame.AppendFrame(nil, AppendEnvelope(nil, &reply)))
		}
	}()
	c := client(t, ln.Addr().String(), ClientOptions{})
	got, err := c.Call(ctxT(t), "echo", []byte("x"))
	if err != nil || string(got) != "second connection" {
		t.Fatalf("got %q, %v", got, err)
	}
	if c.Stats().Dials != 2 {
		t.Fatalf("stats %+v, want two dials", c.Stats())
	}
	c.Close()
	<-done
}

// A client that sends requests but never reads replies is disconnected once
// a reply waits longer than the write timeout, instead of pinning handlers
// and buffers forever.
func TestClientNotReadingIsDisconnected(t *testing.T) {
	_, addr := serve(t, newTestServer(ServerOptions{}), server.Options{WriteTimeout: 50 * time.Millisecond})
	r := dialRaw(t, addr)
	payload := make([]byte, 512<<10)
	var err error
	for id := uint64(1); err == nil; id++ {
		p := AppendEnvelope(nil, &Envelope{Type: Request, Stream: id, Method: "echo", Payload: payload})
		_, err = r.nc.Write(frame.AppendFrame(nil, p))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server never gave up on a client that does not read")
	}
}

// The idle timeout is about silence with nothing to do: a connection whose
// call outlasts it is not idle.
func TestLongCallOutlastsIdleTimeout(t *testing.T) {
	rs := NewServer(ServerOptions{})
	rs.Handle("nap", func(ctx context.Context, req []byte) ([]byte, error) {
		select {
		case <-time.After(150 * time.Millisecond):
			return []byte("rested"), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	_, addr := serve(t, rs, server.Options{IdleTimeout: 20 * time.Millisecond})
	c := client(t, addr, ClientOptions{})
	got, err := c.Call(ctxT(t), "nap", nil)
	if err != nil || string(got) != "rested" {
		t.Fatalf("got %q, %v", got, err)
	}
	if c.Stats().Dials != 1 {
		t.Fatalf("stats %+v", c.Stats())
	}
}
