package dht

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// TickEvery is how often a node runs its protocol timers.
const TickEvery = 25 * time.Millisecond

// Service is a Core on a node: it serialises the node's handlers, timers
// and local callers onto the one Core. Programs that run on a ring node
// (the MapReduce capstone) use its blocking methods.
type Service struct {
	n    *node.Node
	mu   sync.Mutex
	core *Core
}

// Attach puts a Core on n: it handles the protocol's dht_* messages and
// ticks the Core's timers. cfg.Self and cfg.Nodes are filled in at init.
// The node stays outside the ring until Start or Join.
func Attach(n *node.Node, cfg Config) *Service {
	s := &Service{n: n}
	n.OnInit(func() error {
		cfg.Self, cfg.Nodes = n.ID(), n.NodeIDs()
		var kept []Entry
		if cfg.Durable && n.DataDir() != "" {
			d := disk{fs: n.Storage(), dir: filepath.Join(n.DataDir(), "dht")}
			var err error
			if kept, err = d.load(); err != nil {
				return err
			}
			cfg.OnKeep = d.save
		}
		s.mu.Lock()
		s.core = New(cfg, n.Clock(), transport{n})
		s.core.Restore(kept)
		s.mu.Unlock()
		return nil
	})
	for _, typ := range []string{tFind, tAck, tFound, tGone, tStab, tStabOK, tNotify, tRead, tReadOK, tWrite, tWriteOK, tPush, tSetPred, tSetSucc} {
		n.Handle(typ, func(msg node.Message) error {
			var m Msg
			if err := json.Unmarshal(msg.Body, &m); err != nil {
				return node.NewRPCError(node.MalformedRequest, "bad "+typ+" body: "+err.Error())
			}
			s.with(func(c *Core) { c.Handle(msg.Src, m) })
			return nil
		})
	}
	n.Every(TickEvery, func(context.Context) { s.with((*Core).Tick) })
	return s
}

func (s *Service) with(f func(*Core)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.core != nil {
		f(s.core)
	}
}

type transport struct{ n *node.Node }

func (t transport) Send(dest string, m Msg) { _ = t.n.Send(dest, m) }

// disk keeps a node's copies, one file per key, through the node's
// storage seam.
type disk struct {
	fs  storage.FS
	dir string
}

func (d disk) path(key string) string {
	h := fnv.New128a()
	h.Write([]byte(key))
	return filepath.Join(d.dir, hex.EncodeToString(h.Sum(nil)))
}

func (d disk) save(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := d.fs.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	return storage.WriteFileAtomic(d.fs, d.path(e.Key), b, 0o644)
}

