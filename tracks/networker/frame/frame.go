// Package frame turns a TCP byte stream into discrete messages.
//
// TCP delivers bytes, not messages: one Write may arrive as several Reads and
// two Writes as one. A frame is a 4-byte big-endian length followed by that
// many payload bytes. The reader checks the announced length against its limit
// before it allocates anything, so a peer cannot make us reserve memory by
// lying in four bytes, and it grows the buffer only as bytes actually arrive,
// so a peer announcing a large (allowed) frame and then stalling costs us what
// it sent, not what it promised.
//
// This is the second stage of the networker track; the rpc package sends its
// envelopes in these frames.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderSize is the size of the length prefix.
const HeaderSize = 4

// DefaultMaxSize is the frame limit used when none is given: 1 MiB.
const DefaultMaxSize = 1 << 20

// growChunk bounds how much the reader allocates ahead of the bytes it has
// received for frames larger than this.
const growChunk = 64 << 10

// ErrTooLarge is matched (with errors.Is) by every *SizeError.
var ErrTooLarge = errors.New("frame too large")

// SizeError reports a frame whose length exceeds the limit.
type SizeError struct {
	Size uint64 // the length announced (reading) or requested (writing)
	Max  int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("frame of %d bytes exceeds the limit of %d bytes", e.Size, e.Max)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// Reader reads length-prefixed frames from an io.Reader.
type Reader struct {
	r   io.Reader
	max int
	hdr [HeaderSize]byte
}

// NewReader returns a Reader that rejects frames longer than max bytes
// (DefaultMaxSize if max <= 0).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxSize
	}
	return &Reader{r: r, max: max}
}

// Max returns the reader's frame limit.
func (fr *Reader) Max() int { return fr.max }

// ReadFrame returns the next frame's payload in a newly allocated slice that
// the caller owns.
//
// It returns io.EOF only when the stream ends cleanly between frames. A stream
// that ends inside a frame gives an error wrapping io.ErrUnexpectedEOF, and an
// oversized length a *SizeError; after either the stream is out of step and
// the connection should be closed.
func (fr *Reader) ReadFrame() ([]byte, error) {
	n, err := io.ReadFull(fr.r, fr.hdr[:])
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame header (%d of %d bytes): %w", n, HeaderSize, err)
	}
	size := binary.BigEndian.Uint32(fr.hdr[:])
	if uint64(size) > uint64(fr.max) {
		return nil, &SizeError{Size: uint64(size), Max: fr.max}
	}
	if size <= growChunk {
		buf := make([]byte, size)
		if n, err := io.ReadFull(fr.r, buf); err != nil {
			return nil, bodyErr(n, int(size), err)
		}
		return buf, nil
	}
	// Large frame: grow with what arrives instead of trusting the promise.
	buf := make([]byte, 0, growChunk)
	for len(buf) < int(size) {
		if len(buf) == cap(buf) {
			next := min(2*cap(buf), int(size))
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := fr.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && len(buf) < int(size) {
			return nil, bodyErr(len(buf), int(size), err)
		}
	}
	return buf, nil
}

func bodyErr(got, want int, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read frame body (%d of %d bytes): %w", got, want, err)
}

// AppendFrame appends the length prefix and payload to dst. It does not check
// a limit; use Writer or CheckSize for that.
func AppendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// CheckSize returns a *SizeError if a payload of n bytes exceeds max.
func CheckSize(n, max int) error {
	if n > max || uint64(n) > 1<<32-1 {
		return &SizeError{Size: uint64(n), Max: max}
	}
	return nil
}

// Writer writes length-prefixed frames to an io.Writer.
type Writer struct {
	w   io.Writer
	max int
	buf []byte
}

// NewWriter returns a Writer that refuses payloads longer than max bytes
// (DefaultMaxSize if max <= 0), so we never send what the peer must reject.
func NewWriter(w io.Writer, max int) *Writer {
	if max <= 0 {
		max = DefaultMaxSize
	}
	return &Writer{w: w, max: max}
}

// WriteFrame writes one frame with a single Write call, so concurrent
// writers serialised by a mutex never interleave a header with another body.
func (fw *Writer) WriteFrame(payload []byte) error {
	if err := CheckSize(len(payload), fw.max); err != nil {
		return err
	}
	fw.buf = AppendFrame(fw.buf[:0], payload)
	_, err := fw.w.Write(fw.buf)
	if cap(fw.buf) > growChunk {
		fw.buf = nil // do not pin a rare large frame's buffer
	}
	return err
}
