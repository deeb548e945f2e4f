// Package sharder is the reference solution of the sharder track: a
// key-value store split into shards, each served by one of several Raft
// groups, with a shard controller (itself a Raft group) that says which
// group owns which shard. The sharded-kv workload grades it.
//
// The cluster's nodes are cut into groups of --group-size in init's order:
// the first group is the controller, the others are replica groups with
// gids 1, 2, ... Each group runs its own Raft (internal/raftnode, peers
// limited to the group). The controller replicates the list of
// configurations (ctrler.go); join, leave and move each add one, balanced
// with the fewest moves (config.go). Each replica group replicates its
// shards, each one a store state machine from the store track
// (group.go).
//
// Any node takes any request and routes it by the newest configuration it
// knows: to its own group's log, or to a node of the owning group. A
// group's leader polls the controller and puts the next configuration in
// its log; a shard that leaves is frozen there (handoff) and a shard that
// arrives is pulled from the old owner, installed through the log, and
// then deleted at the old owner. Whether a request may touch a shard is
// decided when its entry is applied, against the configuration the log has
// reached: that is the fence that keeps two groups from both accepting
// writes for one shard.
//
// tracks/sharder/stages.tsv says how each stage is graded and README.md is
// the lesson.
package sharder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
	"github.com/distsys-curriculum/distsys/tracks/store"
)

// Options configure a sharder node.
type Options struct {
	Raft raftnode.Config
	// GroupSize is the number of nodes in each Raft group.
	GroupSize int
	// Deadline bounds how long a node works on one client request; it
	// stays below the client timeout (1 s).
	Deadline time.Duration
	// Poll is how often a group leader asks the controller for the next
	// configuration and moves shards.
	Poll time.Duration
	// Unfenced is the counter-example (--fence=false): a group keeps
	// serving a shard it handed over.
	Unfenced bool
}

// DefaultOptions: raftnode.DefaultConfig, groups of 3, a 900 ms deadline,
// a poll every 100 ms, fenced migration.
func DefaultOptions() Options {
	return Options{Raft: raftnode.DefaultConfig(), GroupSize: 3, Deadline: 900 * time.Millisecond,
		Poll: 100 * time.Millisecond}
}

const usage = "usage: sharder [--group-size N] [--fence=false] [--poll D] [--deadline D] [--tick D] [--election-ticks E] [--heartbeat-ticks H] [--snapshot-every N]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("sharder")
	o.Raft.RegisterFlags(fs)
	fs.IntVar(&o.GroupSize, "group-size", o.GroupSize, "nodes per Raft group (the first group is the controller)")
	fence := fs.Bool("fence", true, "fence migrations by configuration number (false: the counter-example, old owners keep serving)")
	fs.DurationVar(&o.Poll, "poll", o.Poll, "how often group leaders poll the controller and move shards")
	fs.DurationVar(&o.Deadline, "deadline", o.Deadline, "how long a node works on one client request")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	if o.GroupSize < 1 || o.Poll <= 0 || o.Deadline <= 0 {
		return o, fmt.Errorf("sharder: --group-size, --poll and --deadline must be positive (%s)", usage)
	}
	o.Unfenced = !*fence
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

// Layout returns the groups of a cluster: ids cut into runs of size, in
// order. Group 0 is the controller; group g > 0 is replica group gid g.
func Layout(ids []string, size int) [][]string {
	var out [][]string
	for i := 0; i < len(ids); i += size {
		out = append(out, ids[i:min(i+size, len(ids))])
	}
	return out
}

// server is one node: a controller replica (gid 0) or a replica of group
// gid.
type server struct {
	n *node.Node
	o Options
	d *raftnode.Driver

	// Set at init, read-only afterwards.
	gid    int
	groups [][]string
	ctrl   *ctrler // controller nodes
	grp    *group  // replica group nodes

	mu     sync.Mutex
	latest Config      // newest configuration seen, for routing
	hint   map[int]int // per group: index of the server that answered last
}

// machine hands the driver whichever state machine init chose.
type machine struct{ s *server }

func (m machine) sm() raftnode.StateMachine {
	if m.s.ctrl != nil {
		return m.s.ctrl
	}
	return m.s.grp
}
func (m machine) Apply(i uint64, data []byte) any { return m.sm().Apply(i, data) }
func (m machine) Snapshot() ([]byte, error)       { return m.sm().Snapshot() }
func (m machine) Restore(data []byte) error       { return m.sm().Restore(data) }

