package node_test

import (
	"context"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// A track's setup function: typed handlers, a KV client, a periodic task.
// cmd/<track>/main.go is then just node.Main(setup), and the grader runs
// node.Program(setup) in-process.
func Example() {
	setup := func(n *node.Node) error {
		kv := node.NewKV(n, node.LinKV)

		type add struct {
			Delta int `json:"delta"`
		}
		node.HandleTyped(n, "add", func(_ node.Message, req add) (any, error) {
			ctx, cancel := context.WithTimeout(n.Context(), time.Second)
			defer cancel()
			for {
				cur, err := kv.ReadInt(ctx, "counter")
				if node.ErrorCode(err) == node.KeyDoesNotExist {
					cur, err = 0, nil
				}
				if err != nil {
					return nil, err // indefinite: the client sees code 13
				}
				err = kv.CompareAndSwap(ctx, "counter", cur, cur+req.Delta, true)
				if node.ErrorCode(err) == node.PreconditionFailed {
					continue // someone else won the race; read again
				}
				if err != nil {
					return nil, err
				}
				return node.MessageBody{Type: "add_ok"}, nil
			}
		})

		n.Every(500*time.Millisecond, func(ctx context.Context) {
			n.Logger().Debug("tick", "peers", n.Peers())
		})
		return nil
	}
	_ = node.Program(setup) // or, in a main package: node.Main(setup)
}
