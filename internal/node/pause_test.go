package node

import (
	"bufio"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
)

// A node whose program.IO.Gate is closed (the grader's in-process pause)
// neither handles input nor runs its timers until the gate opens.
func TestGatePausesInputAndTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := program.NewGate()
		h := &harness{t: t, in: program.NewPipe(), out: program.NewPipe(), errp: program.NewPipe(), done: make(chan error, 1)}
		h.r = bufio.NewReader(h.out)
		h.n = New(program.IO{Stdin: h.in, Stdout: h.out, Stderr: h.errp, Gate: gate})
		var ticks atomic.Int64
		h.n.Every(time.Second, func(context.Context) { ticks.Add(1) })
		echoSetup(h.n)
		ctx, cancel := context.WithCancel(context.Background())
		h.cancel = cancel
		go func() { h.done <- h.n.Run(ctx) }()
		h.init()

		time.Sleep(3500 * time.Millisecond)
		before := ticks.Load()
		if before != 3 {
			t.Fatalf("%d ticks in 3.5 s, want 3", before)
		}
		gate.Pause()
		h.send("c1", `{"type":"echo","msg_id":2,"echo":"while paused"}`)
		lines := make(chan string, 1)
		go func() {
			line, _ := h.r.ReadString('\n')
			lines <- line
		}()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := ticks.Load(); got != before {
			t.Fatalf("timer ran %d times while paused", got-before)
		}
		select {
		case line := <-lines:
			t.Fatalf("a paused node wrote %q", line)
		default:
		}
		gate.Resume()
		if line := <-lines; !strings.Contains(line, `"echo":"while paused"`) {
			t.Fatalf("after resume got %q, want the held echo answered", line)
		}
		time.Sleep(1500 * time.Millisecond)
		if got := ticks.Load(); got <= before {
			t.Fatal("timer did not run again after resume")
		}
		h.finish()
	})
}
