// Package proto is the grader's own implementation of the net-rpc wire
// protocol: frames, the tagged-field encoding, the envelope and a
// multiplexing client. It is written from the specification in the
// networker lesson (tracks/networker/README.md, "The net-rpc protocol"),
// not from the track's code, so that a mistake shared by a learner's
// server and the track's reference cannot hide from the grader: the two
// implementations meet only on the wire.
//
// It implements what a client needs and nothing more: no server side, no
// write batching, no retries. Package netrpc builds its checks on it.
package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrame is the frame limit a server has unless told otherwise.
const DefaultMaxFrame = 1 << 20

// The wire types of the tagged-field encoding.
const (
	WireVarint  = 0 // a base-128 varint
	WireFixed64 = 1 // 8 bytes, little-endian
	WireBytes   = 2 // a varint length, then that many bytes
	WireFixed32 = 5 // 4 bytes, little-endian
)

var (
	// ErrTruncated is a varint or field cut short by the end of its input.
	ErrTruncated = errors.New("truncated")
	// ErrOverflow is a varint of more than 64 bits.
	ErrOverflow = errors.New("varint longer than 64 bits")
	// ErrFrameTooLarge is a length prefix above the reader's limit.
	ErrFrameTooLarge = errors.New("frame above the limit")
)

// AppendUvarint appends v in 7-bit groups, least significant first, with
// the high bit set on every byte but the last.
func AppendUvarint(b []byte, v uint64) []byte {
	for ; v >= 1<<7; v >>= 7 {
		b = append(b, byte(v&0x7f|0x80))
	}
	return append(b, byte(v))
}

// Uvarint decodes the varint at the start of b and says how many bytes it
// took.
func Uvarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b); i++ {
		if i == 10 || (i == 9 && b[i] > 1) {
			return 0, 0, ErrOverflow
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrTruncated
}

// ZigZag maps signed to unsigned so that small magnitudes stay short:
// 0, -1, 1, -2 become 0, 1, 2, 3.
func ZigZag(v int64) uint64 { return uint64(v)<<1 ^ uint64(v>>63) }

// UnZigZag is the inverse of ZigZag.
func UnZigZag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// Field is one decoded field: its number, wire type and value (Varint
// holds the varint, fixed64 and fixed32 values; Bytes the
// length-delimited ones).
type Field struct {
	Num    uint64
	Type   int
	Varint uint64
	Bytes  []byte
}

// AppendField appends f's tag and value.
func AppendField(b []byte, f Field) []byte {
	b = AppendUvarint(b, f.Num<<3|uint64(f.Type))
	switch f.Type {
	case WireVarint:
		return AppendUvarint(b, f.Varint)
	case WireFixed64:
		return binary.LittleEndian.AppendUint64(b, f.Varint)
	case WireFixed32:
		return binary.LittleEndian.AppendUint32(b, uint32(f.Varint))
	default:
		b = AppendUvarint(b, uint64(len(f.Bytes)))
		return append(b, f.Bytes...)
	}
}

// ParseFields decodes a whole message into its fields, in wire order.
// Bytes values alias b.
func ParseFields(b []byte) ([]Field, error) {
	var out []Field
	for len(b) > 0 {
		tag, n, err := Uvarint(b)
		if err != nil {
			return nil, fmt.Errorf("tag: %w", err)
		}
		b = b[n:]
		f := Field{Num: tag >> 3, Type: int(tag & 7)}
		if f.Num == 0 || f.Num > 1<<29-1 {
			return nil, fmt.Errorf("tag %#x: field number %d out of range", tag, f.Num)
		}
		switch f.Type {
		case WireVarint:
			if f.Varint, n, err = Uvarint(b); err != nil {
				return nil, fmt.Errorf("field %d: %w", f.Num, err)
			}
		case WireFixed64, WireFixed32:
			n = 8
			if f.Type == WireFixed32 {
				n = 4
			}
			if len(b) < n {
				return nil, fmt.Errorf("field %d: %w", f.Num, ErrTruncated)
			}
			if n == 8 {
				f.Varint = binary.LittleEndian.Uint64(b)
			} else {
				f.Varint = uint64(binary.LittleEndian.Uint32(b))
			}
		case WireBytes:
			size, k, err := Uvarint(b)
			if err != nil {
				return nil, fmt.Errorf("field %d length: %w", f.Num, err)
			}
			if size > uint64(len(b)-k) {
				return nil, fmt.Errorf("field %d: %d bytes announced, %d left: %w", f.Num, size, len(b)-k, ErrTruncated)
			}
			f.Bytes, n = b[k:k+int(size)], k+int(size)
		default:
			return nil, fmt.Errorf("field %d: unknown wire type %d", f.Num, f.Type)
		}
		b = b[n:]
		out = append(out, f)
	}
	return out, nil
}

// AppendFrame appends the 4-byte big-endian length of payload, then
// payload.
func AppendFrame(dst, payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(dst, uint32(len(payload))), payload...)
}

// ReadFrame reads one frame of at most max bytes. io.EOF means the stream
// ended cleanly between frames; an end inside a frame is
// io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrFrameTooLarge, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}
