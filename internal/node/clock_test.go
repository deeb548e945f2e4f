package node

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The clock nemesis' control message skews Clock() and never reaches a
// handler or produces output; drift accumulates with elapsed time.
func TestClockControlSkewsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []string
		h := start(t, func(n *Node) {
			n.Handle(ClockControlType, func(m Message) error {
				seen = append(seen, string(m.Body))
				return nil
			})
			echoSetup(n)
		})
		h.init()
		if d := time.Until(h.n.Clock().Now()); d != 0 {
			t.Fatalf("unskewed clock is %v off", d)
		}
		h.send(ControlSource, `{"type":"maelstrom_clock","offset_ns":-300000000,"drift_ppm":1000}`)
		synctest.Wait()
		if d := time.Until(h.n.Clock().Now()); d != -300*time.Millisecond {
			t.Fatalf("clock is %v off, want -300ms", d)
		}
		time.Sleep(10 * time.Second) // 1000 ppm of 10 s gains 10 ms
		if d := time.Until(h.n.Clock().Now()); d != -290*time.Millisecond {
			t.Fatalf("after 10 s at +1000 ppm the clock is %v off, want -290ms", d)
		}
		h.send(ControlSource, `{"type":"maelstrom_clock","offset_ns":0,"drift_ppm":0}`)
		synctest.Wait()
		if d := time.Until(h.n.Clock().Now()); d != 0 {
			t.Fatalf("reset clock is %v off", d)
		}
		// The same type from anyone else is an ordinary message.
		h.send("c1", `{"type":"maelstrom_clock","offset_ns":5}`)
		synctest.Wait()
		if len(seen) != 1 || !strings.Contains(seen[0], `"offset_ns":5`) {
			t.Fatalf("handler saw %q, want only the message from c1", seen)
		}
		h.send("c1", `{"type":"echo","msg_id":2,"echo":"still here"}`)
		if m := h.recv(); m.Body["echo"] != "still here" {
			t.Fatalf("after control messages the next output is %s", m.raw)
		}
		if rest, _ := h.finish(); rest != "" {
			t.Fatalf("control messages produced output: %q", rest)
		}
	})
}
