// Package server is a TCP server with the three properties every network
// service needs before it speaks any protocol: a bound on concurrent
// connections, deadlines so that idle or stalled peers cannot hold resources
// forever, and a graceful shutdown that stops accepting, lets in-flight work
// finish, and force-closes what is left when the caller's deadline expires.
//
// The server knows nothing of messages. A Handler drives one connection and
// tells the server where message boundaries are through Conn: WaitIdle waits
// (under the idle timeout) for the first byte of the next message, BeginRead
// starts the clock for reading the rest of it (the read timeout), so a peer
// sending one byte a minute is cut off however patiently it trickles.
//
// This is the first stage of the networker track; the rpc package is a
// Handler.
package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("server closed")
	// ErrIdleTimeout: no message started within the idle timeout.
	ErrIdleTimeout = errors.New("connection idle")
	// ErrDraining: the server is shutting down; the handler should finish
	// the work it has and return.
	ErrDraining = errors.New("server draining")
)

// Handler serves one connection. ctx is cancelled when the connection is
// force-closed (Close, or Shutdown past its deadline); Conn.Draining reports
// the gentler request to finish and return. The server closes c after
// ServeConn returns.
type Handler interface {
	ServeConn(ctx context.Context, c *Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Conn)

// ServeConn calls f.
func (f HandlerFunc) ServeConn(ctx context.Context, c *Conn) { f(ctx, c) }

// Options configure a Server. Zero values take the defaults shown.
type Options struct {
	MaxConns     int           // concurrent connections; more are accepted and closed at once (1024)
	IdleTimeout  time.Duration // wait for the next message (2 min; negative: none)
	ReadTimeout  time.Duration // read one message once it started (10 s; negative: none)
	WriteTimeout time.Duration // complete one Write (10 s; negative: none)
	ReadBuffer   int           // bufio.Reader size (32 KiB)
}

func (o Options) withDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = 1024
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		} else if *d < 0 {
			*d = 0
		}
	}
	def(&o.IdleTimeout, 2*time.Minute)
	def(&o.ReadTimeout, 10*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	if o.ReadBuffer <= 0 {
		o.ReadBuffer = 32 << 10
	}
	return o
}

// Stats counts connections.
type Stats struct {
	Accepted uint64 // handed to the handler
	Rejected uint64 // closed at once because MaxConns were open
	Active   int    // open now
}

// Server accepts TCP connections and runs a Handler on each.
type Server struct {
	h    Handler
	opts Options

	ctx    context.Context // cancelled on force close
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	draining  bool
	done      chan struct{} // closed when draining begins
	wg        sync.WaitGroup

	accepted, rejected atomic.Uint64
}

// New returns a Server that runs h on every connection.
func New(h Handler, opts Options) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		h: h, opts: opts.withDefaults(), ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, conns: map[*Conn]struct{}{},
		done: make(chan struct{}),
	}
}

// Stats returns connection counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Accepted: s.accepted.Load(), Rejected: s.rejected.Load(), Active: len(s.conns)}
}

// Serve accepts connections on ln until Shutdown or Close, and then returns
// ErrServerClosed. Transient accept errors (such as running out of file
// descriptors) are retried with backoff rather than ending the server.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isDraining() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-s.done:
				}
				continue
			}
			return err
		}
		backoff = 0
		s.track(nc)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) track(nc net.Conn) {
	s.mu.Lock()
	if s.draining || len(s.conns) >= s.opts.MaxConns {
		// Closing at once tells the client to go elsewhere; leaving it in
		// the backlog would make it wait for a slot that may never come.
		s.mu.Unlock()
		s.rejected.Add(1)
		nc.Close()
		return
	}
	c := &Conn{Conn: nc, srv: s, br: bufio.NewReaderSize(nc, s.opts.ReadBuffer)}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.accepted.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			nc.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
		s.h.ServeConn(s.ctx, c)
	}()
}

// Shutdown stops accepting, asks every handler to finish (Conn.Draining,
// WaitIdle returns ErrDraining) and waits for them. If ctx ends first, it
// force-closes the remaining connections, waits for their handlers to
// return, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginDrain()
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.forceClose()
		<-finished
		return ctx.Err()
	}
}

// Close force-closes the listeners and every connection and waits for the
// handlers to return.
func (s *Server) Close() error {
	s.beginDrain()
	s.forceClose()
	s.wg.Wait()
	return nil
}

func (s *Server) beginDrain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return
	}
	s.draining = true
	close(s.done)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.interruptIdle()
	}
}

func (s *Server) forceClose() {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Conn.Close()
	}
}

// Conn is one accepted connection. Reads go through a buffered reader; use
// WaitIdle and BeginRead around each message so the deadlines apply.
type Conn struct {
	net.Conn
	srv *Server
	br  *bufio.Reader

	mu   sync.Mutex
	idle bool // blocked in WaitIdle; the drain may interrupt it
}

// Read reads from the connection's buffer.
func (c *Conn) Read(p []byte) (int, error) { return c.br.Read(p) }

// Reader is the connection's buffered reader.
func (c *Conn) Reader() *bufio.Reader { return c.br }

// Draining is closed when the server begins a graceful shutdown.
func (c *Conn) Draining() <-chan struct{} { return c.srv.done }

// WaitIdle waits for the first byte of the next message. It returns nil when
// a byte is available, io.EOF when the peer closed cleanly, ErrIdleTimeout
// after the idle timeout, ErrDraining if the server started shutting down
// while the connection was between messages, or the read error. After
// ErrIdleTimeout the connection is intact and WaitIdle may be called again,
// which a handler with work still in flight will want.
func (c *Conn) WaitIdle() error {
	select {
	case <-c.srv.done:
		// Even with requests buffered: a client that pipelines without
		// pause must not keep a draining server busy forever.
		return ErrDraining
	default:
	}
	if c.br.Buffered() > 0 {
		return nil
	}
	c.mu.Lock()
	// The drain signal is read from the channel, not from the server's
	// mutex: beginDrain holds that mutex while it takes c.mu.
	select {
	case <-c.srv.done:
		c.mu.Unlock()
		return ErrDraining
	default:
	}
	c.idle = true
	// The deadline is set under mu so that a concurrent drain, which sets a
	// past deadline under mu, cannot be overwritten by this one.
	c.setReadDeadline(c.srv.opts.IdleTimeout)
	c.mu.Unlock()

	_, err := c.br.Peek(1)

	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		select {
		case <-c.srv.done:
			return ErrDraining
		default:
			return ErrIdleTimeout
		}
	}
	if err == io.EOF {
		return io.EOF
	}
	return err
}

// BeginRead starts the read timeout for the message whose first byte
// WaitIdle saw.
func (c *Conn) BeginRead() { c.setReadDeadline(c.srv.opts.ReadTimeout) }

func (c *Conn) setReadDeadline(d time.Duration) {
	if d > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(d))
	} else {
		c.Conn.SetReadDeadline(time.Time{})
	}
}

func (c *Conn) interruptIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// Write writes p under the write timeout, so a peer that stops reading
// cannot block a writer forever.
func (c *Conn) Write(p []byte) (int, error) {
	if d := c.srv.opts.WriteTimeout; d > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(d))
	}
	return c.Conn.Write(p)
}
