// Package wire is a small binary serialization format: every field is a tag
// (field number << 3 | wire type) followed by a value whose length the wire
// type tells, so a decoder can step over a field it does not know.
//
// That property is what lets versions of a program interoperate: a new
// sender may add fields (an old receiver skips them) and an old sender may
// omit them (a new receiver keeps the zero value). Field numbers are the
// contract; names are not on the wire. The layout follows the Protocol Buffers
// encoding, so protowire can read what we write, but this package is written
// from first principles: unsigned varints, zigzag for signed integers,
// little-endian fixed-width numbers, and length-delimited bytes.
//
// This is the third stage of the networker track; the rpc package encodes its
// envelopes with it.
package wire

import (
	"errors"
	"fmt"
	"math"
)

// Type is a wire type: how the value after a tag is laid out.
type Type uint8

const (
	Varint  Type = 0 // unsigned LEB128 varint
	Fixed64 Type = 1 // 8 bytes, little-endian
	Bytes   Type = 2 // varint length, then that many bytes
	Fixed32 Type = 5 // 4 bytes, little-endian
)

func (t Type) String() string {
	switch t {
	case Varint:
		return "varint"
	case Fixed64:
		return "fixed64"
	case Bytes:
		return "bytes"
	case Fixed32:
		return "fixed32"
	}
	return fmt.Sprintf("wire type %d", uint8(t))
}

// Number is a field number, 1 to MaxNumber.
type Number uint32

// MaxNumber is the largest field number a tag can carry in 32 bits.
const MaxNumber Number = 1<<29 - 1

// MaxVarintLen is the longest encoding of a 64-bit varint.
const MaxVarintLen = 10

var (
	// ErrTruncated: the input ends inside a tag or value.
	ErrTruncated = errors.New("truncated input")
	// ErrOverflow: a varint longer than 64 bits.
	ErrOverflow = errors.New("varint overflows 64 bits")
	// ErrBadTag: field number 0, beyond MaxNumber, or an unsupported wire type.
	ErrBadTag = errors.New("invalid tag")
	// ErrWrongType: a getter was called for a field of another wire type.
	ErrWrongType = errors.New("wrong wire type")
)

// AppendUvarint appends v as a varint: 7 bits per byte, least significant
// group first, the high bit set on every byte but the last.
func AppendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// ConsumeUvarint decodes a varint from the start of b and returns it with
// the number of bytes read.
func ConsumeUvarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b); i++ {
		c := b[i]
		if i == MaxVarintLen-1 && c > 1 {
			return 0, 0, ErrOverflow // the tenth byte may only carry bit 63
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v, i + 1, nil
		}
		if i == MaxVarintLen-1 {
			return 0, 0, ErrOverflow
		}
	}
	return 0, 0, ErrTruncated
}

