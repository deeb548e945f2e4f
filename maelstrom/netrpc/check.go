// Package netrpc is the grader's net-rpc check: it grades any server that
// speaks the net-rpc protocol (specified in the networker lesson) on a TCP
// address, through the grader's own client and codec (package proto). The net-rpc workload (package workload) runs it against every
// node in process mode; `networker check` runs it against any address.
//
// Check runs well-formed calls from many goroutines over a few shared
// connections and, at the same time, abuses the server from other
// connections: garbage bytes, frames whose length prefix exceeds the frame
// limit, half-open connections that stop mid-frame, and slow connections that
// send a request one byte at a time. The server is valid when every
// well-formed call (including the slow ones) is answered correctly, every
// oversized frame is refused by closing its connection promptly, a
// connection whose peer ended mid-frame is closed, and the server keeps
// accepting and answering new connections throughout.
//
// Memory is judged from outside: a server that allocates what a length
// prefix announces before the bytes arrive has to wait for those bytes, so
// it keeps the connection open, and that is what the oversized probe
// catches. The lesson README documents the methods, their bodies and flags.
package netrpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/netrpc/proto"
)

// The methods a net-rpc server must serve.
const (
	MethodEcho  = "echo"  // reply = request payload
	MethodCount = "count" // request varint n <= MaxCount; stream varints 0..n-1
	MethodSleep = "sleep" // request varint ms <= MaxSleep; reply empty after ms
	MaxCount    = 10_000
	MaxSleep    = 60_000
)

// Options configure a check. Zero values take the defaults shown.
type Options struct {
	Duration    time.Duration // how long to run (5 s)
	Concurrency int           // goroutines making well-formed calls (16)
	Clients     int           // connections those goroutines share (2)
	Abusers     int           // goroutines abusing the server on their own connections (4)
	MaxFrame    int           // the server's frame limit (1 MiB)
	MaxPayload  int           // largest ordinary echo payload (4 KiB)
	// CallTimeout bounds each well-formed call (5 s): a call not answered
	// by then is a violation.
	CallTimeout time.Duration
	// RejectWithin is how soon the server must close a connection after an
	// oversized length prefix or an end of stream mid-frame (2 s). Keep the
	// server's own read timeout longer than this, or its timeout could
	// hide a server that trusts the prefix.
	RejectWithin time.Duration
	// ByteDelay is the pause between bytes on slow connections (2 ms).
	ByteDelay time.Duration
	Seed      uint64 // the run's randomness (0: 1)
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Duration, 5*time.Second)
	def(&o.CallTimeout, 5*time.Second)
	def(&o.RejectWithin, 2*time.Second)
	def(&o.ByteDelay, 2*time.Millisecond)
	defInt(&o.Concurrency, 16)
	defInt(&o.Clients, 2)
	defInt(&o.Abusers, 4)
	defInt(&o.MaxFrame, proto.DefaultMaxFrame)
	defInt(&o.MaxPayload, 4096)
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// Counts are what the check did.
type Counts struct {
	Calls       int // well-formed calls completed as expected
	Echo        int
	LargeEcho   int // echoes of a frame at the server's limit
	Count       int // streams read to the end
	Cancelled   int // streams abandoned after the first message
	NotFound    int // unknown methods answered NotFound
	Invalid     int // bad arguments answered InvalidArgument
	Deadline    int // sleeps cut short by the caller's deadline
	Garbage     int // connections sent random bytes
	Oversized   int // oversized length prefixes refused
	HalfOpen    int // connections left or closed mid-frame
	Slow        int // byte-at-a-time requests answered correctly
	Probes      int // fresh connections that were answered
	StrayFrames uint64
}

// Quantiles summarise the latency of well-formed echo calls.
type Quantiles struct {
	P50, P90, P99, Max time.Duration
}

// Report is the verdict.
type Report struct {
	// Layer is the layer graded (CheckLayer); "" is the whole protocol.
	Layer string
	Valid bool
	// Violation explains the first thing that went wrong, for a learner to
	// act on; empty when valid.
	Violation string
	At        time.Duration // when the violation was seen, since the start
	Counts    Counts
	Latency   Quantiles
	Elapsed   time.Duration
}

