package netrpc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/netrpc/proto"
)

// The layers a net-rpc server can be graded at, one per stage of the
// networker track; each check exercises its layer and nothing above it.
const (
	// LayerTCP: the server echoes every byte it reads, and closes its side
	// once the client has closed its own and everything is echoed.
	LayerTCP = "tcp"
	// LayerFraming: the server echoes every frame (4-byte big-endian
	// length, then the body) as a frame; a length above the frame limit or
	// a stream that ends inside a frame closes the connection.
	LayerFraming = "framing"
	// LayerSerialization: each frame holds a Record (see the lesson); the
	// server answers each with the Record's canonical encoding, unknown
	// fields left out; a malformed message closes the connection.
	LayerSerialization = "serialization"
	// LayerRPC: the whole protocol and the echo, count and sleep methods
	// (Check).
	LayerRPC = "rpc"
)

// Layers lists the layers in the order they are built.
var Layers = []string{LayerTCP, LayerFraming, LayerSerialization, LayerRPC}

// CheckLayer grades the server at addr at one layer: Check for LayerRPC,
// and for the lower layers well-formed exchanges from opts.Concurrency
// goroutines (each on connections of its own) while opts.Abusers
// goroutines misuse the server and a probe checks every 250 ms that a
// fresh connection is served.
func CheckLayer(ctx context.Context, addr, layer string, opts Options) (Report, error) {
	if layer == LayerRPC || layer == "" {
		return Check(ctx, addr, opts)
	}
	if !slices.Contains(Layers, layer) {
		return Report{}, fmt.Errorf("unknown layer %q (known: %v)", layer, Layers)
	}
	opts = opts.withDefaults()
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Report{}, fmt.Errorf("address %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()
	r := &run{addr: addr, opts: opts, start: time.Now(), stopAll: cancel, layer: layer}
	if err := r.probe(ctx); err != nil {
		r.violation("the server does not answer on a fresh connection: %v", err)
		return r.report(), nil
	}
	var wg sync.WaitGroup
	for i := range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.exchanger(ctx, rand.New(rand.NewPCG(opts.Seed, uint64(i))), i)
		}()
	}
	for i := range opts.Abusers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.layerAbuser(ctx, rand.New(rand.NewPCG(opts.Seed, uint64(1000+i))), i)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.monitor(ctx)
	}()
	wg.Wait()
	if !r.isFailed() {
		if err := r.probe(context.Background()); err != nil {
			r.violation("after the run, a fresh connection is not answered: %v", err)
		}
	}
	return r.report(), nil
}

// layerProbe makes one well-formed exchange on a fresh connection. It must
// be answered within RejectWithin, while the stalling abusers hold their
// connections open: a server that serves one connection at a time is
// caught here.
func (r *run) layerProbe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.RejectWithin)
	defer cancel()
	c, err := r.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	return r.exchange(c, rng, 64, false, r.opts.RejectWithin)
}

// exchanger makes well-formed exchanges until ctx ends, a few on each
// connection.
func (r *run) exchanger(ctx context.Context, rng *rand.Rand, id int) {
	for !ended(ctx) {
		c, err := r.dial(ctx)
		if err != nil {
			if !ended(ctx) {
				r.violation("caller %d cannot connect: %v", id, err)
			}
			return
		}
		n := 1 + rng.IntN(4)
		for k := 0; k < n && !ended(ctx); k++ {
			size := rng.IntN(r.opts.MaxPayload + 1)
			if r.layer == LayerFraming && rng.IntN(100) == 0 {
				size = r.opts.MaxFrame // a frame exactly at the limit is legal
			}
			last := k == n-1 && r.layer == LayerTCP
			if err := r.exchange(c, rng, size, last, r.opts.CallTimeout); err != nil {
				if !ended(ctx) {
					r.violation("caller %d: %v", id, err)
				}
				c.Close()
				return
			}
		}
		c.Close()
	}
}