// Setup serves read, write and cas (lin-kv's bodies) and the controller's
// join, leave, move and query on n.
func Setup(n *node.Node, o Options) {
	s := &server{n: n, o: o, latest: Config{Groups: map[int][]string{}}, hint: map[int]int{}}
	// Registered before the driver's hook, so the role is known when the
	// driver restores the state machine.
	n.OnInit(func() error {
		s.groups = Layout(n.NodeIDs(), o.GroupSize)
		for g, members := range s.groups {
			if slices.Contains(members, n.ID()) {
				s.gid = g
			}
		}
		if len(s.groups) < 2 {
			return fmt.Errorf("sharder: %d nodes make no replica group besides the controller (groups of %d)", len(n.NodeIDs()), o.GroupSize)
		}
		if s.gid == 0 {
			s.ctrl = newCtrler()
		} else {
			s.grp = newGroup(s.gid, o.Unfenced)
		}
		return nil
	})
	cfg := o.Raft
	cfg.Peers = func(self string, all []string) []string {
		for _, g := range Layout(all, o.GroupSize) {
			if slices.Contains(g, self) {
				return g
			}
		}
		return all
	}
	s.d = raftnode.New(n, cfg, machine{s})
	node.HandleTyped(n, "read", s.read)
	node.HandleTyped(n, "write", s.write)
	node.HandleTyped(n, "cas", s.cas)
	node.HandleTyped(n, "skv_op", s.handleForwardedKV)
	for _, t := range []string{"join", "leave", "move"} {
		node.HandleTyped(n, t, s.change)
	}
	node.HandleTyped(n, "query", s.query)
	node.HandleTyped(n, "ctrl_op", s.handleForwardedChange)
	node.HandleTyped(n, "shard_pull", s.handlePull)
	node.HandleTyped(n, "shard_delete", s.handleDelete)
	n.Every(o.Poll, s.tick)
}

// kvRequest is a client's read, write or cas; forwarded, it also carries
// the client and its request number, for de-duplication.
type kvRequest struct {
	Type   string          `json:"type"`
	MsgID  uint64          `json:"msg_id"`
	Key    json.RawMessage `json:"key"`
	Value  json.RawMessage `json:"value,omitempty"`
	From   json.RawMessage `json:"from,omitempty"`
	To     json.RawMessage `json:"to,omitempty"`
	Client string          `json:"client,omitempty"`
	Seq    uint64          `json:"seq,omitempty"`
}

type valueReply struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

func (s *server) read(msg node.Message, req kvRequest) (any, error) {
	return s.client(msg, req, "read", "read_ok")
}
func (s *server) write(msg node.Message, req kvRequest) (any, error) {
	return s.client(msg, req, "write", "write_ok")
}
func (s *server) cas(msg node.Message, req kvRequest) (any, error) {
	return s.client(msg, req, "cas", "cas_ok")
}

func (s *server) client(msg node.Message, req kvRequest, op, okType string) (any, error) {
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	c := store.Command{Client: msg.Src, Seq: req.MsgID, Op: op, Key: store.Canonical(req.Key),
		Value: req.Value, From: req.From, To: req.To}
	v, err := s.route(ctx, c)
	if err != nil {
		return nil, err
	}
	if op == "read" {
		return valueReply{Type: okType, Value: v}, nil
	}
	return node.MessageBody{Type: okType}, nil
}

// wrongGroupText starts the text of a refusal by a group that does not
// serve the shard at that point of its log (error 11): certainly not
// applied, so the request may go elsewhere.
const wrongGroupText = "wrong group"

func isWrongGroup(err error) bool {
	var rpc *node.RPCError
	return errors.As(err, &rpc) && rpc.Code == node.TemporarilyUnavailable && strings.HasPrefix(rpc.Text, wrongGroupText)
}

