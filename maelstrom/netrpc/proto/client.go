package proto

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// writeTimeout bounds one frame's write, so a server that stops reading
// cannot hold a caller forever.
const writeTimeout = 10 * time.Second

// Stats counts what a Client saw that no call asked for.
type Stats struct {
	// StrayFrames are frames for streams the client no longer has open:
	// expected after a cancellation, a flood of them points at mixed-up
	// stream ids.
	StrayFrames uint64
	// UnexpectedFrames are Data frames on unary calls.
	UnexpectedFrames uint64
}

// Client makes calls to one server over one shared connection, dialled on
// the first call and again after the connection fails or the server sends
// GoAway.
type Client struct {
	addr     string
	maxFrame int

	mu     sync.Mutex
	cur    *conn
	nextID uint64
	stats  Stats
	closed bool
}

// NewClient returns a client of the server at addr that accepts frames up
// to maxFrame bytes (DefaultMaxFrame if maxFrame <= 0).
func NewClient(addr string, maxFrame int) *Client {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &Client{addr: addr, maxFrame: maxFrame}
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close ends every call in flight with Unavailable.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cur != nil {
		cur.fail(&Error{Code: Unavailable, Message: "client closed"})
	}
}

// conn is one TCP connection and the streams open on it.
type conn struct {
	c     *Client
	nc    net.Conn
	wmu   sync.Mutex
	mu    sync.Mutex
	calls map[uint64]*call
	err   error // set once the connection is dead
	away  bool  // the server sent GoAway: no new streams here
}

// call is one open stream: the envelopes that arrived for it, in order.
type call struct {
	unary  bool
	mu     sync.Mutex
	queue  []Envelope
	err    error
	signal chan struct{} // one token whenever queue or err changes
}

func (st *call) push(e Envelope) {
	st.mu.Lock()
	st.queue = append(st.queue, e)
	st.mu.Unlock()
	st.notify()
}

func (st *call) notify() {
	select {
	case st.signal <- struct{}{}:
	default:
	}
}

// open returns a usable connection and registers a new stream on it.
func (c *Client) open(ctx context.Context, unary bool) (*conn, uint64, *call, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, 0, nil, &Error{Code: Unavailable, Message: "client closed"}
	}
	if c.cur == nil || !c.cur.usable() {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return nil, 0, nil, &Error{Code: Unavailable, Message: err.Error()}
		}
		c.cur = &conn{c: c, nc: nc, calls: map[uint64]*call{}}
		go c.cur.readLoop()
	}
	c.nextID++
	st := &call{unary: unary, signal: make(chan struct{}, 1)}
	cc := c.cur
	cc.mu.Lock()
	cc.calls[c.nextID] = st
	cc.mu.Unlock()
	return cc, c.nextID, st, nil
}

func (cc *conn) usable() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err == nil && !cc.away
}

// fail ends the connection and every call on it with err.
func (cc *conn) fail(err error) {
	cc.mu.Lock()
	if cc.err == nil {
		cc.err = err
	}
	calls := cc.calls
	cc.calls = map[uint64]*call{}
	cc.mu.Unlock()
	cc.nc.Close()
	for _, st := range calls {
		st.mu.Lock()
		st.err = err
		st.mu.Unlock()
		st.notify()
	}
}

func (cc *conn) forget(id uint64) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	_, ok := cc.calls[id]
	delete(cc.calls, id)
	return ok
}

func (cc *conn) write(e *Envelope) error {
	b := AppendFrame(nil, e.Append(nil))
	if len(b)-4 > cc.c.maxFrame {
		return &Error{Code: ResourceExhausted, Message: fmt.Sprintf("request of %d bytes above the frame limit", len(b)-4)}
	}
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	cc.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := cc.nc.Write(b); err != nil {
		err = &Error{Code: Unavailable, Message: "write: " + err.Error()}
		go cc.fail(err)
		return err
	}
	return nil
}

