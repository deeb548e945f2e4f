package program

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestGateBlocksWhilePaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var nilGate *Gate
		if err := nilGate.Wait(context.Background()); err != nil || nilGate.Paused() {
			t.Fatal("a nil gate must be open")
		}
		g := NewGate()
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		g.Pause()
		released := make(chan time.Time)
		go func() {
			_ = g.Wait(context.Background())
			released <- time.Now()
		}()
		start := time.Now()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		select {
		case <-released:
			t.Fatal("Wait returned while paused")
		default:
		}
		g.Resume()
		if at := <-released; at.Sub(start) != 3*time.Second {
			t.Fatalf("released after %v, want at the resume (3s)", at.Sub(start))
		}
		g.Pause()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := g.Wait(ctx); err == nil {
			t.Fatal("Wait on a paused gate ignored its context")
		}
	})
}
