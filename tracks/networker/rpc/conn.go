package rpc

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/distsys-curriculum/distsys/tracks/networker/frame"
)

// connWriter serialises envelopes from many goroutines onto one connection.
//
// Flushing after every frame costs a system call per frame; flushing only
// on a timer adds latency. Instead each sender announces itself before it
// takes the lock, and the last sender in line flushes: under load one write
// carries many frames, alone a frame goes out at once.
type connWriter struct {
	max     int
	pending atomic.Int32

	mu  sync.Mutex
	bw  *bufio.Writer
	buf []byte
	err error // sticky: after a write error the connection is unusable
}

func newConnWriter(w io.Writer, max int) *connWriter {
	return &connWriter{max: max, bw: bufio.NewWriterSize(w, 32<<10)}
}

// send writes e as one frame. A *frame.SizeError leaves the connection
// usable (nothing was written); any other error is the connection's.
func (cw *connWriter) send(e *Envelope) error {
	cw.pending.Add(1)
	cw.mu.Lock()
	defer cw.mu.Unlock()
	last := cw.pending.Add(-1) == 0
	if cw.err != nil {
		return cw.err
	}
	cw.buf = AppendEnvelope(append(cw.buf[:0], 0, 0, 0, 0), e)
	n := len(cw.buf) - frame.HeaderSize
	if err := frame.CheckSize(n, cw.max); err != nil {
		if last {
			cw.flushLocked()
		}
		return err
	}
	binary.BigEndian.PutUint32(cw.buf, uint32(n))
	if _, err := cw.bw.Write(cw.buf); err != nil {
		cw.err = fmt.Errorf("write frame: %w", err)
		return cw.err
	}
	if cap(cw.buf) > 64<<10 {
		cw.buf = nil
	}
	if last {
		cw.flushLocked()
	}
	return cw.err
}

func (cw *connWriter) flushLocked() {
	if err := cw.bw.Flush(); err != nil && cw.err == nil {
		cw.err = fmt.Errorf("flush: %w", err)
	}
}