func (r Report) String() string {
	var b strings.Builder
	if r.Layer != "" && r.Layer != LayerRPC {
		verdict := "valid"
		if !r.Valid {
			verdict = fmt.Sprintf("INVALID at %v: %s", r.At.Round(time.Millisecond), r.Violation)
		}
		c := r.Counts
		fmt.Fprintf(&b, "net-rpc layer %s: %s\n", r.Layer, verdict)
		fmt.Fprintf(&b, "  exchanges %d; abuse: stalled or cut %d, reset or malformed %d, oversized %d; probes %d; ran %v\n",
			c.Calls, c.HalfOpen, c.Garbage, c.Oversized, c.Probes, r.Elapsed.Round(time.Millisecond))
		return b.String()
	}
	if r.Valid {
		b.WriteString("net-rpc: valid\n")
	} else {
		fmt.Fprintf(&b, "net-rpc: INVALID at %v: %s\n", r.At.Round(time.Millisecond), r.Violation)
	}
	c := r.Counts
	fmt.Fprintf(&b, "  calls %d (echo %d, large echo %d, count %d, cancelled %d, not-found %d, invalid %d, deadline %d)\n",
		c.Calls, c.Echo, c.LargeEcho, c.Count, c.Cancelled, c.NotFound, c.Invalid, c.Deadline)
	fmt.Fprintf(&b, "  abuse: garbage %d, oversized %d, half-open %d, slow %d; probes %d; stray frames %d\n",
		c.Garbage, c.Oversized, c.HalfOpen, c.Slow, c.Probes, c.StrayFrames)
	fmt.Fprintf(&b, "  echo latency p50 %v p90 %v p99 %v max %v; ran %v\n",
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.Elapsed.Round(time.Millisecond))
	return b.String()
}

type run struct {
	addr  string
	opts  Options
	start time.Time
	layer string // "" or LayerRPC: the whole protocol (layers.go)

	mu      sync.Mutex
	counts  Counts
	lat     []time.Duration
	failed  bool
	reason  string
	at      time.Duration
	stopAll context.CancelFunc
}

// violation records the first violation and stops the run.
func (r *run) violation(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed {
		return
	}
	r.failed, r.reason, r.at = true, fmt.Sprintf(format, args...), time.Since(r.start)
	r.stopAll()
}

func (r *run) count(f func(c *Counts)) {
	r.mu.Lock()
	f(&r.counts)
	r.mu.Unlock()
}

// Check grades the server at addr. The error is for a check that could not
// run (bad options); a server that misbehaves gives a Report with Valid false.
func Check(ctx context.Context, addr string, opts Options) (Report, error) {
	opts = opts.withDefaults()
	if opts.MaxPayload+64 > opts.MaxFrame {
		return Report{}, fmt.Errorf("max payload %d does not fit in the frame limit %d", opts.MaxPayload, opts.MaxFrame)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Report{}, fmt.Errorf("address %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()
	r := &run{addr: addr, opts: opts, start: time.Now(), stopAll: cancel}

	// The server must be up before anything else is judged.
	if err := r.probe(ctx); err != nil {
		r.violation("the server does not answer an echo on a fresh connection: %v", err)
		return r.report(), nil
	}

	clients := make([]*proto.Client, opts.Clients)
	for i := range clients {
		clients[i] = proto.NewClient(addr, opts.MaxFrame)
	}
	var wg sync.WaitGroup
	for i := range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.caller(ctx, clients[i%len(clients)], rand.New(rand.NewPCG(opts.Seed, uint64(i))), i)
		}()
	}
	for i := range opts.Abusers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.abuser(ctx, rand.New(rand.NewPCG(opts.Seed, uint64(1000+i))), i)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.monitor(ctx)
	}()
	wg.Wait()

	var stray, unexpected uint64
	for _, c := range clients {
		st := c.Stats()
		stray += st.StrayFrames
		unexpected += st.UnexpectedFrames
		c.Close()
	}
	r.count(func(c *Counts) { c.StrayFrames = stray })
	if unexpected > 0 {
		r.violation("the server sent %d stream messages (Data frames) on unary calls", unexpected)
	}
	// A final probe after the abuse: the server must still be serving.
	if !r.isFailed() {
		if err := r.probe(context.Background()); err != nil {
			r.violation("after the run, a fresh connection is not answered: %v", err)
		}
	}
	return r.report(), nil
}