// route carries a request to the group that owns its shard, retrying with
// fresher configurations until ctx ends.
func (s *server) route(ctx context.Context, c store.Command) (json.RawMessage, error) {
	shard := ShardOf(c.Key)
	maybe := false // an attempt may have been applied
	var last error
	for attempt := 0; ; attempt++ {
		cfg := s.routes()
		gid := cfg.Shards[shard]
		var v json.RawMessage
		var err error
		switch {
		case gid == 0:
			err = node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("shard %d has no group in configuration %d", shard, cfg.Num))
		case gid == s.gid:
			v, err = s.local(ctx, c)
		default:
			v, err = s.forward(ctx, gid, cfg.Groups[gid], c)
		}
		if err == nil {
			return v, nil
		}
		last = err
		var rpc *node.RPCError
		if errors.As(err, &rpc) && (rpc.Code == node.KeyDoesNotExist || rpc.Code == node.PreconditionFailed || rpc.Code == node.Abort) {
			return nil, err // the owner answered
		}
		if !errors.As(err, &rpc) || !node.IsDefinite(rpc.Code) {
			maybe = true
		}
		if isWrongGroup(err) || gid == 0 {
			s.refresh(ctx)
		}
		if pause(ctx, 20*time.Millisecond) {
			continue
		}
		if maybe && c.Op != "read" {
			return nil, node.NewRPCError(node.Timeout, fmt.Sprintf("not confirmed in time (last attempt: %v); it may still be applied", last))
		}
		return nil, last
	}
}

// local runs a request in this node's own group.
func (s *server) local(ctx context.Context, c store.Command) (json.RawMessage, error) {
	if s.grp == nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, wrongGroupText+": a controller node holds no shards")
	}
	if c.Op == "read" {
		// The function runs once the group has applied the read index, so
		// both the value and the ownership are as of a linearizable point.
		raw, err := s.d.Read(ctx, func() any {
			v, ok := s.grp.get(c.Key)
			return readResult{Value: v, Wrong: !ok}
		})
		if err != nil {
			return nil, raftnode.RPCError(err)
		}
		var res readResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, fmt.Errorf("decode read %s: %w", raw, err)
		}
		if res.Wrong {
			return nil, node.NewRPCError(node.TemporarilyUnavailable, wrongGroupText)
		}
		return res.Value, nil
	}
	kc, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(groupCommand{Op: "kv", KV: kc})
	if err != nil {
		return nil, err
	}
	return nil, raftnode.SubmitFor(ctx, s.d, data, &store.Outcome{})
}

type readResult struct {
	Value json.RawMessage `json:"value,omitempty"`
	Wrong bool            `json:"wrong,omitempty"`
}

// forward sends a request to a node of group gid, starting from the one
// that answered last.
func (s *server) forward(ctx context.Context, gid int, servers []string, c store.Command) (json.RawMessage, error) {
	if len(servers) == 0 {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("group %d has no servers", gid))
	}
	s.mu.Lock()
	i := s.hint[gid] % len(servers)
	s.mu.Unlock()
	dest := servers[i]
	fctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel()
	resp, err := node.Call[valueReply](fctx, s.n, dest, forwardedKV{Type: "skv_op", Command: c})
	if err != nil {
		s.mu.Lock()
		s.hint[gid] = i + 1 // try the next one
		s.mu.Unlock()
		var rpc *node.RPCError
		if errors.As(err, &rpc) {
			return nil, rpc
		}
		return nil, node.NewRPCError(node.Timeout, fmt.Sprintf("forward to %s: %v", dest, err))
	}
	return resp.Value, nil
}

// forwardedKV is a request one node hands to a node of the owning group.
type forwardedKV struct {
	Type    string        `json:"type"`
	Command store.Command `json:"command"`
}

func (s *server) handleForwardedKV(_ node.Message, req forwardedKV) (any, error) {
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	v, err := s.local(ctx, req.Command)
	if err != nil {
		return nil, err
	}
	return valueReply{Type: "skv_op_ok", Value: v}, nil
}

