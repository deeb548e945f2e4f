package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/networker/frame"
)

// ClientOptions configure a Client. Zero values take the defaults shown.
type ClientOptions struct {
	MaxFrame    int           // largest frame read or written (frame.DefaultMaxSize)
	DialTimeout time.Duration // per connection attempt (5 s)
	// Dial opens a connection; by default TCP to the client's address.
	Dial func(ctx context.Context) (net.Conn, error)
	// StreamBuffer is how many messages of one server stream may wait
	// unread before the connection's reader waits for the consumer (64).
	StreamBuffer int
}

// ClientStats counts what a Client saw.
type ClientStats struct {
	Dials uint64 // connections opened
	// StrayFrames are replies for a stream this client did not open or has
	// already finished. A few follow cancellations; many mean the server
	// mixes up stream ids.
	StrayFrames uint64
	// UnexpectedFrames are Data frames on a unary call.
	UnexpectedFrames uint64
}

// ErrClientClosed is the message of the Unavailable error after Close.
var ErrClientClosed = errors.New("client closed")

// Client calls methods on one server over one connection, shared by every
// concurrent call and reopened when it fails or the server sends GoAway.
type Client struct {
	addr string
	opts ClientOptions

	mu     sync.Mutex
	cc     *clientConn
	old    map[*clientConn]struct{} // replaced after GoAway, finishing their calls
	closed bool

	dials, stray, unexpected atomic.Uint64
}

// NewClient returns a Client for addr. It connects on the first call.
func NewClient(addr string, opts ClientOptions) *Client {
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = frame.DefaultMaxSize
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.StreamBuffer <= 0 {
		opts.StreamBuffer = 64
	}
	c := &Client{addr: addr, opts: opts}
	if c.opts.Dial == nil {
		d := &net.Dialer{}
		c.opts.Dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	return c
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{Dials: c.dials.Load(), StrayFrames: c.stray.Load(), UnexpectedFrames: c.unexpected.Load()}
}

// Close fails every call in flight with Unavailable and closes the
// connection.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := []*clientConn{c.cc}
	for old := range c.old {
		conns = append(conns, old)
	}
	c.cc = nil
	c.mu.Unlock()
	for _, cc := range conns {
		if cc != nil {
			cc.fail(ErrClientClosed)
		}
	}
	return nil
}

// conn returns a usable connection, dialling if there is none.
func (c *Client) conn(ctx context.Context) (*clientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &Error{Code: Unavailable, Message: ErrClientClosed.Error()}
	}
	if c.cc != nil && c.cc.usable() {
		return c.cc, nil
	}
	if c.cc != nil && c.cc.alive() {
		// Going away: its calls finish on it, new ones go elsewhere.
		if c.old == nil {
			c.old = map[*clientConn]struct{}{}
		}
		c.old[c.cc] = struct{}{}
	}
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	nc, err := c.opts.Dial(dctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, toError(ctx.Err())
		}
		return nil, &Error{Code: Unavailable, Message: fmt.Sprintf("dial %s: %v", c.addr, err)}
	}
	c.dials.Add(1)
	cc := &clientConn{
		client: c, nc: nc, w: newConnWriter(nc, c.opts.MaxFrame),
		streams: map[uint64]*clientStream{}, dead: make(chan struct{}),
	}
	go cc.readLoop()
	c.cc = cc
	return cc, nil
}

type clientConn struct {
	client *Client
	nc     net.Conn
	w      *connWriter

	mu        sync.Mutex
	streams   map[uint64]*clientStream
	nextID    uint64
	goingAway bool
	err       error
	dead      chan struct{}
}

type clientStream struct {
	id          uint64
	unary       bool
	ch          chan Envelope
	done        chan struct{} // closed when the caller stops listening
	doneOnce    sync.Once
	unprocessed atomic.Bool // GoAway said the server never started it
}

func (st *clientStream) abandon() { st.doneOnce.Do(func() { close(st.done) }) }

func (cc *clientConn) alive() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err == nil
}

func (cc *clientConn) usable() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err == nil && !cc.goingAway
}

// register opens a stream id; ok is false if the connection cannot take it.
func (cc *clientConn) register(unary bool, buf int) (*clientStream, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.err != nil || cc.goingAway {
		return nil, false
	}
	cc.nextID++
	st := &clientStream{id: cc.nextID, unary: unary, ch: make(chan Envelope, buf), done: make(chan struct{})}
	cc.streams[st.id] = st
	return st, true
}

func (cc *clientConn) unregister(st *clientStream) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.streams[st.id] != st {
		return false
	}
	delete(cc.streams, st.id)
	return true
}

func (cc *clientConn) fail(err error) {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.err = err
	close(cc.dead)
	cc.mu.Unlock()
	cc.nc.Close()
}

