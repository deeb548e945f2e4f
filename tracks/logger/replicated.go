package logger

import (
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// Replicated is a node's replicated log (--replicate isr) as another
// system running on the same node sees it: the advanced track's stream
// capstone writes its input through it and consumes it where the input's
// key is led. The node still serves the kafka workload's messages.
type Replicated struct{ r *replicaSet }

// SetupReplicated serves kafka's messages with every key replicated (as
// Setup does with --replicate isr) and returns the node's log.
func SetupReplicated(n *node.Node, o Options) *Replicated {
	o.Replicate = "isr"
	return &Replicated{setup(n, o).replicas}
}

// Append writes msgs at consecutive offsets of key's log through the key's
// leader (forwarded if it is another node) and returns the first offset
// once, with acks=all, every in-sync replica has them all. After an error
// the messages may still be in the log, whole or in part.
func (x *Replicated) Append(key string, msgs []int64) (int64, error) {
	if len(msgs) == 0 {
		return 0, fmt.Errorf("logger: nothing to append")
	}
	resp, err := x.r.send(node.Message{}, sendReq{Key: key, Batch: msgs})
	if err != nil {
		return 0, err
	}
	return resp.(sendOK).Offset, nil
}

// Read returns up to max messages of key from offset from on, from this
// node's copy and below the high watermark it knows: only messages every
// in-sync replica has, which no later leader lacks.
func (x *Replicated) Read(key string, from int64, max int) ([]int64, error) {
	if _, err := x.r.s.getLog(); err != nil {
		return nil, err
	}
	k := x.r.key(key)
	k.mu.Lock()
	hw := k.hw
	k.mu.Unlock()
	entries, err := x.r.log().Entries(key, from, hw, max)
	if err != nil {
		return nil, x.r.s.fatal(err)
	}
	msgs := make([]int64, len(entries))
	for i, e := range entries {
		msgs[i] = e.Msg
	}
	return msgs, nil
}

// Leading reports whether this node leads key now (at the newest epoch it
// knows of).
func (x *Replicated) Leading(key string) bool {
	if _, err := x.r.s.getLog(); err != nil {
		return false
	}
	k := x.r.key(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.leading
}