// exchange sends one well-formed unit of the layer, split into writes of
// random sizes (or several coalesced into one write), and checks the
// answer. For tcp, closeAfter half-closes and wants the server to close
// once it has echoed everything.
func (r *run) exchange(c *net.TCPConn, rng *rand.Rand, size int, closeAfter bool, within time.Duration) error {
	var req, want []byte
	var desc string
	switch r.layer {
	case LayerTCP:
		req = randomBytes(rng, max(size, 1))
		want, desc = req, fmt.Sprintf("echo of %d bytes", len(req))
	case LayerFraming:
		// Two frames in one go: the server must find the boundary.
		a, b := randomBytes(rng, size), randomBytes(rng, rng.IntN(64))
		req = proto.AppendFrame(proto.AppendFrame(nil, a), b)
		want, desc = req, fmt.Sprintf("frames of %d and %d bytes sent back to back", len(a), len(b))
	case LayerSerialization:
		rec := randomRecord(rng, size)
		msg := rec.scrambled(rng)
		req = proto.AppendFrame(nil, msg)
		want = proto.AppendFrame(nil, rec.canonical())
		desc = fmt.Sprintf("record of %d bytes (%s)", len(msg), rec)
	}
	deadline := time.Now().Add(within)
	c.SetWriteDeadline(deadline)
	for rest := req; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(max(len(rest)/3, 1)))
		if rng.IntN(2) == 0 {
			n = len(rest)
		}
		if _, err := c.Write(rest[:n]); err != nil {
			return fmt.Errorf("%s: write: %v", desc, err)
		}
		rest = rest[n:]
	}
	if closeAfter {
		c.CloseWrite()
	}
	c.SetReadDeadline(deadline)
	got := make([]byte, len(want))
	if n, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("%s: %d of %d bytes answered within %v: %v", desc, n, len(want), within, err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		return fmt.Errorf("%s: answered differently from byte %d on: got % x…, want % x…", desc, i, got[i:min(i+16, len(got))], want[i:min(i+16, len(want))])
	}
	if closeAfter {
		if !awaitClose(c, r.opts.RejectWithin) {
			return fmt.Errorf("%s: the client closed its side and everything was echoed, but the server kept the connection open %v", desc, r.opts.RejectWithin)
		}
	}
	r.count(func(c *Counts) {
		c.Calls++
		c.Echo++
	})
	return nil
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// layerAbuser misuses the server from connections of its own until ctx
// ends: what each layer must survive.
func (r *run) layerAbuser(ctx context.Context, rng *rand.Rand, id int) {
	for i := 0; !ended(ctx); i++ {
		var err error
		switch (id + i) % 3 {
		case 0:
			err = r.stall(ctx, rng)
		case 1:
			if r.layer == LayerTCP {
				err = r.reset(ctx, rng)
			} else {
				err = r.oversized(ctx, []uint64{uint64(r.opts.MaxFrame) + 1, 1<<32 - 1}[i%2])
			}
		case 2:
			if r.layer == LayerSerialization {
				err = r.malformed(ctx, rng)
			} else if r.layer == LayerFraming {
				err = r.cutFrame(ctx, rng)
			} else {
				err = r.reset(ctx, rng)
			}
		}
		if err != nil && !ended(ctx) {
			r.violation("%v", err)
			return
		}
	}
}

// stall opens a connection, sends a little (or nothing) and holds it open
// until the run ends: a server that serves one connection at a time stops
// answering the probes.
func (r *run) stall(ctx context.Context, rng *rand.Rand) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	if r.layer != LayerTCP && rng.IntN(2) == 0 {
		c.Write([]byte{0, 0}) // half a frame header
	}
	<-ctx.Done()
	r.count(func(c *Counts) { c.HalfOpen++ })
	return nil
}

// reset writes a little and closes abruptly (RST): the server must carry
// on.
func (r *run) reset(ctx context.Context, rng *rand.Rand) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil
	}
	c.Write(randomBytes(rng, 1+rng.IntN(512)))
	c.SetLinger(0)
	c.Close()
	r.count(func(c *Counts) { c.Garbage++ })
	return nil
}

// cutFrame sends part of a frame, then half-closes: the stream ended
// inside a frame, and the server must close the connection.
func (r *run) cutFrame(ctx context.Context, rng *rand.Rand) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	full := proto.AppendFrame(nil, randomBytes(rng, 16+rng.IntN(256)))
	cut := 1 + rng.IntN(len(full)-1)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(full[:cut]); err != nil {
		return nil
	}
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

