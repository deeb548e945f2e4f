// Package client speaks to the watcher track's coordination service: keys
// with revisions, leases (sessions) that keep ephemeral keys alive, watches,
// and, built on those, the recipes in this package: a lock whose fencing
// token is a revision, leader election and a barrier.
//
// The messages are the watch workload's bodies (tracks/watcher/README.md
// lists them). A Client sends them through a Conn: NodeConn from a node of
// the curriculum's runtime to the service's nodes over the network, or any
// other transport (the watcher node itself hands its own lock handler a
// Conn that calls its server directly). Later tracks (scheduler,
// orchestrator) use this package rather than writing their own leases and
// watches.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// Request is one message to the service; Type says which, and only the
// fields that message uses are set.
type Request struct {
	Type       string          `json:"type"`
	Key        string          `json:"key,omitempty"`
	Prefix     string          `json:"prefix,omitempty"`
	Value      json.RawMessage `json:"value,omitempty"`
	From       json.RawMessage `json:"from,omitempty"`
	To         json.RawMessage `json:"to,omitempty"`
	Lease      int64           `json:"lease,omitempty"`
	TTL        int64           `json:"ttl,omitempty"` // milliseconds
	Rev        int64           `json:"rev,omitempty"`
	Sequential bool            `json:"sequential,omitempty"`
	Create     bool            `json:"create,omitempty"` // put only if absent (else error 21)
	Name       string          `json:"name,omitempty"`
	// Client and Seq name a change for de-duplication: a retry carries the
	// same pair and is applied once. Without them the server uses the
	// sender and its msg_id, which only works for a sender that waits for
	// each answer before its next request.
	Client string `json:"client,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// Event is one change: the revision that made it, the key, put or delete,
// and the value put.
type Event struct {
	Rev   int64           `json:"rev"`
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value,omitempty"`
}

// KeyValue is a key as list returns it.
type KeyValue struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	Version   int64           `json:"version"`
	CreateRev int64           `json:"create_rev"`
	ModRev    int64           `json:"mod_rev"`
	Lease     int64           `json:"lease,omitempty"`
}