func (cc *clientConn) readLoop() {
	defer func() {
		cc.client.mu.Lock()
		delete(cc.client.old, cc)
		cc.client.mu.Unlock()
	}()
	fr := frame.NewReader(bufio.NewReaderSize(cc.nc, 32<<10), cc.client.opts.MaxFrame)
	for {
		p, err := fr.ReadFrame()
		if err != nil {
			if err == io.EOF {
				err = errors.New("server closed the connection")
			}
			cc.fail(err)
			return
		}
		env, err := ParseEnvelope(p)
		if err != nil {
			cc.fail(err)
			return
		}
		switch env.Type {
		case Data, Status:
			cc.mu.Lock()
			st := cc.streams[env.Stream]
			if st != nil && env.Type == Status {
				delete(cc.streams, env.Stream)
			}
			cc.mu.Unlock()
			if st == nil {
				cc.client.stray.Add(1)
				continue
			}
			if st.unary && env.Type == Data {
				cc.client.unexpected.Add(1)
				continue
			}
			select {
			case st.ch <- env:
			case <-st.done:
			}
		case GoAway:
			cc.mu.Lock()
			cc.goingAway = true
			var refused []*clientStream
			for id, st := range cc.streams {
				if id > env.Stream {
					delete(cc.streams, id)
					refused = append(refused, st)
				}
			}
			cc.mu.Unlock()
			for _, st := range refused {
				st.unprocessed.Store(true)
				select {
				case st.ch <- Envelope{Type: Status, Stream: st.id, Code: Unavailable, Message: "server went away before starting the call"}:
				case <-st.done:
				}
			}
		}
	}
}

// timeoutMicros is the time left before ctx's deadline, for the header.
func timeoutMicros(ctx context.Context) (uint64, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, nil
	}
	left := time.Until(dl)
	if left <= 0 {
		return 0, &Error{Code: DeadlineExceeded, Message: "deadline passed before the call was sent"}
	}
	return max(uint64(left/time.Microsecond), 1), nil
}

// open sends a request on a new stream.
func (c *Client) open(ctx context.Context, method string, req []byte, unary bool) (*clientConn, *clientStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, toError(err)
	}
	timeout, err := timeoutMicros(ctx)
	if err != nil {
		return nil, nil, err
	}
	buf := 1
	if !unary {
		buf = c.opts.StreamBuffer
	}
	for range 3 { // a connection may die or go away between conn and register
		cc, err := c.conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		st, ok := cc.register(unary, buf)
		if !ok {
			continue
		}
		err = cc.w.send(&Envelope{Type: Request, Stream: st.id, Method: method, Timeout: timeout, Payload: req})
		if err != nil {
			cc.unregister(st)
			if errors.Is(err, frame.ErrTooLarge) {
				return nil, nil, &Error{Code: ResourceExhausted, Message: fmt.Sprintf("request: %v", err)}
			}
			cc.fail(err)
			return nil, nil, &Error{Code: Unavailable, Message: err.Error()}
		}
		return cc, st, nil
	}
	return nil, nil, &Error{Code: Unavailable, Message: "no usable connection"}
}

// next waits for the stream's next envelope.
func (cc *clientConn) next(ctx context.Context, st *clientStream) (Envelope, error) {
	select {
	case env := <-st.ch:
		return env, nil
	case <-ctx.Done():
		cc.cancel(st)
		return Envelope{}, toError(ctx.Err())
	case <-cc.dead:
		select {
		case env := <-st.ch: // delivered just before the connection died
			return env, nil
		default:
		}
		cc.unregister(st)
		return Envelope{}, &Error{Code: Unavailable, Message: cc.err.Error()}
	}
}

// cancel forgets st and, if the server may still be working on it, tells
// the server to stop.
func (cc *clientConn) cancel(st *clientStream) {
	st.abandon()
	if cc.unregister(st) {
		cc.w.send(&Envelope{Type: Cancel, Stream: st.id}) // best effort
	}
}

// Call invokes a unary method and returns its reply. Errors are *Error.
// ctx's deadline travels to the server, which cancels the handler when it
// passes; cancelling ctx sends a Cancel frame.
func (c *Client) Call(ctx context.Context, method string, req []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		cc, st, err := c.open(ctx, method, req, true)
		if err != nil {
			return nil, err
		}
		env, err := cc.next(ctx, st)
		if err != nil {
			return nil, err
		}
		if env.Code != OK {
			if st.unprocessed.Load() && attempt == 0 {
				continue // never started, so safe to send again
			}
			return nil, &Error{Code: env.Code, Message: env.Message}
		}
		return env.Payload, nil
	}
}

// Stream is the receiving end of a server-streaming call.
type Stream struct {
	cc   *clientConn
	st   *clientStream
	ctx  context.Context
	err  error // terminal: io.EOF or *Error
	stop func() bool
}

// Stream invokes a server-streaming method. Read the messages with Recv;
// call Close if you stop before Recv returns an error.
func (c *Client) Stream(ctx context.Context, method string, req []byte) (*Stream, error) {
	cc, st, err := c.open(ctx, method, req, false)
	if err != nil {
		return nil, err
	}
	s := &Stream{cc: cc, st: st, ctx: ctx}
	// Cancel promptly even if nobody is in Recv.
	s.stop = context.AfterFunc(ctx, func() { cc.cancel(st) })
	return s, nil
}

// Recv returns the next message, io.EOF after the last one when the call
// ended with OK, or the call's *Error.
func (s *Stream) Recv() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	env, err := s.cc.next(s.ctx, s.st)
	switch {
	case err != nil:
		s.err = err
	case env.Type == Data:
		return env.Payload, nil
	case env.Code == OK:
		s.err = io.EOF
	default:
		s.err = &Error{Code: env.Code, Message: env.Message}
	}
	s.stop()
	return nil, s.err
}

// Close stops receiving; the server is told to cancel if the call is still
// running.
func (s *Stream) Close() {
	s.stop()
	if s.err == nil {
		s.err = &Error{Code: Canceled, Message: "stream closed"}
		s.cc.cancel(s.st)
	}
}
