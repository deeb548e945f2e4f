package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/networker/frame"
	"github.com/distsys-curriculum/distsys/tracks/networker/server"
)

// UnaryHandler answers one request with one reply. It should return when
// ctx ends: the caller's deadline passed or it cancelled.
type UnaryHandler func(ctx context.Context, req []byte) ([]byte, error)

// StreamHandler answers one request with any number of messages, each sent
// with send, then returns. send fails once ctx ends or the connection fails.
type StreamHandler func(ctx context.Context, req []byte, send func(msg []byte) error) error

// ServerOptions configure a Server. Zero values take the defaults shown.
type ServerOptions struct {
	MaxFrame   int          // largest frame read or written (frame.DefaultMaxSize)
	MaxStreams int          // concurrent streams per connection; more get ResourceExhausted (1024)
	Logger     *slog.Logger // protocol errors and panics (discarded)
}

// ServerStats counts what a Server saw.
type ServerStats struct {
	Calls          uint64 // requests accepted and run
	Rejected       uint64 // requests answered at once: NotFound, ResourceExhausted
	ProtocolErrors uint64 // connections closed for a bad frame or envelope
	Panics         uint64 // handlers that panicked (answered Internal)
}

// Server runs registered handlers for requests arriving on connections. It
// is a server.Handler: give it to server.New.
type Server struct {
	opts    ServerOptions
	unary   map[string]UnaryHandler
	streams map[string]StreamHandler

	calls, rejected, protocolErrors, panics atomic.Uint64
}

// NewServer returns a Server without methods.
func NewServer(opts ServerOptions) *Server {
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = frame.DefaultMaxSize
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, unary: map[string]UnaryHandler{}, streams: map[string]StreamHandler{}}
}

// Handle registers a unary method. Register every method before serving.
func (s *Server) Handle(method string, h UnaryHandler) { s.unary[method] = h }

// HandleStream registers a server-streaming method.
func (s *Server) HandleStream(method string, h StreamHandler) { s.streams[method] = h }

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{Calls: s.calls.Load(), Rejected: s.rejected.Load(),
		ProtocolErrors: s.protocolErrors.Load(), Panics: s.panics.Load()}
}

type serverStream struct {
	ctx            context.Context
	cancel         context.CancelFunc
	clientCanceled atomic.Bool
}

type serverConn struct {
	srv *Server
	c   *server.Conn
	w   *connWriter
	log *slog.Logger

	mu      sync.Mutex
	streams map[uint64]*serverStream
	wg      sync.WaitGroup
}

// ServeConn reads requests from c until it fails, goes idle with nothing in
// flight, or the server drains; each request runs in its own goroutine.
func (s *Server) ServeConn(ctx context.Context, c *server.Conn) {
	sc := &serverConn{
		srv: s, c: c, w: newConnWriter(c, s.opts.MaxFrame), streams: map[uint64]*serverStream{},
		log: s.opts.Logger.With("remote", c.RemoteAddr().String()),
	}
	// Handlers live on connCtx: it ends when the connection is forced shut
	// or when the client is gone, so their work stops with it. A drain does
	// not end it: in-flight calls finish.
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	fr := frame.NewReader(c.Reader(), s.opts.MaxFrame)
	var last uint64
	draining := false
	for {
		if !draining {
			err := c.WaitIdle()
			if errors.Is(err, server.ErrIdleTimeout) && sc.active() > 0 {
				continue // quiet, but calls are in flight: not idle
			}
			if errors.Is(err, server.ErrDraining) {
				sc.drain(last)
				draining = true
				continue
			}
			if err != nil {
				break
			}
			c.BeginRead()
		}
		p, err := fr.ReadFrame()
		if err != nil {
			if errors.Is(err, frame.ErrTooLarge) || errors.Is(err, io.ErrUnexpectedEOF) {
				s.protocolErrors.Add(1)
				sc.log.Debug("closing connection", "err", err)
			}
			break
		}
		env, err := ParseEnvelope(p)
		if err != nil {
			s.protocolErrors.Add(1)
			sc.log.Debug("closing connection", "err", err)
			break
		}
		switch env.Type {
		case Request:
			if draining {
				continue // after GoAway(last): the client will retry it elsewhere
			}
			if err := sc.start(connCtx, env); err != nil {
				s.protocolErrors.Add(1)
				sc.log.Debug("closing connection", "err", err)
				cancel()
				sc.wg.Wait()
				return
			}
			last = max(last, env.Stream)
		case Cancel:
			sc.mu.Lock()
			st := sc.streams[env.Stream]
			sc.mu.Unlock()
			if st != nil {
				st.clientCanceled.Store(true)
				st.cancel()
			}
		default:
			// Frame types from a later protocol version: ignore.
		}
	}
	// Either the drain finished (every call answered, so this is a no-op) or
	// the client is gone or broke the protocol and nobody will read replies.
	cancel()
	sc.wg.Wait()
}