// ended is ctx.Err() != nil, also in the instant after the deadline passed
// and before the context's timer has fired.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (r *run) isFailed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *run) report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{Layer: r.layer, Valid: !r.failed, Violation: r.reason, At: r.at, Counts: r.counts, Elapsed: time.Since(r.start)}
	if n := len(r.lat); n > 0 {
		slices.Sort(r.lat)
		q := func(p float64) time.Duration { return r.lat[int(p*float64(n-1))] }
		rep.Latency = Quantiles{P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: r.lat[n-1]}
	}
	return rep
}

// probe makes one echo call on a connection of its own. It has its own
// timeout, not the run's, so a probe started just before the end is judged
// fairly.
func (r *run) probe(ctx context.Context) error {
	if r.layer != "" && r.layer != LayerRPC {
		if err := r.layerProbe(ctx); err != nil {
			return err
		}
		r.count(func(c *Counts) { c.Probes++ })
		return nil
	}
	c := proto.NewClient(r.addr, r.opts.MaxFrame)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CallTimeout)
	defer cancel()
	want := []byte(fmt.Sprintf("probe %d", time.Now().UnixNano()))
	got, err := c.Call(ctx, MethodEcho, want)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("echo of %q answered %q", want, got)
	}
	r.count(func(c *Counts) { c.Probes++ })
	return nil
}

// monitor checks every 250 ms that the server still takes new connections.
func (r *run) monitor(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.probe(ctx); err != nil {
			r.violation("the server stopped answering new connections: %v", err)
			return
		}
	}
}

// caller makes well-formed calls until ctx ends.
func (r *run) caller(ctx context.Context, c *proto.Client, rng *rand.Rand, id int) {
	for seq := 0; !ended(ctx); seq++ {
		cctx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
		var desc string
		var err error
		switch p := rng.IntN(100); {
		case p < 65:
			desc, err = r.echo(cctx, c, rng, id, seq, rng.IntN(r.opts.MaxPayload+1))
		case p < 66:
			desc, err = r.echo(cctx, c, rng, id, seq, r.opts.MaxFrame-64)
		case p < 78:
			desc, err = r.countCall(cctx, c, uint64(rng.IntN(200)))
		case p < 82:
			desc, err = r.cancelStream(cctx, c)
		case p < 86:
			desc = "call to an unknown method"
			_, err = c.Call(cctx, fmt.Sprintf("no-such-method-%d", rng.IntN(1000)), nil)
			err = r.expectCode(err, proto.NotFound, func(c *Counts) { c.NotFound++ })
		case p < 92:
			desc, err = r.invalid(cctx, c, rng)
		default:
			desc, err = r.deadline(cctx, c)
		}
		cancel()
		if err != nil && !ended(ctx) {
			r.violation("%s: %v", desc, err)
			return
		}
	}
}

func (r *run) expectCode(err error, want proto.Code, tally func(*Counts)) error {
	if got := proto.CodeOf(err); got != want {
		return fmt.Errorf("got %v (%v), want %v", got, err, want)
	}
	r.count(func(c *Counts) { c.Calls++; tally(c) })
	return nil
}

func (r *run) echo(ctx context.Context, c *proto.Client, rng *rand.Rand, id, seq, size int) (string, error) {
	// The payload names its call, so a reply meant for another call is
	// recognisable, whatever its size.
	tag := fmt.Sprintf("caller %d call %d|", id, seq)
	req := make([]byte, max(size, len(tag)))
	copy(req, tag)
	for i := len(tag); i < len(req); i++ {
		req[i] = byte(rng.Uint32())
	}
	desc := fmt.Sprintf("echo of %d bytes (%s)", len(req), strings.TrimSuffix(tag, "|"))
	t0 := time.Now()
	got, err := c.Call(ctx, MethodEcho, req)
	d := time.Since(t0)
	if err != nil {
		if proto.CodeOf(err) == proto.DeadlineExceeded && ended(ctx) {
			return desc, fmt.Errorf("not answered within %v", r.opts.CallTimeout)
		}
		return desc, err
	}
	if !bytes.Equal(got, req) {
		if i := bytes.IndexByte(got, '|'); i > 0 && bytes.HasPrefix(got, []byte("caller ")) {
			return desc, fmt.Errorf("answered with the payload of %q: replies are matched to the wrong stream ids", got[:i])
		}
		return desc, fmt.Errorf("answered with a different payload of %d bytes", len(got))
	}
	r.count(func(c *Counts) {
		c.Calls++
		if size > r.opts.MaxPayload {
			c.LargeEcho++
		} else {
			c.Echo++
			r.lat = append(r.lat, d)
		}
	})
	return desc, nil
}