// malformed sends a frame whose message does not parse: the server must
// close the connection (it cannot answer it, and must not crash).
func (r *run) malformed(ctx context.Context, rng *rand.Rand) error {
	c, err := r.dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	bad := [][]byte{
		{0x08, 0x96},           // a varint cut short
		{0x1a, 0x05, 'a', 'b'}, // 5 bytes announced, 2 there
		{0x0b, 0x01},           // wire type 3
		{0x31, 1, 2, 3},        // a fixed64 cut short
		{0x00, 0x01},           // field number 0
		{0x0a, 0x01, 0x01},     // field 1 (a varint) sent as bytes
		{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // a varint over 64 bits
	}
	k := rng.IntN(len(bad))
	msg := append(randomRecord(rng, 8).canonical(), bad[k]...)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(proto.AppendFrame(nil, msg)); err != nil {
		return nil
	}
	c.SetReadDeadline(time.Now().Add(r.opts.RejectWithin))
	if p, err := proto.ReadFrame(c, r.opts.MaxFrame); err == nil {
		return fmt.Errorf("a malformed record (% x at its end) was answered with % x: the server must close the connection instead", bad[k], p)
	}
	if !awaitClose(c, r.opts.RejectWithin) && !ended(ctx) {
		return fmt.Errorf("the server kept a connection open %v after a malformed record (% x at its end)", r.opts.RejectWithin, bad[k])
	}
	r.count(func(c *Counts) { c.Garbage++ })
	return nil
}

// record is the serialization layer's message, as the lesson specifies:
//
//	1 id     varint            uint64
//	2 delta  varint, zigzag    sint64
//	3 name   bytes             string
//	4 score  fixed64           double
//	5 tags   bytes, repeated   string
//	6 flags  fixed32           uint32
type record struct {
	id    uint64
	delta int64
	name  string
	score float64
	tags  []string
	flags uint32
}

func (rec record) String() string {
	return fmt.Sprintf("id %d, delta %d, name of %d bytes, score %g, %d tags, flags %#x", rec.id, rec.delta, len(rec.name), rec.score, len(rec.tags), rec.flags)
}

// randomRecord draws a record of about size bytes, with zero fields now
// and then.
func randomRecord(rng *rand.Rand, size int) record {
	pick := func(v uint64) uint64 {
		if rng.IntN(5) == 0 {
			return 0
		}
		return v
	}
	rec := record{
		id:    pick(rng.Uint64() >> rng.IntN(64)),
		delta: int64(pick(rng.Uint64()>>rng.IntN(64))) >> 1,
		flags: uint32(pick(uint64(rng.Uint32()))),
	}
	if rng.IntN(2) == 0 {
		rec.delta = -rec.delta
	}
	if pick(1) == 1 {
		rec.score = (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(20)-10))
	}
	rec.name = string(randomBytes(rng, rng.IntN(min(size, 64)+1)))
	for left := size; left > 0 && len(rec.tags) < 64; {
		t := string(randomBytes(rng, rng.IntN(min(left, 200)+1)))
		rec.tags = append(rec.tags, t)
		left -= len(t) + 2
	}
	return rec
}

// canonical is the reply the server must give: the known fields in
// number order, a scalar at its zero value left out, tags in order.
func (rec record) canonical() []byte {
	var b []byte
	if rec.id != 0 {
		b = proto.AppendField(b, proto.Field{Num: 1, Type: proto.WireVarint, Varint: rec.id})
	}
	if rec.delta != 0 {
		b = proto.AppendField(b, proto.Field{Num: 2, Type: proto.WireVarint, Varint: proto.ZigZag(rec.delta)})
	}
	if rec.name != "" {
		b = proto.AppendField(b, proto.Field{Num: 3, Type: proto.WireBytes, Bytes: []byte(rec.name)})
	}
	if math.Float64bits(rec.score) != 0 {
		b = proto.AppendField(b, proto.Field{Num: 4, Type: proto.WireFixed64, Varint: math.Float64bits(rec.score)})
	}
	for _, t := range rec.tags {
		b = proto.AppendField(b, proto.Field{Num: 5, Type: proto.WireBytes, Bytes: []byte(t)})
	}
	if rec.flags != 0 {
		b = proto.AppendField(b, proto.Field{Num: 6, Type: proto.WireFixed32, Varint: uint64(rec.flags)})
	}
	return b
}

// scrambled is a request for rec as a later version of the schema could
// send it: fields in any order (tags keeping theirs), unknown fields of
// every wire type in between, an id sent twice (the last counts) and
// zero values sent explicitly.
func (rec record) scrambled(rng *rand.Rand) []byte {
	var fields []proto.Field
	var tags []proto.Field
	canon, _ := proto.ParseFields(rec.canonical())
	for _, f := range canon {
		if f.Num == 5 {
			tags = append(tags, f)
		} else {
			fields = append(fields, f)
		}
	}
	if rec.id == 0 && rng.IntN(2) == 0 {
		fields = append(fields, proto.Field{Num: 1, Type: proto.WireVarint}) // an explicit zero
	}
	for range rng.IntN(5) {
		num := uint64(7 + rng.IntN(2000))
		switch t := []int{proto.WireVarint, proto.WireFixed64, proto.WireBytes, proto.WireFixed32}[rng.IntN(4)]; t {
		case proto.WireBytes:
			fields = append(fields, proto.Field{Num: num, Type: t, Bytes: randomBytes(rng, rng.IntN(40))})
		default:
			fields = append(fields, proto.Field{Num: num, Type: t, Varint: rng.Uint64() >> rng.IntN(64) & fixedMask(t)})
		}
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	// Tags go in at random places, in their order.
	last := -1
	for _, t := range tags {
		at := last + 1 + rng.IntN(len(fields)-last)
		fields = slices.Insert(fields, at, t)
		last = at
	}
	var b []byte
	if rng.IntN(3) == 0 {
		// An older id first: the last one counts.
		b = proto.AppendField(b, proto.Field{Num: 1, Type: proto.WireVarint, Varint: rng.Uint64()})
		if rec.id == 0 {
			b = proto.AppendField(b, proto.Field{Num: 1, Type: proto.WireVarint})
		}
	}
	for _, f := range fields {
		b = proto.AppendField(b, f)
	}
	return b
}

func fixedMask(t int) uint64 {
	if t == proto.WireFixed32 {
		return math.MaxUint32
	}
	return math.MaxUint64
}
