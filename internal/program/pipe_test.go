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
