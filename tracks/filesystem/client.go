package filesystem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// client is the GFS client library every node runs for the dfs
// workload's requests: namespace operations go to the masters, data
// flows between this node and the chunk servers.
type client struct {
	n *node.Node
	o Options

	mu     sync.Mutex
	leader string // the master that last acted as leader
}

func newClient(n *node.Node, o Options) *client {
	c := &client{n: n, o: o}
	node.HandleTyped(n, "create", c.create)
	node.HandleTyped(n, "delete", c.delete)
	node.HandleTyped(n, "list", c.list)
	node.HandleTyped(n, "append", c.append)
	node.HandleTyped(n, "read", c.read)
	node.HandleTyped(n, "locate", c.locate)
	return c
}

func jsonBody(msg node.Message, v any) error { return json.Unmarshal(msg.Body, v) }

type clientRequest struct {
	MsgID  uint64 `json:"msg_id"`
	Path   string `json:"path"`
	Prefix string `json:"prefix"`
	ID     string `json:"id"`
	Data   string `json:"data"`
}

// callMaster sends a request to the masters until one answers it: the
// known leader first, then each in turn, following "try nX" hints.
func (c *client) callMaster(ctx context.Context, body map[string]any, out any) error {
	ids := c.n.NodeIDs()
	masters := ids[:min(c.o.Masters, len(ids))]
	next := rand.IntN(len(masters))
	var last error
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		dest := c.leader
		c.mu.Unlock()
		if dest == "" || attempt%2 == 1 {
			dest = masters[next%len(masters)]
			next++
		}
		actx, cancel := context.WithTimeout(ctx, c.o.MasterDeadline+c.o.CallTimeout)
		msg, err := c.n.SyncRPC(actx, dest, body)
		cancel()
		if err == nil {
			err = jsonBody(msg, out)
			if err == nil {
				c.mu.Lock()
				c.leader = dest
				c.mu.Unlock()
			}
			return err
		}
		last = err
		var rpc *node.RPCError
		if errors.As(err, &rpc) {
			switch rpc.Code {
			case node.TemporarilyUnavailable:
				if _, hint, ok := strings.Cut(rpc.Text, "try "); ok && slicesContains(masters, hint) {
					c.mu.Lock()
					c.leader = hint
					c.mu.Unlock()
					attempt = -1 // go to the hint next
				} else {
					c.mu.Lock()
					c.leader = ""
					c.mu.Unlock()
				}
			case node.Timeout, node.Crash, node.NotSupported:
				c.mu.Lock()
				c.leader = ""
				c.mu.Unlock()
			default:
				return rpc // a definite answer: no such file, exists, ...
			}
		} else {
			c.mu.Lock()
			c.leader = ""
			c.mu.Unlock()
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return timeoutError(last)
		}
	}
}

func slicesContains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// timeoutError: the request may or may not have taken effect.
func timeoutError(last error) error {
	return node.NewRPCError(node.Timeout, fmt.Sprintf("no answer in time (last: %v)", last))
}

func (c *client) deadline() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.n.Context(), c.o.ClientDeadline)
}

func (c *client) create(msg node.Message, r clientRequest) (any, error) {
	ctx, cancel := c.deadline()
	defer cancel()
	var ok node.MessageBody
	if err := c.callMaster(ctx, map[string]any{"type": "m_create", "path": r.Path, "client": msg.Src, "seq": r.MsgID}, &ok); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "create_ok"}, nil
}

func (c *client) delete(msg node.Message, r clientRequest) (any, error) {
	ctx, cancel := c.deadline()
	defer cancel()
	var ok node.MessageBody
	if err := c.callMaster(ctx, map[string]any{"type": "m_delete", "path": r.Path, "client": msg.Src, "seq": r.MsgID}, &ok); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "delete_ok"}, nil
}

func (c *client) list(_ node.Message, r clientRequest) (any, error) {
	ctx, cancel := c.deadline()
	defer cancel()
	var res struct {
		Paths []string `json:"paths"`
	}
	if err := c.callMaster(ctx, map[string]any{"type": "m_list", "prefix": r.Prefix}, &res); err != nil {
		return nil, err
	}
	if res.Paths == nil {
		res.Paths = []string{}
	}
	return map[string]any{"type": "list_ok", "paths": res.Paths}, nil
}

