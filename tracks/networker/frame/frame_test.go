package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

func frames(payloads ...[]byte) []byte {
	var b []byte
	for _, p := range payloads {
		b = AppendFrame(b, p)
	}
	return b
}

func TestRoundTripOneByteAtATime(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3*growChunk+17) // takes the growing path
	in := [][]byte{[]byte("hello"), {}, big, []byte("end")}
	r := NewReader(iotest.OneByteReader(bytes.NewReader(frames(in...))), 1<<20)
	for i, want := range in {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after last frame: got %v, want io.EOF", err)
	}
}

func TestDataWithErrReader(t *testing.T) {
	// The final Read returns data together with io.EOF.
	r := NewReader(iotest.DataErrReader(bytes.NewReader(frames([]byte("abc")))), 0)
	got, err := r.ReadFrame()
	if err != nil || string(got) != "abc" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestTruncated(t *testing.T) {
	full := frames(bytes.Repeat([]byte("y"), 100))
	big := frames(bytes.Repeat([]byte("z"), 2*growChunk))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"header", full[:2]},
		{"body", full[:50]},
		{"large body", big[:growChunk+10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.in), 0).ReadFrame()
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// countingReader records how much of the stream the frame reader consumed.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestOversizedRejectedBeforeBody(t *testing.T) {
	var in []byte
	in = binary.BigEndian.AppendUint32(in, 1025)
	in = append(in, make([]byte, 2000)...)
	cr := &countingReader{r: bytes.NewReader(in)}
	_, err := NewReader(cr, 1024).ReadFrame()
	var se *SizeError
	if !errors.As(err, &se) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want a *SizeError", err)
	}
	if se.Size != 1025 || se.Max != 1024 {
		t.Fatalf("got %+v", se)
	}
	if cr.n != HeaderSize {
		t.Fatalf("reader consumed %d bytes of an oversized frame", cr.n)
	}
}

func TestExactLimitAccepted(t *testing.T) {
	p := bytes.Repeat([]byte("a"), 1024)
	got, err := NewReader(bytes.NewReader(frames(p)), 1024).ReadFrame()
	if err != nil || len(got) != 1024 {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
}

// A 4 GiB announcement (allowed by a 4 GiB limit) backed by 10 bytes must not
// allocate 4 GiB: the reader grows with what arrives.
func TestAllocationFollowsArrivedBytes(t *testing.T) {
	in := binary.BigEndian.AppendUint32(nil, 1<<32-1)
	in = append(in, make([]byte, 10)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewReader(bytes.NewReader(in), 1<<32-1).ReadFrame()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("allocated %d bytes for a frame that delivered 10", d)
	}
}

func TestWriterRefusesOversized(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 8)
	if err := w.WriteFrame(make([]byte, 9)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes of a refused frame", buf.Len())
	}
	if err := w.WriteFrame([]byte("12345678")); err != nil {
		t.Fatal(err)
	}
	got, err := NewReader(&buf, 8).ReadFrame()
	if err != nil || string(got) != "12345678" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(frames([]byte("hello"), []byte("world")))
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Add([]byte{0, 0, 1, 0, 'a'})
	f.Add(frames(make([]byte, 300)))
	const max = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), max)
		consumed := 0
		for {
			p, err := r.ReadFrame()
			if err != nil {
				return
			}
			if len(p) > max || cap(p) > max {
				t.Fatalf("frame of len %d cap %d beyond the limit %d", len(p), cap(p), max)
			}
			consumed += HeaderSize + len(p)
			if consumed > len(data) {
				t.Fatalf("returned more bytes than the input holds")
			}
		}
	})
}