// load reads every kept copy; a file that does not parse (a torn write
// WriteFileAtomic should have prevented) is skipped: its key comes back
// from another replica.
func (d disk) load() ([]Entry, error) {
	des, err := d.fs.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if de.IsDir() || strings.Contains(de.Name(), ".tmp") {
			continue
		}
		b, err := storage.ReadFile(d.fs, filepath.Join(d.dir, de.Name()))
		if err != nil {
			return nil, err
		}
		var e Entry
		if json.Unmarshal(b, &e) == nil && e.Key != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// GetLocal reads this node's own copy of key, without the network.
func (s *Service) GetLocal(key string) (value json.RawMessage, found bool) {
	s.with(func(c *Core) {
		var e Entry
		e, found = c.Stored(key)
		value = e.Value
	})
	return value, found
}

// Start makes this node a member of the initial ring.
func (s *Service) Start(members []string) { s.with(func(c *Core) { c.Start(members) }) }

// Member reports whether this node is in the ring.
func (s *Service) Member() (in bool) {
	s.with(func(c *Core) { in = c.Member() })
	return in
}

// Join enters the ring through bootstrap and waits until it is in.
func (s *Service) Join(ctx context.Context, bootstrap string) error {
	done := make(chan error, 1)
	s.with(func(c *Core) { c.Join(bootstrap, func(err error) { done <- err }) })
	return wait(ctx, done)
}

// Leave leaves the ring gracefully, handing this node's keys on.
func (s *Service) Leave() (err error) {
	s.with(func(c *Core) { err = c.Leave() })
	return err
}

// Owners returns the nodes that hold key, its owner first: the first r
// of them are its replicas. A MapReduce scheduler runs a task on one of
// them to read its input locally.
func (s *Service) Owners(ctx context.Context, key string) ([]string, error) {
	type res struct {
		owners []string
		err    error
	}
	done := make(chan res, 1)
	s.with(func(c *Core) {
		c.Lookup(key, func(o []string, _ int, err error) { done <- res{o, err} })
	})
	select {
	case r := <-done:
		return r.owners, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Put stores value under key on its r replicas; hops is the length of
// the lookup that found them.
func (s *Service) Put(ctx context.Context, key string, value json.RawMessage) (hops int, err error) {
	type res struct {
		hops int
		err  error
	}
	done := make(chan res, 1)
	s.with(func(c *Core) { c.Put(key, value, func(h int, err error) { done <- res{h, err} }) })
	select {
	case r := <-done:
		return r.hops, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Get reads key's newest value from its replicas; found is false for a
// key never written.
func (s *Service) Get(ctx context.Context, key string) (value json.RawMessage, found bool, hops int, err error) {
	type res struct {
		v     json.RawMessage
		found bool
		hops  int
		err   error
	}
	done := make(chan res, 1)
	s.with(func(c *Core) {
		c.Get(key, func(v json.RawMessage, f bool, h int, err error) { done <- res{v, f, h, err} })
	})
	select {
	case r := <-done:
		return r.v, r.found, r.hops, r.err
	case <-ctx.Done():
		return nil, false, 0, ctx.Err()
	}
}

func wait(ctx context.Context, done chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Options are the node's command-line flags.
type Options struct {
	Replicas int
	Fingers  bool
	Durable  bool
}

const usage = "usage: advanced --system dht [--replicas N] [--fingers=BOOL] [--durable=BOOL]"

// ParseArgs reads --replicas N, --fingers=BOOL and --durable=BOOL.
func ParseArgs(args []string) (Options, error) {
	fs := nodeflags.New("dht")
	o := Options{}
	fs.IntVar(&o.Replicas, "replicas", 3, "nodes that store each key (the owner and its successors)")
	fs.BoolVar(&o.Fingers, "fingers", true, "route with finger tables (false: along successors only)")
	fs.BoolVar(&o.Durable, "durable", true, "keep copies in the node's data directory (false: in memory only, lost when the node dies)")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	if o.Replicas < 1 {
		return o, fmt.Errorf("dht: --replicas must be at least 1, got %d (%s)", o.Replicas, usage)
	}
	return o, nil
}

// Configure is the "dht" system of the advanced track: a Chord node that
// answers the dht workload's requests (see the track's README).
func Configure(n *node.Node, args []string) error {
	o, err := ParseArgs(args)
	if err != nil {
		return err
	}
	s := Attach(n, Config{Replicas: o.Replicas, NoFingers: !o.Fingers, Durable: o.Durable})
	n.Handle("ring", func(msg node.Message) error {
		var b struct {
			Members []string `json:"members"`
		}
		if err := json.Unmarshal(msg.Body, &b); err != nil || len(b.Members) == 0 {
			return node.NewRPCError(node.MalformedRequest, "ring needs members, a list of node ids")
		}
		s.Start(b.Members)
		return n.Reply(msg, map[string]any{"type": "ring_ok"})
	})
	n.Handle("join", func(msg node.Message) error {
		var b struct {
			Bootstrap string `json:"bootstrap"`
		}
		if err := json.Unmarshal(msg.Body, &b); err != nil || b.Bootstrap == "" {
			return node.NewRPCError(node.MalformedRequest, "join needs bootstrap, a member's id")
		}
		ctx, cancel := context.WithTimeout(n.Context(), 5*time.Second)
		defer cancel()
		if err := s.Join(ctx, b.Bootstrap); err != nil {
			return node.NewRPCError(node.Timeout, "join: "+err.Error())
		}
		return n.Reply(msg, map[string]any{"type": "join_ok"})
	})
	n.Handle("leave", func(msg node.Message) error {
		if err := s.Leave(); err != nil {
			return node.NewRPCError(node.TemporarilyUnavailable, err.Error())
		}
		return n.Reply(msg, map[string]any{"type": "leave_ok"})
	})
	n.Handle("put", func(msg node.Message) error {
		var b struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(msg.Body, &b); err != nil || b.Key == "" || len(b.Value) == 0 {
			return node.NewRPCError(node.MalformedRequest, "put needs key (a string) and value")
		}
		ctx, cancel := context.WithTimeout(n.Context(), 5*time.Second)
		defer cancel()
		hops, err := s.Put(ctx, b.Key, b.Value)
		if err != nil {
			return opError(err)
		}
		return n.Reply(msg, map[string]any{"type": "put_ok", "hops": hops})
	})
	n.Handle("get", func(msg node.Message) error {
		var b struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(msg.Body, &b); err != nil || b.Key == "" {
			return node.NewRPCError(node.MalformedRequest, "get needs key (a string)")
		}
		ctx, cancel := context.WithTimeout(n.Context(), 5*time.Second)
		defer cancel()
		v, found, hops, err := s.Get(ctx, b.Key)
		if err != nil {
			return opError(err)
		}
		if !found {
			return node.NewRPCError(node.KeyDoesNotExist, fmt.Sprintf("no value under %q (lookup took %d hops)", b.Key, hops))
		}
		return n.Reply(msg, map[string]any{"type": "get_ok", "value": v, "hops": hops})
	})
	return nil
}

// opError turns a Core error into a reply: "not a member" is definite
// (nothing was done), anything else may have reached some replicas.
func opError(err error) error {
	if errors.Is(err, ErrNotMember) {
		return node.NewRPCError(node.TemporarilyUnavailable, "this node is not in the ring")
	}
	return node.NewRPCError(node.Timeout, err.Error())
}
