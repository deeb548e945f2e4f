// Package watcher is the reference solution of the watcher track: a
// ZooKeeper/etcd-style coordination service on the store track's Raft
// (internal/raftnode), graded by the watch workload.
//
// Every change (put, cas, delete, and the deletions of an expired lease's
// keys) is a log entry and gets the next revision of one global counter;
// each key keeps its version and the revisions of its creation and last
// change, and every replica keeps a window of recent events. Reads (get,
// list) wait for a ReadIndex, as in the store track. Watches are served by
// any replica from its own applied events: an event is only there once it
// is committed, and a lagging replica answers with fewer events and a
// lower "complete through" revision, never a wrong one.
//
// Leases are sessions: grant and keepalive go through the log, and each
// replica notes, by its own clock, when it applied a lease's last
// keepalive. The leader proposes "expire" for a lease that has been silent
// longer than its ttl; a new leader can do so at once, because it applied
// the same keepalives. The recipes (lock, election, barrier) live in
// tracks/watcher/client; the lock message runs the lock recipe against
// this node's own server and writes to the grader's fenced resource.
//
// tracks/watcher/stages.tsv says how each stage is graded and README.md is
// the lesson.
package watcher

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

// Options configure a watcher node.
type Options struct {
	Raft raftnode.Config
	// Deadline bounds how long a node works on one client request; below
	// the watch workload's client timeout (2 s).
	Deadline time.Duration
	// WatchWait is how long a watch with nothing to deliver waits for a
	// change before answering empty.
	WatchWait time.Duration
	// Poll is the counter-example (--watch poll): watches answer with the
	// current state of the watched keys, as a client polling them would.
	Poll bool
	// LockHold is how long a lock holder waits between its two writes to
	// the fenced resource; LockTTL is its session's ttl.
	LockHold, LockTTL time.Duration
}

// DefaultOptions: the store track's Raft settings, 200 ms watch waits.
func DefaultOptions() Options {
	return Options{
		Raft:      raftnode.DefaultConfig(),
		Deadline:  900 * time.Millisecond,
		WatchWait: 200 * time.Millisecond,
		LockHold:  20 * time.Millisecond,
		LockTTL:   time.Second,
	}
}

const usage = "usage: watcher [--watch log|poll] [--watch-wait D] [--tick D] [--election-ticks E] [--heartbeat-ticks H] [--snapshot-every N]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("watcher")
	o.Raft.RegisterFlags(fs)
	watch := fs.String("watch", "log", "how watches are served: log (from the replicated events) or poll (counter-example: current values only)")
	fs.DurationVar(&o.Deadline, "deadline", o.Deadline, "how long a node works on one client request")
	fs.DurationVar(&o.WatchWait, "watch-wait", o.WatchWait, "how long a watch waits for a change before answering empty")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch *watch {
	case "log":
	case "poll":
		o.Poll = true
	default:
		return o, fmt.Errorf("watcher: --watch %q: want log or poll", *watch)
	}
	return o, nil
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, o)
	return nil
}

// Server is one node of the service.
type Server struct {
	n  *node.Node
	d  *raftnode.Driver
	m  *machine
	o  Options
	mu sync.Mutex
	// expiring holds leases this leader proposed to expire, and when, so
	// that it does not propose the same one every tick.
	expiring map[int64]time.Time
	lockOnce sync.Once
	lockConn client.Conn
	// life tells this incarnation of the node from earlier ones: the
	// identities of Conn's clients carry it, because the service
	// de-duplicates by identity and sequence number, and a restarted node
	// whose clients began again at sequence 1 would be answered with its
	// previous life's remembered results.
	life int64
}

// requestTypes are the client messages the server answers.
var requestTypes = []string{"put", "get", "cas", "delete", "list", "lease_grant", "lease_keepalive", "lease_revoke", "watch", "watch_once"}

// Setup serves the watch workload's messages on n.
func Setup(n *node.Node, o Options) *Server {
	m := newMachine(n.Clock().Now)
	d := raftnode.New(n, o.Raft, m)
	s := &Server{n: n, d: d, m: m, o: o, expiring: map[int64]time.Time{}, life: n.Clock().Now().UnixNano()}
	for _, t := range requestTypes {
		node.HandleTyped(n, t, func(msg node.Message, req client.Request) (any, error) {
			if req.Client != "" {
				return s.Do(n.Context(), msg.Src+"/"+req.Client, req.Seq, req)
			}
			var h struct {
				MsgID uint64 `json:"msg_id"`
			}
			_ = json.Unmarshal(msg.Body, &h)
			return s.Do(n.Context(), msg.Src, h.MsgID, req)
		})
	}
	node.HandleTyped(n, "lock", s.lock)
	n.Every(o.Raft.Tick, s.expire)
	return s
}