// drain tells the client which streams will complete (so it retries later
// ones elsewhere) and keeps the connection readable, for Cancel frames, until
// the last of them ends.
func (sc *serverConn) drain(last uint64) {
	sc.c.SetReadDeadline(time.Time{}) // WaitIdle's interruption is spent
	sc.send(&Envelope{Type: GoAway, Stream: last})
	go func() {
		// No stream starts after this point, so Wait cannot race an Add.
		sc.wg.Wait()
		sc.c.SetReadDeadline(time.Unix(1, 0))
	}()
}

// send writes e; a failed write (the client stopped reading past the write
// timeout, or the connection broke) closes the connection, so the read loop
// stops taking requests it could never answer.
func (sc *serverConn) send(e *Envelope) error {
	err := sc.w.send(e)
	if err != nil && !errors.Is(err, frame.ErrTooLarge) {
		sc.c.Close()
	}
	return err
}

func (sc *serverConn) active() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.streams)
}

// start runs a request. It returns an error only for a protocol violation
// that ends the connection.
func (sc *serverConn) start(connCtx context.Context, env Envelope) error {
	if env.Stream == 0 {
		return fmt.Errorf("request on stream 0")
	}
	s := sc.srv
	unary, isUnary := s.unary[env.Method]
	stream, isStream := s.streams[env.Method]
	sc.mu.Lock()
	if _, dup := sc.streams[env.Stream]; dup {
		sc.mu.Unlock()
		return fmt.Errorf("request reuses active stream %d", env.Stream)
	}
	var reject *Error
	switch {
	case !isUnary && !isStream:
		reject = &Error{Code: NotFound, Message: fmt.Sprintf("no method %q", env.Method)}
	case len(sc.streams) >= s.opts.MaxStreams:
		reject = &Error{Code: ResourceExhausted, Message: fmt.Sprintf("%d streams already open on this connection", s.opts.MaxStreams)}
	}
	if reject != nil {
		sc.mu.Unlock()
		s.rejected.Add(1)
		sc.send(&Envelope{Type: Status, Stream: env.Stream, Code: reject.Code, Message: reject.Message})
		return nil
	}
	st := &serverStream{}
	if env.Timeout > 0 {
		st.ctx, st.cancel = context.WithTimeout(connCtx, time.Duration(env.Timeout)*time.Microsecond)
	} else {
		st.ctx, st.cancel = context.WithCancel(connCtx)
	}
	sc.streams[env.Stream] = st
	sc.wg.Add(1)
	sc.mu.Unlock()
	s.calls.Add(1)
	go sc.run(st, env, unary, stream)
	return nil
}

func (sc *serverConn) run(st *serverStream, env Envelope, unary UnaryHandler, stream StreamHandler) {
	defer sc.wg.Done()
	defer st.cancel()
	var reply []byte
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				sc.srv.panics.Add(1)
				sc.log.Error("handler panicked", "method", env.Method, "panic", r)
				err = &Error{Code: Internal, Message: fmt.Sprintf("handler panicked: %v", r)}
			}
		}()
		if unary != nil {
			reply, err = unary(st.ctx, env.Payload)
			return
		}
		send := func(msg []byte) error {
			if err := st.ctx.Err(); err != nil {
				return err
			}
			return sc.send(&Envelope{Type: Data, Stream: env.Stream, Payload: msg})
		}
		err = stream(st.ctx, env.Payload, send)
	}()

	sc.mu.Lock()
	delete(sc.streams, env.Stream)
	sc.mu.Unlock()
	if st.clientCanceled.Load() {
		return // the client has forgotten the stream
	}
	out := &Envelope{Type: Status, Stream: env.Stream}
	if err != nil {
		if cerr := st.ctx.Err(); cerr != nil && StatusCode(err) == Unknown {
			err = cerr // a handler that returned whatever its ctx said
		}
		e := toError(err)
		out.Code, out.Message = e.Code, e.Message
	} else {
		out.Payload = reply
	}
	if err := sc.send(out); errors.Is(err, frame.ErrTooLarge) {
		sc.send(&Envelope{Type: Status, Stream: env.Stream, Code: ResourceExhausted,
			Message: fmt.Sprintf("reply of %d bytes exceeds the frame limit of %d", len(reply), sc.srv.opts.MaxFrame)})
	}
}
