package netsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/rawjson"
)

// ErrTimeout is returned by Client.RPC when no reply came in time.
var ErrTimeout = errors.New("timed out waiting for a reply")

// Client is a synchronous Maelstrom client endpoint: at most one request
// outstanding, msg_id counting from 1, replies matched by in_reply_to and
// anything else discarded.
type Client struct {
	net   *Net
	id    string
	inbox chan Message

	mu     sync.Mutex
	msgID  int64
	closed bool
}

// NewClient registers a client endpoint called id (which should start
// with "c" so that it gets no latency).
func (n *Net) NewClient(id string) *Client {
	c := &Client{net: n, id: id, inbox: make(chan Message, 16)}
	n.Register(id, func(m Message) {
		select {
		case c.inbox <- m:
		default: // a synchronous client never needs more; late replies are dropped
		}
	})
	return c
}

// ID returns the client's id, e.g. "c7".
func (c *Client) ID() string { return c.id }

// Close removes the client from the network; later replies to it are
// refused as sends to an unknown destination.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.net.Unregister(c.id)
}

// RPC sends body (a JSON object without msg_id) to dest with the next
// msg_id and waits up to timeout for the reply, returning its raw body.
func (c *Client) RPC(ctx context.Context, dest string, body map[string]any, timeout time.Duration) (json.RawMessage, error) {
	c.mu.Lock()
	c.msgID++
	id := c.msgID
	c.mu.Unlock()
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if _, dup := body["msg_id"]; dup || len(raw) < 2 || raw[0] != '{' {
		return nil, fmt.Errorf("encode request: body must be a JSON object without msg_id")
	}
	// Splice msg_id in rather than copying the map to add it.
	req := make([]byte, 0, len(raw)+24)
	req = append(req, `{"msg_id":`...)
	req = strconv.AppendInt(req, id, 10)
	if len(raw) > 2 {
		req = append(req, ',')
	}
	raw = append(req, raw[1:]...)
	// Drain replies to earlier, abandoned requests.
	for drained := false; !drained; {
		select {
		case <-c.inbox:
		default:
			drained = true
		}
	}
	if _, err := c.net.Send(c.id, dest, raw); err != nil {
		return nil, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case m := <-c.inbox:
			if irt, ok := inReplyTo(m.Body); ok && irt == id {
				return m.Body, nil
			}
		case <-timer.C:
			return nil, ErrTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// inReplyTo reads a body's in_reply_to as encoding/json would decode it
// into a *int64 field (last match wins, keys match case-insensitively).
// Plain bodies (unescaped keys, exact key, integer value) take a fast path
// that skips over the other values instead of decoding them: a broadcast
// read reply carries thousands. Bodies on the network are valid JSON (see
// Net.Send), so the fast path need not validate.
func inReplyTo(body json.RawMessage) (int64, bool) {
	var raw []byte
	found, plain := false, true
	ok := rawjson.Object(body, func(k, v []byte) bool {
		if string(k) == "in_reply_to" {
			raw, found = v, true
		} else if bytes.EqualFold(k, []byte("in_reply_to")) { // encoding/json's folding
			plain = false
		}
		return plain
	})
	if ok && plain {
		if !found {
			return 0, false
		}
		if v, isInt := rawjson.Int(raw); isInt {
			return v, true
		}
	}
	var hdr struct {
		InReplyTo *int64 `json:"in_reply_to"`
	}
	if json.Unmarshal(body, &hdr) != nil || hdr.InReplyTo == nil {
		return 0, false
	}
	return *hdr.InReplyTo, true
}