// Response is any reply of the service; each reply type fills its fields.
type Response struct {
	Type    string          `json:"type"`
	Rev     int64           `json:"rev"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	Version int64           `json:"version"`
	Lease   int64           `json:"lease"`
	Events  []Event         `json:"events"`
	Keys    []KeyValue      `json:"keys"`
	Token   int64           `json:"token"`
}

// Conn carries requests to the service. An error reply comes back as a
// *node.RPCError.
type Conn interface {
	Call(ctx context.Context, req Request) (Response, error)
}

// Lanes hands out client identities to concurrent callers, each used by
// one call at a time, so that the server's de-duplication (which keeps the
// last request of each client) sees every identity as a sequential client.
// There are never more lanes than calls in flight at once.
type Lanes struct {
	Prefix string
	mu     sync.Mutex
	free   []*Lane
	n      int
}

// Lane is one sequential client identity.
type Lane struct {
	ID  string
	Seq uint64
}

// Get takes a free lane (or makes one) and numbers the next request on it.
func (l *Lanes) Get() *Lane {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ln *Lane
	if k := len(l.free); k > 0 {
		ln, l.free = l.free[k-1], l.free[:k-1]
	} else {
		l.n++
		ln = &Lane{ID: fmt.Sprintf("%s%d", l.Prefix, l.n)}
	}
	ln.Seq++
	return ln
}

// Put returns a lane once its call is over.
func (l *Lanes) Put(ln *Lane) {
	l.mu.Lock()
	l.free = append(l.free, ln)
	l.mu.Unlock()
}

// NodeConn is a Conn from a node to the service's nodes: it tries each
// server in turn, moving on after a timeout or a "temporarily unavailable"
// answer, until ctx ends. Every attempt of one call carries the same
// client and seq, so a change retried on another server applies once. It
// is safe for concurrent use.
type NodeConn struct {
	N       *node.Node
	Servers []string
	// Attempt bounds one try at one server (default 1 s).
	Attempt time.Duration

	lanes Lanes
	mu    sync.Mutex
	next  int
}

func (c *NodeConn) Call(ctx context.Context, req Request) (Response, error) {
	attempt := c.Attempt
	if attempt <= 0 {
		attempt = time.Second
	}
	ln := c.lanes.Get()
	defer c.lanes.Put(ln)
	req.Client, req.Seq = ln.ID, ln.Seq
	for {
		c.mu.Lock()
		server := c.Servers[c.next%len(c.Servers)]
		c.mu.Unlock()
		actx, cancel := context.WithTimeout(ctx, attempt)
		resp, err := node.Call[Response](actx, c.N, server, req)
		cancel()
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return resp, err
		}
		c.mu.Lock()
		c.next++
		c.mu.Unlock()
	}
}

func retryable(err error) bool {
	var rpc *node.RPCError
	if errors.As(err, &rpc) {
		return rpc.Code == node.TemporarilyUnavailable || rpc.Code == node.Timeout
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// Client is the service's API in Go.
type Client struct{ Conn Conn }

// Put sets key to value (JSON); with lease > 0 the key is ephemeral. It
// returns the revision of the change.
func (c Client) Put(ctx context.Context, key string, value any, lease int64) (int64, error) {
	raw, err := json.Marshal(value)
	if err != nil {
		return 0, err
	}
	r, err := c.Conn.Call(ctx, Request{Type: "put", Key: key, Value: raw, Lease: lease})
	return r.Rev, err
}

// Create puts key only if it does not exist (error 21 if it does) and
// returns the revision of its creation: a claim whose revision is a
// fencing token.
func (c Client) Create(ctx context.Context, key string, value any, lease int64) (int64, error) {
	raw, err := json.Marshal(value)
	if err != nil {
		return 0, err
	}
	r, err := c.Conn.Call(ctx, Request{Type: "put", Key: key, Value: raw, Lease: lease, Create: true})
	return r.Rev, err
}

// PutSequential creates prefix followed by a 10-digit number, one higher
// than the last created under the same prefix, and returns the key made
// and its revision.
func (c Client) PutSequential(ctx context.Context, prefix string, value any, lease int64) (string, int64, error) {
	raw, err := json.Marshal(value)
	if err != nil {
		return "", 0, err
	}
	r, err := c.Conn.Call(ctx, Request{Type: "put", Key: prefix, Value: raw, Lease: lease, Sequential: true})
	return r.Key, r.Rev, err
}

// Get reads key linearizably; a missing key has a nil value and version 0.
func (c Client) Get(ctx context.Context, key string) (json.RawMessage, int64, error) {
	r, err := c.Conn.Call(ctx, Request{Type: "get", Key: key})
	if string(r.Value) == "null" {
		r.Value = nil
	}
	return r.Value, r.Version, err
}

// Delete removes key and returns the revision of the change.
func (c Client) Delete(ctx context.Context, key string) (int64, error) {
	r, err := c.Conn.Call(ctx, Request{Type: "delete", Key: key})
	return r.Rev, err
}

// List reads every key under prefix linearizably, by key, with the
// revision it was read at.
func (c Client) List(ctx context.Context, prefix string) ([]KeyValue, int64, error) {
	r, err := c.Conn.Call(ctx, Request{Type: "list", Prefix: prefix})
	return r.Keys, r.Rev, err
}

// Grant creates a lease (a session) that lives ttl past its last keepalive.
func (c Client) Grant(ctx context.Context, ttl time.Duration) (int64, error) {
	r, err := c.Conn.Call(ctx, Request{Type: "lease_grant", TTL: ttl.Milliseconds()})
	return r.Lease, err
}

// KeepAlive renews a lease; error 20 means it has expired.
func (c Client) KeepAlive(ctx context.Context, lease int64) error {
	_, err := c.Conn.Call(ctx, Request{Type: "lease_keepalive", Lease: lease})
	return err
}

// Revoke ends a lease now, deleting its keys.
func (c Client) Revoke(ctx context.Context, lease int64) error {
	_, err := c.Conn.Call(ctx, Request{Type: "lease_revoke", Lease: lease})
	return err
}

// Watch returns the changes under prefix from revision rev on, waiting a
// little for the first, and the revision through which the answer is
// complete: ask again from that plus one (etcd's watch stream).
func (c Client) Watch(ctx context.Context, prefix string, rev int64) ([]Event, int64, error) {
	r, err := c.Conn.Call(ctx, Request{Type: "watch", Prefix: prefix, Rev: rev})
	return r.Events, r.Rev, err
}

// WatchOnce returns the first change to key at revision rev or later, or
// nil if none came while the server waited (ZooKeeper's one-shot watch),
// and the revision through which it looked.
func (c Client) WatchOnce(ctx context.Context, key string, rev int64) (*Event, int64, error) {
	r, err := c.Conn.Call(ctx, Request{Type: "watch_once", Key: key, Rev: rev})
	if err != nil || len(r.Events) == 0 {
		return nil, r.Rev, err
	}
	return &r.Events[0], r.Rev, nil
}

// ErrorCode is the Maelstrom error code of err (0 for none or a non-RPC error).
func ErrorCode(err error) int {
	var rpc *node.RPCError
	if errors.As(err, &rpc) {
		return rpc.Code
	}
	return 0
}
