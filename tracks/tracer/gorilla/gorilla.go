// Package gorilla compresses a time series the way Facebook's Gorilla
// does (Pelkonen et al., VLDB 2015): timestamps as deltas of deltas with
// variable-width buckets, values as the XOR of each float with the one
// before, storing only the meaningful bits. A series scraped at a regular
// interval has a delta of delta of zero (one bit per timestamp), and a
// value that changes little shares its sign, exponent and high mantissa
// bits with the one before. The tracer track's time-series store
// (tracks/tracer/tsdb) keeps every series as one of these chunks.
package gorilla

import (
	"errors"
	"math"
	"math/bits"
)

// Sample is one point: a timestamp in milliseconds and a value.
type Sample struct {
	T int64
	V float64
}

// Chunk is an append-only compressed series. Timestamps must not go
// backwards (Append refuses them); equal timestamps are allowed.
type Chunk struct {
	w     bitWriter
	n     int
	t     int64
	delta int64
	v     uint64
	// the window of meaningful bits of the last XOR written with a header
	lead, trail int
}

// ErrOutOfOrder is returned for a timestamp older than the last one.
var ErrOutOfOrder = errors.New("gorilla: sample older than the last one")

// ErrCorrupt is returned by the iterator on a truncated or malformed chunk.
var ErrCorrupt = errors.New("gorilla: corrupt chunk")

// Len is the number of samples, Bytes the encoded size.
func (c *Chunk) Len() int   { return c.n }
func (c *Chunk) Bytes() int { return len(c.w.buf) }

// Last returns the newest sample (ok false when empty).
func (c *Chunk) Last() (Sample, bool) {
	return Sample{T: c.t, V: math.Float64frombits(c.v)}, c.n > 0
}

// Append adds a sample.
func (c *Chunk) Append(s Sample) error {
	vb := math.Float64bits(s.V)
	if c.n == 0 {
		c.w.writeBits(uint64(s.T), 64)
		c.w.writeBits(vb, 64)
		c.t, c.v, c.n = s.T, vb, 1
		c.lead = -1
		return nil
	}
	if s.T < c.t {
		return ErrOutOfOrder
	}
	delta := s.T - c.t
	c.writeDoD(delta - c.delta)
	c.t, c.delta = s.T, delta
	c.writeXOR(vb ^ c.v)
	c.v = vb
	c.n++
	return nil
}

// The buckets of the paper (as two's complement ranges), widened at the
// top to 64 bits so that any millisecond timestamps fit.
func (c *Chunk) writeDoD(dod int64) {
	w := &c.w
	switch {
	case dod == 0:
		w.writeBit(false)
	case -64 <= dod && dod <= 63:
		w.writeBits(0b10, 2)
		w.writeBits(uint64(dod), 7)
	case -256 <= dod && dod <= 255:
		w.writeBits(0b110, 3)
		w.writeBits(uint64(dod), 9)
	case -2048 <= dod && dod <= 2047:
		w.writeBits(0b1110, 4)
		w.writeBits(uint64(dod), 12)
	default:
		w.writeBits(0b1111, 4)
		w.writeBits(uint64(dod), 64)
	}
}

func (c *Chunk) writeXOR(x uint64) {
	w := &c.w
	if x == 0 {
		w.writeBit(false)
		return
	}
	w.writeBit(true)
	lead, trail := bits.LeadingZeros64(x), bits.TrailingZeros64(x)
	if lead > 31 {
		lead = 31 // five bits of header
	}
	if c.lead >= 0 && lead >= c.lead && trail >= c.trail {
		// Fits in the previous window: no header.
		w.writeBit(false)
		w.writeBits(x>>c.trail, 64-c.lead-c.trail)
		return
	}
	w.writeBit(true)
	sig := 64 - lead - trail
	w.writeBits(uint64(lead), 5)
	w.writeBits(uint64(sig&63), 6) // 64 meaningful bits is written as 0
	w.writeBits(x>>trail, sig)
	c.lead, c.trail = lead, trail
}

// Samples decodes the chunk.
func (c *Chunk) Samples() ([]Sample, error) { return Decode(c.w.buf, c.n) }

// Data returns the encoded bytes (shared; do not modify).
func (c *Chunk) Data() []byte { return c.w.buf }

// Decode reads n samples from encoded bytes.
func Decode(data []byte, n int) ([]Sample, error) {
	out := make([]Sample, 0, n)
	if n == 0 {
		return out, nil
	}
	r := bitReader{buf: data}
	t, ok1 := r.readBits(64)
	v, ok2 := r.readBits(64)
	if !ok1 || !ok2 {
		return nil, ErrCorrupt
	}
	out = append(out, Sample{T: int64(t), V: math.Float64frombits(v)})
	var delta int64
	lead, trail := 0, 0
	for len(out) < n {
		dod, ok := readDoD(&r)
		if !ok {
			return nil, ErrCorrupt
		}
		delta += dod
		t += uint64(delta)
		b, ok := r.readBit()
		if !ok {
			return nil, ErrCorrupt
		}
		if b {
			nw, ok := r.readBit()
			if !ok {
				return nil, ErrCorrupt
			}
			if nw {
				l, ok1 := r.readBits(5)
				s, ok2 := r.readBits(6)
				if !ok1 || !ok2 {
					return nil, ErrCorrupt
				}
				if s == 0 {
					s = 64
				}
				if int(l)+int(s) > 64 {
					return nil, ErrCorrupt
				}
				lead, trail = int(l), 64-int(l)-int(s)
			} else if len(out) == 1 {
				return nil, ErrCorrupt // no window yet
			}
			x, ok := r.readBits(64 - lead - trail)
			if !ok {
				return nil, ErrCorrupt
			}
			v ^= x << trail
		}
		out = append(out, Sample{T: int64(t), V: math.Float64frombits(v)})
	}
	return out, nil
}

func readDoD(r *bitReader) (int64, bool) {
	ones := 0
	for ones < 4 {
		b, ok := r.readBit()
		if !ok {
			return 0, false
		}
		if !b {
			break
		}
		ones++
	}
	width := [...]int{0, 7, 9, 12, 64}[ones]
	if width == 0 {
		return 0, true
	}
	v, ok := r.readBits(width)
	if !ok {
		return 0, false
	}
	// Sign-extend the bucket's two's complement value.
	return int64(v<<(64-width)) >> (64 - width), true
}