func (r *run) countCall(ctx context.Context, c *proto.Client, n uint64) (string, error) {
	desc := fmt.Sprintf("count %d", n)
	s, err := c.Stream(ctx, MethodCount, proto.AppendUvarint(nil, n))
	if err != nil {
		return desc, err
	}
	defer s.Close()
	for i := uint64(0); ; i++ {
		msg, err := s.Recv()
		if err == io.EOF {
			if i != n {
				return desc, fmt.Errorf("stream ended OK after %d messages", i)
			}
			r.count(func(c *Counts) { c.Calls++; c.Count++ })
			return desc, nil
		}
		if err != nil {
			return desc, fmt.Errorf("after %d messages: %w", i, err)
		}
		v, k, derr := proto.Uvarint(msg)
		if derr != nil || k != len(msg) || v != i || i >= n {
			return desc, fmt.Errorf("message %d is %x, want the varint %d", i, msg, i)
		}
	}
}

func (r *run) cancelStream(ctx context.Context, c *proto.Client) (string, error) {
	desc := "count 1000, abandoned after one message"
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.Stream(sctx, MethodCount, proto.AppendUvarint(nil, 1000))
	if err != nil {
		return desc, err
	}
	msg, err := s.Recv()
	if err != nil {
		return desc, err
	}
	if v, _, _ := proto.Uvarint(msg); v != 0 {
		return desc, fmt.Errorf("first message is %x, want the varint 0", msg)
	}
	s.Close()
	r.count(func(c *Counts) { c.Calls++; c.Cancelled++ })
	return desc, nil
}

func (r *run) invalid(ctx context.Context, c *proto.Client, rng *rand.Rand) (string, error) {
	tally := func(c *Counts) { c.Invalid++ }
	switch rng.IntN(3) {
	case 0:
		s, err := c.Stream(ctx, MethodCount, proto.AppendUvarint(nil, MaxCount+1))
		if err != nil {
			return "count beyond the limit", err
		}
		defer s.Close()
		for {
			if _, err = s.Recv(); err != nil {
				break
			}
		}
		return "count beyond the limit", r.expectCode(err, proto.InvalidArgument, tally)
	case 1:
		_, err := c.Call(ctx, MethodSleep, []byte{0x80}) // a truncated varint
		return "sleep with a malformed argument", r.expectCode(err, proto.InvalidArgument, tally)
	default:
		_, err := c.Call(ctx, MethodSleep, proto.AppendUvarint(nil, MaxSleep+1))
		return "sleep beyond the limit", r.expectCode(err, proto.InvalidArgument, tally)
	}
}

func (r *run) deadline(ctx context.Context, c *proto.Client) (string, error) {
	desc := "sleep 10000 ms with a 20 ms deadline"
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.Call(dctx, MethodSleep, proto.AppendUvarint(nil, 10_000))
	if err := r.expectCode(err, proto.DeadlineExceeded, func(c *Counts) { c.Deadline++ }); err != nil {
		return desc, err
	}
	if d := time.Since(t0); d > r.opts.CallTimeout {
		return desc, fmt.Errorf("took %v to fail", d)
	}
	return desc, nil
}

// abuser misuses the server from connections of its own until ctx ends.
func (r *run) abuser(ctx context.Context, rng *rand.Rand, id int) {
	oversized := []uint64{uint64(r.opts.MaxFrame) + 1, 2 * uint64(r.opts.MaxFrame), 1<<31 - 1, 1<<32 - 1}
	for i := 0; !ended(ctx); i++ {
		var err error
		switch (id + i) % 4 {
		case 0:
			err = r.garbage(ctx, rng)
		case 1:
			err = r.oversized(ctx, oversized[(i/4)%len(oversized)])
		case 2:
			err = r.halfOpen(ctx, rng)
		case 3:
			err = r.slow(ctx, rng, id, i)
		}
		if err != nil && !ended(ctx) {
			r.violation("%v", err)
			return
		}
	}
}