func (c *client) locate(_ node.Message, _ clientRequest) (any, error) {
	ctx, cancel := c.deadline()
	defer cancel()
	var res struct {
		Chunks []chunkLoc `json:"chunks"`
	}
	if err := c.callMaster(ctx, map[string]any{"type": "m_locate"}, &res); err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(res.Chunks))
	for i, l := range res.Chunks {
		out[i] = map[string]any{"path": l.Path, "index": l.Index, "replicas": l.Replicas}
	}
	return map[string]any{"type": "locate_ok", "chunks": out}, nil
}

// append is GFS's record append: ask the master for the last chunk's
// primary, send the record there; on a full chunk ask for the next one,
// on any failure retry (the record may then be in the file twice).
func (c *client) append(_ node.Message, r clientRequest) (any, error) {
	ctx, cancel := c.deadline()
	defer cancel()
	rec := Record{ID: r.ID, Data: r.Data}
	var full, broken, brokenV uint64
	var last error
	for {
		var ls leaseOK
		err := c.callMaster(ctx, map[string]any{"type": "m_lease", "path": r.Path, "full": full, "broken": broken, "broken_version": brokenV}, &ls)
		if err != nil {
			var rpc *node.RPCError
			if errors.As(err, &rpc) && rpc.Code == node.Timeout && last != nil {
				return nil, timeoutError(last)
			}
			return nil, err
		}
		full, broken, brokenV = 0, 0, 0
		actx, acancel := context.WithTimeout(ctx, 2*c.o.CallTimeout)
		res, err := node.Call[appendOK](actx, c.n, ls.Primary, map[string]any{"type": "c_append", "handle": ls.Handle, "record": rec})
		acancel()
		if err == nil {
			return map[string]any{"type": "append_ok", "chunk": ls.Index, "offset": res.Offset}, nil
		}
		last = err
		var rpc *node.RPCError
		if errors.As(err, &rpc) {
			switch rpc.Code {
			case CodeChunkFull:
				full = ls.Handle
				continue
			case node.MalformedRequest:
				return nil, rpc
			}
		}
		broken, brokenV = ls.Handle, ls.Version
		if !sleep(ctx, 20*time.Millisecond) {
			return nil, timeoutError(last)
		}
	}
}

// read returns the file's records in file order, each record id once
// (its last copy: a retried append leaves its earlier attempts before
// the acknowledged one).
func (c *client) read(_ node.Message, r clientRequest) (any, error) {
	ctx, cancel := c.deadline()
	defer cancel()
	for {
		recs, err := c.readOnce(ctx, r.Path)
		if err == nil {
			return map[string]any{"type": "read_ok", "records": dedupe(recs)}, nil
		}
		var rpc *node.RPCError
		if errors.As(err, &rpc) && rpc.Code == node.KeyDoesNotExist {
			return nil, rpc
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return nil, timeoutError(err)
		}
	}
}

func (c *client) readOnce(ctx context.Context, path string) ([]Record, error) {
	var open struct {
		Chunks []chunkLoc `json:"chunks"`
	}
	if err := c.callMaster(ctx, map[string]any{"type": "m_open", "path": path}, &open); err != nil {
		return nil, err
	}
	var recs []Record
	for _, l := range open.Chunks {
		replicas := append([]string(nil), l.Replicas...)
		rand.Shuffle(len(replicas), func(i, j int) { replicas[i], replicas[j] = replicas[j], replicas[i] })
		data, err := fetchChunk(ctx, c.n, c.o.BlockSize, l.Handle, l.Version, -1, replicas)
		if err != nil {
			return nil, node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("chunk %d of %s: %v", l.Index, path, err))
		}
		recs = append(recs, decodeChunk(data)...)
	}
	return recs, nil
}

func dedupe(recs []Record) []Record {
	last := map[string]int{}
	for i, r := range recs {
		last[r.ID] = i
	}
	out := make([]Record, 0, len(last))
	for i, r := range recs {
		if last[r.ID] == i {
			out = append(out, r)
		}
	}
	return out
}