// Do answers one request from client (its seq numbers its requests, for
// de-duplication of log entries) with the reply body.
func (s *Server) Do(ctx context.Context, from string, seq uint64, req client.Request) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Deadline)
	defer cancel()
	switch req.Type {
	case "put":
		if len(req.Value) == 0 {
			return nil, node.NewRPCError(node.MalformedRequest, "put needs a value")
		}
		return s.submit(ctx, from, seq, command{Op: "put", Key: req.Key, Value: req.Value, Lease: req.Lease, Sequential: req.Sequential, Create: req.Create}, "put_ok", "rev", "key")
	case "cas":
		return s.submit(ctx, from, seq, command{Op: "cas", Key: req.Key, From: req.From, To: req.To}, "cas_ok", "rev")
	case "delete":
		return s.submit(ctx, from, seq, command{Op: "delete", Key: req.Key}, "delete_ok", "rev")
	case "lease_grant":
		if req.TTL <= 0 {
			return nil, node.NewRPCError(node.MalformedRequest, "lease_grant needs a positive ttl (milliseconds)")
		}
		return s.submit(ctx, from, seq, command{Op: "grant", TTL: req.TTL}, "lease_grant_ok", "lease")
	case "lease_keepalive":
		return s.submit(ctx, from, seq, command{Op: "keepalive", Lease: req.Lease}, "lease_keepalive_ok")
	case "lease_revoke":
		return s.submit(ctx, from, seq, command{Op: "revoke", Lease: req.Lease}, "lease_revoke_ok")
	case "get":
		raw, err := s.d.Read(ctx, func() any {
			if e := s.m.Keys[req.Key]; e != nil {
				return map[string]any{"type": "get_ok", "value": e.Value, "version": e.Version}
			}
			return map[string]any{"type": "get_ok", "value": nil, "version": 0}
		})
		return decoded(raw, err)
	case "list":
		raw, err := s.d.Read(ctx, func() any {
			return map[string]any{"type": "list_ok", "keys": s.m.list(req.Prefix), "rev": s.m.Rev}
		})
		return decoded(raw, err)
	case "watch":
		return s.watch(ctx, "watch_ok", req.Rev, func(k string) bool { return strings.HasPrefix(k, req.Prefix) }, 100)
	case "watch_once":
		return s.watch(ctx, "watch_once_ok", req.Rev, func(k string) bool { return k == req.Key }, 1)
	}
	return nil, node.NewRPCError(node.NotSupported, "unsupported request "+req.Type)
}