func (r *run) dial(ctx context.Context) (*net.TCPConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// awaitClose reads until the server closes c or the time is up; true if it
// closed.
func awaitClose(c net.Conn, within time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func (r *run) garbage(ctx context.Context, rng *rand.Rand) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil // the monitor judges availability
	}
	defer c.Close()
	junk := make([]byte, 1+rng.IntN(4096))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	if rng.IntN(2) == 0 {
		// A plausible length with a random body: the envelope is garbage.
		binary.BigEndian.PutUint32(junk, uint32(max(len(junk)-4, 0)))
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(junk)
	awaitClose(c, 50*time.Millisecond)
	r.count(func(c *Counts) { c.Garbage++ })
	return nil
}

func (r *run) oversized(ctx context.Context, size uint64) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	hdr := binary.BigEndian.AppendUint32(nil, uint32(size))
	hdr = append(hdr, "so much more to come"...)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(hdr); err != nil {
		return nil
	}
	if !awaitClose(c, r.opts.RejectWithin) {
		if ended(ctx) {
			return nil
		}
		return fmt.Errorf("the server kept a connection open %v after a frame header announcing %d bytes, above the frame limit of %d: it must refuse an oversized frame when it reads the length, before allocating or waiting for the body",
			r.opts.RejectWithin, size, r.opts.MaxFrame)
	}
	r.count(func(c *Counts) { c.Oversized++ })
	return nil
}

func (r *run) halfOpen(ctx context.Context, rng *rand.Rand) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	env := (&proto.Envelope{Kind: proto.Request, Stream: 1, Method: MethodEcho, Payload: []byte("never finished")}).Append(nil)
	full := proto.AppendFrame(nil, env)
	cut := 1 + rng.IntN(len(full)-1) // inside the header or the body
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(full[:cut]); err != nil {
		return nil
	}
	if rng.IntN(2) == 0 {
		// Stall: the peer is still there but sends nothing more. The
		// server may keep it until its read timeout; others must not wait.
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(100+rng.IntN(400)) * time.Millisecond):
		}
		r.count(func(c *Counts) { c.HalfOpen++ })
		return nil
	}
	// Half-close: the stream ended inside a frame; nothing can complete it.
	c.CloseWrite()
	if !awaitClose(c, r.opts.RejectWithin) {
		if ended(ctx) {
			return nil
		}
		return fmt.Errorf("the server kept a connection open %v after the peer ended its stream %d bytes into a %d-byte frame",
			r.opts.RejectWithin, cut, len(full))
	}
	r.count(func(c *Counts) { c.HalfOpen++ })
	return nil
}

func (r *run) slow(ctx context.Context, rng *rand.Rand, id, i int) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	payload := []byte(fmt.Sprintf("slow %d/%d %x", id, i, rng.Uint64()))
	stream := uint64(1 + rng.IntN(1000))
	full := proto.AppendFrame(nil, (&proto.Envelope{
		Kind: proto.Request, Stream: stream, Method: MethodEcho, Payload: payload}).Append(nil))
	for k := range full {
		if ended(ctx) {
			return nil
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(full[k : k+1]); err != nil {
			return fmt.Errorf("slow connection: the server closed it %d bytes into a %d-byte request sent %v per byte: %v",
				k, len(full), r.opts.ByteDelay, err)
		}
		time.Sleep(r.opts.ByteDelay)
	}
	c.SetReadDeadline(time.Now().Add(r.opts.CallTimeout))
	p, err := proto.ReadFrame(c, r.opts.MaxFrame)
	if err != nil {
		if ended(ctx) {
			return nil
		}
		return fmt.Errorf("slow connection: echo sent one byte every %v not answered: %v", r.opts.ByteDelay, err)
	}
	env, err := proto.ParseEnvelope(p)
	if err != nil {
		return fmt.Errorf("slow connection: reply is not an envelope: %v", err)
	}
	if env.Kind != proto.Status || env.Stream != stream || env.Code != proto.OK || !bytes.Equal(env.Payload, payload) {
		return fmt.Errorf("slow connection: echo of %q on stream %d answered with a frame of type %d on stream %d, code %v, payload %q",
			payload, stream, env.Kind, env.Stream, env.Code, env.Payload)
	}
	r.count(func(c *Counts) { c.Slow++ })
	return nil
}
