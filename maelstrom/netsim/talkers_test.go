package netsim

import (
	"testing"
	"testing/synctest"
	"time"
)

// The node that sent to the most others lately is the broadcaster, with
// or without a journal; older sends and clients do not count.
func TestBroadcaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := New(Config{NoJournal: true})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes := []string{"n0", "n1", "n2"}
		for _, id := range append(nodes, "c0") {
			collect(n, id)
		}
		if got := n.Broadcaster(nodes, time.Second); got != "" {
			t.Fatalf("no traffic yet, got %q", got)
		}
		n.Send("n0", "n1", body(0))
		n.Send("n0", "n2", body(1))
		for range 5 {
			n.Send("n1", "n0", body(2)) // more messages, fewer peers
			n.Send("c0", "n1", body(3))
		}
		if got := n.Broadcaster(nodes, time.Second); got != "n0" {
			t.Fatalf("broadcaster %q, want n0 (sends to both others)", got)
		}
		time.Sleep(2 * time.Second)
		n.Send("n2", "n0", body(4))
		n.Send("n2", "n1", body(5))
		if got := n.Broadcaster(nodes, time.Second); got != "n2" {
			t.Fatalf("broadcaster %q, want n2: n0's sends are older than the window", got)
		}
	})
}