func decoded(raw json.RawMessage, err error) (map[string]any, error) {
	if err != nil {
		return nil, raftnode.RPCError(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// submit puts a command in the log through the leader and turns its
// outcome into the reply, with the outcome fields named in fields.
func (s *Server) submit(ctx context.Context, from string, seq uint64, c command, okType string, fields ...string) (map[string]any, error) {
	c.Client, c.Seq = from, seq
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var res outcome
	if err := raftnode.SubmitFor(ctx, s.d, data, &res); err != nil {
		return nil, err
	}
	out := map[string]any{"type": okType}
	for _, f := range fields {
		switch f {
		case "rev":
			out["rev"] = res.Rev
		case "key":
			if c.Sequential {
				out["key"] = res.Key
			}
		case "lease":
			out["lease"] = res.Lease
		}
	}
	return out, nil
}

// watch answers with the matching events from rev on (up to limit), or,
// when there are none yet, waits up to WatchWait for one.
func (s *Server) watch(ctx context.Context, okType string, rev int64, match func(string) bool, limit int) (map[string]any, error) {
	wait := time.NewTimer(s.o.WatchWait)
	defer wait.Stop()
	rev = max(rev, 1)
	for {
		var (
			evs     []client.Event
			through int64
			changed <-chan struct{}
			gone    bool
		)
		s.d.View(func() {
			if rev < s.m.oldest() && rev <= s.m.Rev {
				gone = true
				return
			}
			if s.o.Poll {
				evs, through = s.m.polled(rev, match)
				if len(evs) > limit {
					evs, through = evs[:limit], evs[limit-1].Rev
				}
			} else {
				evs, through = s.m.eventsFrom(rev, limit, match)
			}
			changed = s.m.notify
		})
		if gone {
			return nil, node.NewRPCError(node.PreconditionFailed, fmt.Sprintf("revision %d is compacted", rev))
		}
		if len(evs) > 0 {
			return map[string]any{"type": okType, "events": evs, "rev": through}, nil
		}
		select {
		case <-changed:
		case <-wait.C:
			return map[string]any{"type": okType, "events": []client.Event{}, "rev": through}, nil
		case <-ctx.Done():
			return map[string]any{"type": okType, "events": []client.Event{}, "rev": through}, nil
		}
	}
}

// expire runs every tick: the leader proposes the expiry of every lease
// silent for longer than its ttl, at most once a second per lease.
func (s *Server) expire(ctx context.Context) {
	if s.d.Status().Role != raft.Leader {
		return
	}
	var due []command
	s.d.View(func() { due = s.m.expired() })
	now := s.n.Clock().Now()
	s.mu.Lock()
	for id, at := range s.expiring {
		if now.Sub(at) > time.Second {
			delete(s.expiring, id)
		}
	}
	var propose []command
	for _, c := range due {
		if _, ok := s.expiring[c.Lease]; !ok {
			s.expiring[c.Lease] = now
			propose = append(propose, c)
		}
	}
	s.mu.Unlock()
	for _, c := range propose {
		data, _ := json.Marshal(c)
		go func() {
			pctx, cancel := context.WithTimeout(ctx, s.o.Deadline)
			defer cancel()
			_, _ = s.d.Propose(pctx, data) // retried next second if lost
		}()
	}
}

// localConn is a client.Conn from this node to its own server: no
// network hop; concurrent calls get their own lanes (client identities).
type localConn struct {
	s     *Server
	lanes client.Lanes
}

// Conn returns a client.Conn to this node's own server, for clients that
// run inside the node (the lock handler here, the scheduler's workers).
// name prefixes its client identities with the node's id and this life
// of the node, so it must be unique on this node, and Conn must be called
// after init.
func (s *Server) Conn(name string) client.Conn {
	return &localConn{s: s, lanes: client.Lanes{Prefix: fmt.Sprintf("%s/%s@%d.", s.n.ID(), name, s.life)}}
}

func (c *localConn) Call(ctx context.Context, req client.Request) (client.Response, error) {
	ln := c.lanes.Get()
	defer c.lanes.Put(ln)
	var resp client.Response
	for {
		body, err := c.s.Do(ctx, ln.ID, ln.Seq, req)
		if err == nil {
			raw, _ := json.Marshal(body)
			err = json.Unmarshal(raw, &resp)
			return resp, err
		}
		// Not the leader yet, or a timeout: retry while there is time, as
		// the same request (same seq), so a retry applies once.
		if code := client.ErrorCode(err); (code != node.TemporarilyUnavailable && code != node.Timeout) || ctx.Err() != nil {
			return resp, err
		}
		t := time.NewTimer(c.s.o.Raft.Tick)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return resp, err
		}
	}
}

type lockRequest struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

type fencedOK struct {
	Type string `json:"type"`
}

// lock runs the lock recipe: a session, the lock, two writes to the
// fenced resource under the token, release.
func (s *Server) lock(_ node.Message, req lockRequest) (any, error) {
	ctx, cancel := context.WithTimeout(s.n.Context(), 1800*time.Millisecond)
	defer cancel()
	s.lockOnce.Do(func() { s.lockConn = s.Conn("lock") })
	c := client.Client{Conn: s.lockConn}
	sess, err := client.NewSession(ctx, c, s.o.LockTTL)
	if err != nil {
		return nil, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
		defer cancel()
		_ = sess.Close(rctx)
	}()
	mu := client.NewMutex(sess, req.Name)
	token, err := mu.Lock(ctx)
	if err != nil {
		return nil, err
	}
	for _, step := range []string{"begin", "end"} {
		if step == "end" {
			time.Sleep(s.o.LockHold)
		}
		_, err := node.Call[fencedOK](ctx, s.n, "fenced", map[string]any{"type": "fenced_write", "token": token, "value": req.Value, "step": step})
		if err != nil {
			return nil, err
		}
	}
	if err := mu.Unlock(ctx); err != nil {
		return nil, err
	}
	return map[string]any{"type": "lock_ok", "token": token}, nil
}