func (cc *conn) readLoop() {
	for {
		b, err := ReadFrame(cc.nc, cc.c.maxFrame)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			cc.fail(&Error{Code: Unavailable, Message: "connection lost: " + err.Error()})
			return
		}
		e, err := ParseEnvelope(b)
		if err != nil {
			cc.fail(&Error{Code: Internal, Message: "the server sent a frame that is not an envelope: " + err.Error()})
			return
		}
		switch e.Kind {
		case GoAway:
			cc.mu.Lock()
			cc.away = true
			cc.mu.Unlock()
			continue
		case Data, Status:
		default:
			continue // the specification says to ignore unknown frame types
		}
		e.Payload = append([]byte(nil), e.Payload...)
		cc.mu.Lock()
		st, ok := cc.calls[e.Stream]
		if ok && e.Kind == Status {
			delete(cc.calls, e.Stream)
		}
		cc.mu.Unlock()
		cc.c.mu.Lock()
		switch {
		case !ok:
			cc.c.stats.StrayFrames++
		case e.Kind == Data && st.unary:
			cc.c.stats.UnexpectedFrames++
		}
		cc.c.mu.Unlock()
		if ok && (e.Kind == Status || !st.unary) {
			st.push(e)
		}
	}
}

// start opens a stream and sends its Request, with the time left before
// ctx's deadline as the timeout.
func (c *Client) start(ctx context.Context, method string, payload []byte, unary bool) (*conn, uint64, *call, error) {
	var micros uint64
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, 0, nil, &Error{Code: DeadlineExceeded, Message: "deadline passed before the call"}
		}
		micros = max(uint64(left/time.Microsecond), 1)
	}
	cc, id, st, err := c.open(ctx, unary)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := cc.write(&Envelope{Kind: Request, Stream: id, Method: method, TimeoutMicros: micros, Payload: payload}); err != nil {
		cc.forget(id)
		return nil, 0, nil, err
	}
	return cc, id, st, nil
}

// next waits for the stream's next envelope, or for its end by ctx or by
// the connection. When ctx ends first, the server is sent Cancel.
func (cc *conn) next(ctx context.Context, id uint64, st *call) (Envelope, error) {
	for {
		st.mu.Lock()
		if len(st.queue) > 0 {
			e := st.queue[0]
			st.queue = st.queue[1:]
			st.mu.Unlock()
			return e, nil
		}
		err := st.err
		st.mu.Unlock()
		if err != nil {
			return Envelope{}, err
		}
		select {
		case <-st.signal:
		case <-ctx.Done():
			cc.cancel(id)
			return Envelope{}, &Error{Code: CodeOf(ctx.Err()), Message: ctx.Err().Error()}
		}
	}
}

// cancel forgets the stream and, if it was still open, tells the server.
func (cc *conn) cancel(id uint64) {
	if cc.forget(id) {
		cc.write(&Envelope{Kind: Cancel, Stream: id})
	}
}

// Call makes a unary call and returns the reply's payload, or an *Error.
func (c *Client) Call(ctx context.Context, method string, payload []byte) ([]byte, error) {
	cc, id, st, err := c.start(ctx, method, payload, true)
	if err != nil {
		return nil, err
	}
	e, err := cc.next(ctx, id, st)
	if err != nil {
		return nil, err
	}
	if e.Code != OK {
		return nil, &Error{Code: e.Code, Message: e.Message}
	}
	return e.Payload, nil
}

// Stream is a server-streaming call in progress.
type Stream struct {
	ctx  context.Context
	cc   *conn
	id   uint64
	st   *call
	done bool
}

// Stream makes a server-streaming call; read its messages with Recv.
func (c *Client) Stream(ctx context.Context, method string, payload []byte) (*Stream, error) {
	cc, id, st, err := c.start(ctx, method, payload, false)
	if err != nil {
		return nil, err
	}
	return &Stream{ctx: ctx, cc: cc, id: id, st: st}, nil
}

// Recv returns the next Data payload, io.EOF once the stream ended with
// OK, or the *Error it ended with.
func (s *Stream) Recv() ([]byte, error) {
	if s.done {
		return nil, io.EOF
	}
	e, err := s.cc.next(s.ctx, s.id, s.st)
	if err != nil {
		s.done = true
		return nil, err
	}
	if e.Kind == Data {
		return e.Payload, nil
	}
	s.done = true
	if e.Code != OK {
		return nil, &Error{Code: e.Code, Message: e.Message}
	}
	return nil, io.EOF
}

// Close abandons the stream, sending Cancel if the server has not ended
// it.
func (s *Stream) Close() {
	if !s.done {
		s.done = true
		s.cc.cancel(s.id)
	}
}
