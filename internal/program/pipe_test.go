package program

import (
	"io"
	"testing"
	"testing/synctest"
)

func TestPipeDeliversInOrderThenEOF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPipe()
		done := make(chan []byte)
		go func() {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Errorf("ReadAll: %v", err)
			}
			done <- b
		}()
		for _, s := range []string{"a\n", "bc\n", "d"} {
			if _, err := p.Write([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
		if got := string(<-done); got != "a\nbc\nd" {
			t.Fatalf("read %q", got)
		}
		if _, err := p.Write([]byte("x")); err != io.ErrClosedPipe {
			t.Fatalf("write after close: %v", err)
		}
	})
}

// The pipe reuses and compacts its buffer; interleaved partial reads and
// writes must still see every byte once, in order.
func TestPipeInterleavedPartialReads(t *testing.T) {
	p := NewPipe()
	var want, got []byte
	buf := make([]byte, 7)
	for i := range 2000 {
		chunk := []byte{byte(i), byte(i >> 8), 'x', byte(i * 7)}[:1+i%4]
		want = append(want, chunk...)
		if _, err := p.Write(chunk); err != nil {
			t.Fatal(err)
		}
		for range i % 3 {
			if len(got) == len(want) {
				break
			}
			n, _ := p.Read(buf[:1+i%len(buf)])
			got = append(got, buf[:n]...)
		}
	}
	p.Close()
	rest, err := io.ReadAll(p)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, rest...)
	if string(got) != string(want) {
		t.Fatalf("read %d bytes, want %d, or the content differs", len(got), len(want))
	}
}
