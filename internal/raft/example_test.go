package raft_test

import (
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/raft"
)

// The loop every node runs around a *Raft: feed it ticks and messages,
// then carry out each Ready in order (persist, send, apply, advance).
func Example() {
	storage := raft.NewMemoryStorage()
	r, err := raft.New(raft.Config{ID: "n1", Peers: []string{"n1"}, Storage: storage})
	if err != nil {
		panic(err)
	}
	handle := func() {
		for r.HasReady() {
			rd := r.Ready()
			if rd.SoftState != nil {
				fmt.Printf("now %s of term %d\n", rd.SoftState.Role, rd.SoftState.Term)
			}
			if err := storage.Save(rd.Update()); err != nil {
				panic(err) // a node that cannot persist must stop
			}
			for range rd.Messages {
				// send to m.To over the network (none in a one-node cluster)
			}
			for _, e := range rd.CommittedEntries {
				if e.Type == raft.EntryNormal {
					fmt.Printf("apply %d: %s\n", e.Index, e.Data)
				}
			}
			r.Advance(rd)
		}
	}
	for range 20 { // a timer calls Tick; incoming messages go to r.Step
		r.Tick()
		handle()
	}
	if _, _, err := r.Propose([]byte("hello")); err != nil {
		panic(err)
	}
	handle()
	// Output:
	// now leader of term 1
	// apply 2: hello
}

// Drain is the same loop, with the node's parts plugged in.
func ExampleRaft_Drain() {
	storage := raft.NewMemoryStorage()
	r, _ := raft.New(raft.Config{ID: "n1", Peers: []string{"n1"}, Storage: storage})
	var kv []string
	h := raft.Handler{
		State: func(s raft.SoftState) { fmt.Println("role:", s.Role) },
		Send:  func(m raft.Message) { /* encode m as a Maelstrom body and send it to m.To */ },
		Apply: func(e raft.Entry) error {
			if e.Type == raft.EntryNormal {
				kv = append(kv, string(e.Data))
			}
			return nil
		},
		Read: func(rs raft.ReadState) { fmt.Printf("read %s at index %d: %v\n", rs.RequestCtx, rs.Index, kv) },
	}
	for range 20 {
		r.Tick()
		if err := r.Drain(storage, h); err != nil {
			panic(err)
		}
	}
	r.Propose([]byte("x=1"))
	r.ReadIndex([]byte("q1"))
	r.Drain(storage, h)
	// Output:
	// role: leader
	// read q1 at index 2: [x=1]
}