// routes is the newest configuration this node knows: its group's own,
// the controller's latest (on a controller node) or the last it fetched.
func (s *server) routes() Config {
	var own Config
	s.d.View(func() {
		switch {
		case s.grp != nil:
			own = s.grp.Cur
		case s.ctrl != nil:
			own = s.ctrl.latest()
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if own.Num > s.latest.Num {
		s.latest = own
	}
	return s.latest
}

// refresh asks the controller for its latest configuration.
func (s *server) refresh(ctx context.Context) {
	if cfg, err := s.fetch(ctx, -1); err == nil {
		s.mu.Lock()
		if cfg.Num > s.latest.Num {
			s.latest = cfg
		}
		s.mu.Unlock()
	}
}

type queryRequest struct {
	Type string `json:"type"`
	Num  *int   `json:"num"`
}

type queryReply struct {
	Type   string `json:"type"`
	Config Config `json:"config"`
}

// fetch returns configuration num (-1: the latest) from the controller:
// from this node's own replica if it is one, else from a controller node.
func (s *server) fetch(ctx context.Context, num int) (Config, error) {
	if s.ctrl != nil {
		raw, err := s.d.Read(ctx, func() any { return s.ctrl.query(num) })
		if err != nil {
			return Config{}, raftnode.RPCError(err)
		}
		var cfg Config
		err = json.Unmarshal(raw, &cfg)
		return cfg, err
	}
	var last error
	for range len(s.groups[0]) {
		s.mu.Lock()
		i := s.hint[0] % len(s.groups[0])
		s.mu.Unlock()
		qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		resp, err := node.Call[queryReply](qctx, s.n, s.groups[0][i], queryRequest{Type: "query", Num: &num})
		cancel()
		if err == nil {
			return resp.Config, nil
		}
		last = err
		s.mu.Lock()
		s.hint[0] = i + 1
		s.mu.Unlock()
		// A dead node refuses at once: pause, so that a retry loop waits
		// for time to pass rather than spinning.
		if !pause(ctx, 20*time.Millisecond) {
			break
		}
	}
	return Config{}, last
}

// query is the controller's Query: configuration num, or the latest for
// -1 or a number past the latest.
func (s *server) query(_ node.Message, req queryRequest) (any, error) {
	num := -1
	if req.Num != nil {
		num = *req.Num
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	if s.ctrl == nil {
		// A replica node asks a controller node on the client's behalf.
		for ctx.Err() == nil {
			if cfg, err := s.fetch(ctx, num); err == nil {
				return queryReply{Type: "query_ok", Config: cfg}, nil
			}
		}
		return nil, node.NewRPCError(node.Timeout, "no controller node answered in time")
	}
	cfg, err := s.fetch(ctx, num)
	if err != nil {
		return nil, err
	}
	return queryReply{Type: "query_ok", Config: cfg}, nil
}

// changeRequest is a join, leave or move, as a client sends it.
type changeRequest struct {
	Type   string              `json:"type"`
	MsgID  uint64              `json:"msg_id"`
	Groups map[string][]string `json:"groups"`
	GIDs   []int               `json:"gids"`
	Shard  *int                `json:"shard"`
	GID    *int                `json:"gid"`
}

func (s *server) change(msg node.Message, req changeRequest) (any, error) {
	cmd := ctrlCommand{Client: msg.Src, Seq: req.MsgID, Op: req.Type}
	switch req.Type {
	case "join":
		cmd.Groups = map[int][]string{}
		for k, v := range req.Groups {
			var g int
			if _, err := fmt.Sscan(k, &g); err != nil {
				return nil, node.NewRPCError(node.MalformedRequest, fmt.Sprintf("join: gid %q is not an integer", k))
			}
			cmd.Groups[g] = v
		}
	case "leave":
		cmd.GIDs = req.GIDs
	case "move":
		if req.Shard == nil || req.GID == nil {
			return nil, node.NewRPCError(node.MalformedRequest, "move needs shard and gid")
		}
		cmd.Shard, cmd.GID = *req.Shard, *req.GID
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	if err := s.submitChange(ctx, cmd); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: req.Type + "_ok"}, nil
}

type forwardedChange struct {
	Type    string      `json:"type"`
	Command ctrlCommand `json:"command"`
}

func (s *server) handleForwardedChange(_ node.Message, req forwardedChange) (any, error) {
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	if err := s.submitChange(ctx, req.Command); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "ctrl_op_ok"}, nil
}

// submitChange puts a change in the controller's log, through a
// controller node if this is not one.
func (s *server) submitChange(ctx context.Context, cmd ctrlCommand) error {
	if s.ctrl == nil {
		var last error = node.NewRPCError(node.Timeout, "no controller node answered in time")
		for ctx.Err() == nil {
			s.mu.Lock()
			i := s.hint[0] % len(s.groups[0])
			s.mu.Unlock()
			fctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
			_, err := node.Call[node.MessageBody](fctx, s.n, s.groups[0][i], forwardedChange{Type: "ctrl_op", Command: cmd})
			cancel()
			if err == nil {
				return nil
			}
			var rpc *node.RPCError
			if errors.As(err, &rpc) && (rpc.Code == node.PreconditionFailed || rpc.Code == node.MalformedRequest) {
				return err
			}
			last = err
			s.mu.Lock()
			s.hint[0] = i + 1
			s.mu.Unlock()
			pause(ctx, 20*time.Millisecond)
		}
		// An attempt may have reached the controller's log.
		return node.NewRPCError(node.Timeout, fmt.Sprintf("not confirmed in time (last attempt: %v); it may still be applied", last))
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	return raftnode.SubmitFor(ctx, s.d, data, &store.Outcome{})
}

// shardRequest asks a group for a shard it hands off in configuration
// Num (shard_pull), or to delete it (shard_delete).
type shardRequest struct {
	Type  string `json:"type"`
	Num   int    `json:"num"`
	Shard int    `json:"shard"`
}

type pullReply struct {
	Type  string `json:"type"`
	Shard *shard `json:"shard_data"`
}

type pullResult struct {
	Shard *shard `json:"shard_data,omitempty"`
	Code  int    `json:"code,omitempty"`
	Text  string `json:"text,omitempty"`
}

func (s *server) handlePull(_ node.Message, req shardRequest) (any, error) {
	if s.grp == nil {
		return nil, node.NewRPCError(node.NotSupported, "a controller node holds no shards")
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	raw, err := s.d.Read(ctx, func() any {
		sh, err := s.grp.pullable(req.Shard, req.Num)
		if err != nil {
			var rpc *node.RPCError
			if errors.As(err, &rpc) {
				return pullResult{Code: rpc.Code, Text: rpc.Text}
			}
			return pullResult{Code: node.Crash, Text: err.Error()}
		}
		return pullResult{Shard: sh}
	})
	if err != nil {
		return nil, raftnode.RPCError(err)
	}
	var res pullResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return nil, node.NewRPCError(res.Code, res.Text)
	}
	return pullReply{Type: "shard_pull_ok", Shard: res.Shard}, nil
}

func (s *server) handleDelete(_ node.Message, req shardRequest) (any, error) {
	if s.grp == nil {
		return nil, node.NewRPCError(node.NotSupported, "a controller node holds no shards")
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	if err := s.propose(ctx, groupCommand{Op: "delete", Num: req.Num, ShardID: req.Shard}); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "shard_delete_ok"}, nil
}

// propose puts a group command in this group's log and waits for it.
// Configuration, install, delete and gcdone entries are idempotent, so a
// retry that lands twice does no harm.
func (s *server) propose(ctx context.Context, c groupCommand) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := s.d.Submit(ctx, data); err != nil {
		return raftnode.RPCError(err)
	}
	return nil
}

// tick is a replica group leader's periodic work: take the next
// configuration once settled, pull the shards it is waiting for, and have
// old owners delete the shards it installed.
func (s *server) tick(ctx context.Context) {
	if s.grp == nil || s.d.Status().Role != raft.Leader {
		return
	}
	var cur, prev Config
	var settled bool
	var pulls, gcs []int
	s.d.View(func() {
		cur, prev, settled = s.grp.Cur, s.grp.Prev, s.grp.settled()
		for id, sh := range s.grp.Shards {
			switch sh.Status {
			case pulling:
				pulls = append(pulls, id)
			case gc:
				gcs = append(gcs, id)
			}
		}
	})
	ctx, cancel := context.WithTimeout(ctx, 2*s.o.Deadline)
	defer cancel()
	if settled {
		next, err := s.fetch(ctx, cur.Num+1)
		if err == nil && next.Num == cur.Num+1 {
			_ = s.propose(ctx, groupCommand{Op: "config", Config: &next})
		}
		return
	}
	var wg sync.WaitGroup
	for _, id := range pulls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, dest := range prev.Groups[prev.Shards[id]] {
				pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
				resp, err := node.Call[pullReply](pctx, s.n, dest, shardRequest{Type: "shard_pull", Num: cur.Num, Shard: id})
				pcancel()
				if err == nil && resp.Shard != nil {
					_ = s.propose(ctx, groupCommand{Op: "install", Num: cur.Num, ShardID: id, ShardData: resp.Shard})
					return
				}
				pause(ctx, 10*time.Millisecond)
			}
		}()
	}
	for _, id := range gcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, dest := range prev.Groups[prev.Shards[id]] {
				pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
				_, err := node.Call[node.MessageBody](pctx, s.n, dest, shardRequest{Type: "shard_delete", Num: cur.Num, Shard: id})
				pcancel()
				if err == nil {
					_ = s.propose(ctx, groupCommand{Op: "gcdone", Num: cur.Num, ShardID: id})
					return
				}
				pause(ctx, 10*time.Millisecond)
			}
		}()
	}
	wg.Wait()
}

// pause waits d or until ctx ends; it reports whether ctx is still live.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
