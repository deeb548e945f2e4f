package node

import (
	"context"
	"encoding/json"
	"fmt"
)

// HandleTyped registers a handler whose request body is decoded into Req.
// fn returns the reply body (nil: no reply) or an error: an *RPCError is
// sent as an error reply, any other error is logged and answered with code
// 13 (crash). A body that does not decode into Req is answered with code
// 12 (malformed request).
func HandleTyped[Req any](n *Node, typ string, fn func(msg Message, req Req) (any, error)) {
	n.Handle(typ, func(msg Message) error {
		var req Req
		if err := json.Unmarshal(msg.Body, &req); err != nil {
			return NewRPCError(MalformedRequest, fmt.Sprintf("%s body: %v", typ, err))
		}
		resp, err := fn(msg, req)
		if err != nil {
			return err
		}
		if resp == nil {
			return nil
		}
		return n.Reply(msg, resp)
	})
}

// Call is SyncRPC with the reply body decoded into Resp.
func Call[Resp any](ctx context.Context, n *Node, dest string, body any) (Resp, error) {
	var resp Resp
	m, err := n.SyncRPC(ctx, dest, body)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(m.Body, &resp); err != nil {
		return resp, fmt.Errorf("decode reply from %s: %w", dest, err)
	}
	return resp, nil
}