// SizeUvarint is the encoded length of v.
func SizeUvarint(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// ZigZag maps signed to unsigned so that small magnitudes stay short:
// 0, -1, 1, -2 become 0, 1, 2, 3.
func ZigZag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// UnZigZag inverts ZigZag.
func UnZigZag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// AppendTag appends the tag of field num with wire type t.
func AppendTag(b []byte, num Number, t Type) []byte {
	return AppendUvarint(b, uint64(num)<<3|uint64(t))
}

// AppendUvarintField appends field num holding v as a varint.
func AppendUvarintField(b []byte, num Number, v uint64) []byte {
	return AppendUvarint(AppendTag(b, num, Varint), v)
}

// AppendSvarintField appends field num holding v zigzag-encoded.
func AppendSvarintField(b []byte, num Number, v int64) []byte {
	return AppendUvarint(AppendTag(b, num, Varint), ZigZag(v))
}

// AppendBoolField appends field num holding v as a varint 0 or 1.
func AppendBoolField(b []byte, num Number, v bool) []byte {
	var u uint64
	if v {
		u = 1
	}
	return AppendUvarintField(b, num, u)
}

// AppendBytesField appends field num holding v, length-delimited. Nested
// messages are bytes fields holding the nested encoding.
func AppendBytesField(b []byte, num Number, v []byte) []byte {
	b = AppendUvarint(AppendTag(b, num, Bytes), uint64(len(v)))
	return append(b, v...)
}

// AppendStringField appends field num holding v, length-delimited.
func AppendStringField(b []byte, num Number, v string) []byte {
	b = AppendUvarint(AppendTag(b, num, Bytes), uint64(len(v)))
	return append(b, v...)
}

// AppendFixed64Field appends field num holding v in 8 little-endian bytes.
func AppendFixed64Field(b []byte, num Number, v uint64) []byte {
	b = AppendTag(b, num, Fixed64)
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// AppendDoubleField appends field num holding v as its IEEE 754 bits.
func AppendDoubleField(b []byte, num Number, v float64) []byte {
	return AppendFixed64Field(b, num, math.Float64bits(v))
}

// AppendFixed32Field appends field num holding v in 4 little-endian bytes.
func AppendFixed32Field(b []byte, num Number, v uint32) []byte {
	b = AppendTag(b, num, Fixed32)
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// Decoder walks the fields of one encoded message.
//
//	var d wire.Decoder
//	d.Reset(buf)
//	for d.Next() {
//		switch d.Number() {
//		case 1:
//			m.ID = d.Uvarint()
//		case 2:
//			m.Name = d.String()
//		} // any other field is skipped by the next call to Next
//	}
//	if err := d.Err(); err != nil { ... }
//
// A field whose value the caller did not read is skipped by Next, so
// unknown fields cost nothing to ignore. The first error stops the walk;
// getters then return zero values. Decoder never allocates except for String
// and for the error.
type Decoder struct {
	buf     []byte
	off     int // start of the unread input
	start   int // offset of the current tag, for error messages
	num     Number
	typ     Type
	pending bool // the current field's value has not been consumed
	err     error
}

// Reset starts decoding b.
func (d *Decoder) Reset(b []byte) { *d = Decoder{buf: b} }

// Next advances to the next field, skipping the value of the current one if
// it was not read. It returns false at the end of the input or on error.
func (d *Decoder) Next() bool {
	if d.err != nil {
		return false
	}
	if d.pending {
		d.Skip()
		if d.err != nil {
			return false
		}
	}
	if d.off == len(d.buf) {
		return false
	}
	d.start = d.off
	tag, n, err := ConsumeUvarint(d.buf[d.off:])
	if err != nil {
		d.fail(err)
		return false
	}
	num, typ := tag>>3, Type(tag&7)
	if num == 0 || num > uint64(MaxNumber) || (typ != Varint && typ != Fixed64 && typ != Bytes && typ != Fixed32) {
		d.fail(fmt.Errorf("%w: field %d, %v", ErrBadTag, num, typ))
		return false
	}
	d.off += n
	d.num, d.typ, d.pending = Number(num), typ, true
	return true
}

// Number is the current field's number.
func (d *Decoder) Number() Number { return d.num }

// Type is the current field's wire type.
func (d *Decoder) Type() Type { return d.typ }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = fmt.Errorf("wire: field %d at offset %d: %w", d.num, d.start, err)
	}
	d.pending = false
}

func (d *Decoder) expect(t Type) bool {
	if d.err != nil || !d.pending {
		return false
	}
	if d.typ != t {
		d.fail(fmt.Errorf("%w: got %v, want %v", ErrWrongType, d.typ, t))
		return false
	}
	d.pending = false
	return true
}

// Skip steps over the current field's value whatever its type.
func (d *Decoder) Skip() {
	if d.err != nil || !d.pending {
		return
	}
	switch d.typ {
	case Varint:
		d.Uvarint()
	case Fixed64:
		d.Fixed64()
	case Fixed32:
		d.Fixed32()
	case Bytes:
		d.Bytes()
	}
}

// Uvarint reads the current field as an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if !d.expect(Varint) {
		return 0
	}
	v, n, err := ConsumeUvarint(d.buf[d.off:])
	if err != nil {
		d.fail(err)
		return 0
	}
	d.off += n
	return v
}

// Svarint reads the current field as a zigzag-encoded signed varint.
func (d *Decoder) Svarint() int64 { return UnZigZag(d.Uvarint()) }

// Bool reads the current field as a varint, true when non-zero.
func (d *Decoder) Bool() bool { return d.Uvarint() != 0 }

// Bytes reads the current field as length-delimited bytes. The result
// aliases the input; copy it to keep it beyond the input's lifetime.
func (d *Decoder) Bytes() []byte {
	if !d.expect(Bytes) {
		return nil
	}
	n, k, err := ConsumeUvarint(d.buf[d.off:])
	if err != nil {
		d.fail(err)
		return nil
	}
	rest := uint64(len(d.buf) - d.off - k)
	if n > rest {
		d.fail(fmt.Errorf("%w: length %d, %d bytes left", ErrTruncated, n, rest))
		return nil
	}
	start := d.off + k
	d.off = start + int(n)
	return d.buf[start:d.off:d.off]
}

// String reads the current field as length-delimited bytes, copied.
func (d *Decoder) String() string { return string(d.Bytes()) }

// Fixed64 reads the current field as 8 little-endian bytes.
func (d *Decoder) Fixed64() uint64 {
	if !d.expect(Fixed64) {
		return 0
	}
	if len(d.buf)-d.off < 8 {
		d.fail(ErrTruncated)
		return 0
	}
	b := d.buf[d.off : d.off+8]
	d.off += 8
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// Double reads the current field as an IEEE 754 double.
func (d *Decoder) Double() float64 { return math.Float64frombits(d.Fixed64()) }

// Fixed32 reads the current field as 4 little-endian bytes.
func (d *Decoder) Fixed32() uint32 {
	if !d.expect(Fixed32) {
		return 0
	}
	if len(d.buf)-d.off < 4 {
		d.fail(ErrTruncated)
		return 0
	}
	b := d.buf[d.off : d.off+4]
	d.off += 4
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
