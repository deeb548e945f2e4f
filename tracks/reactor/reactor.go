// Package reactor is the reference solution of the reactor track: an
// event store for bank accounts, replicated on Raft, graded by our
// eventstore workload.
//
// The write side: every append becomes one entry of the Raft log
// (internal/raftnode, durable through internal/wal in the node's data
// directory). Applying it checks each stream's expected version and
// stores all of its events or none (package eventstore), so every replica
// holds the same streams, versions and global positions. Commands carry
// their client's id and request number, so an append that reaches the log
// twice (Submit retries) is applied once.
//
// The read side: loads and reads by stream or position are answered from
// the node's own replica, however far behind (a stale load only makes the
// next append a conflict); as-of queries wait for a ReadIndex, so they
// reflect every acknowledged append; the read model of balances (package
// projection) follows the log through a catch-up subscription whose
// checkpoint is saved in the data directory, and answers as stale as it
// is.
//
// tracks/reactor/stages.tsv says how each stage is graded and README.md is
// the lesson.
package reactor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
	"github.com/distsys-curriculum/distsys/tracks/reactor/account"
	"github.com/distsys-curriculum/distsys/tracks/reactor/eventstore"
	"github.com/distsys-curriculum/distsys/tracks/reactor/projection"
)

// Options configure a reactor node.
type Options struct {
	Raft raftnode.Config
	// IgnoreExpected is the counter-example (--expected-version ignore):
	// appends go at the end of each stream whatever version the writer
	// expected.
	IgnoreExpected bool
	// SnapshotEvery keeps an aggregate snapshot every this many versions
	// of a stream.
	SnapshotEvery int
	// ProjectEvery is how often the read model catches up.
	ProjectEvery time.Duration
	// CheckpointEvery is how often the read model and its checkpoint are
	// saved (with a data directory).
	CheckpointEvery time.Duration
	// Deadline bounds how long a node works on one client request; it
	// stays below the workload's client timeout (2 s).
	Deadline time.Duration
}

// DefaultOptions: Raft's DefaultConfig, expected versions checked, an
// aggregate snapshot every 16 versions, a catch-up every 50 ms and a
// checkpoint every second.
func DefaultOptions() Options {
	return Options{Raft: raftnode.DefaultConfig(), SnapshotEvery: 16, ProjectEvery: 50 * time.Millisecond,
		CheckpointEvery: time.Second, Deadline: 900 * time.Millisecond}
}

const usage = "usage: reactor [--expected-version check|ignore] [--aggregate-snapshot N] [--project-every D] [--checkpoint-every D] [--tick D] [--election-ticks E] [--heartbeat-ticks H] [--snapshot-every N]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("reactor")
	o.Raft.RegisterFlags(fs)
	expected := fs.String("expected-version", "check", "check (refuse an append whose expected version is stale) or ignore (counter-example: lost updates)")
	fs.IntVar(&o.SnapshotEvery, "aggregate-snapshot", o.SnapshotEvery, "keep an aggregate snapshot every N versions of a stream")
	fs.DurationVar(&o.ProjectEvery, "project-every", o.ProjectEvery, "how often the read model catches up with the log")
	fs.DurationVar(&o.CheckpointEvery, "checkpoint-every", o.CheckpointEvery, "how often the read model saves its checkpoint")
	fs.DurationVar(&o.Deadline, "deadline", o.Deadline, "how long a node works on one client request")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch *expected {
	case "check":
	case "ignore":
		o.IgnoreExpected = true
	default:
		return o, fmt.Errorf("reactor: --expected-version %q: want check or ignore", *expected)
	}
	if o.SnapshotEvery < 1 || o.ProjectEvery <= 0 || o.CheckpointEvery <= 0 {
		return o, fmt.Errorf("reactor: --aggregate-snapshot, --project-every and --checkpoint-every must be positive (%s)", usage)
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

// checkpointFile is the read model's file in the data directory.
const checkpointFile = "read-model.json"

// Setup serves the eventstore workload on n.
func Setup(n *node.Node, o Options) *raftnode.Driver {
	m := newMachine(o)
	d := raftnode.New(n, o.Raft, m)
	s := &server{n: n, d: d, m: m, o: o, model: projection.New()}
	n.OnInit(s.loadCheckpoint)
	node.HandleTyped(n, "append", s.append)
	node.HandleTyped(n, "load", s.load)
	node.HandleTyped(n, "read_stream", s.readStream)
	node.HandleTyped(n, "read_all", s.readAll)
	node.HandleTyped(n, "as_of", s.asOf)
	node.HandleTyped(n, "read_model", s.readModel)
	n.Every(o.ProjectEvery, s.project)
	return d
}

type server struct {
	n *node.Node
	d *raftnode.Driver
	m *machine
	o Options

	// mu guards the read model. Lock order: mu, then the driver's lock
	// (View), never the reverse.
	mu        sync.Mutex
	model     *projection.Balances
	saved     int64 // the checkpoint last saved
	lastSave  time.Time
	saveError bool
}

// maxRead bounds one read's max: a reply with fewer events than asked
// means "no more", so a larger max is refused rather than cut short.
const maxRead = 1000

type request struct {
	MsgID   uint64             `json:"msg_id"`
	Writes  []eventstore.Write `json:"writes"`
	Stream  string             `json:"stream"`
	From    int64              `json:"from"`
	Max     int                `json:"max"`
	Version *int64             `json:"version"`
	Time    *int64             `json:"time"`
}

func malformed(text string) error { return node.NewRPCError(node.MalformedRequest, text) }

func (s *server) append(msg node.Message, req request) (any, error) {
	if len(req.Writes) == 0 {
		return nil, malformed("append needs writes")
	}
	for _, w := range req.Writes {
		if w.Stream == "" || len(w.Events) == 0 || w.Expected < 0 {
			return nil, malformed("each write needs a stream, an expected_version >= 0 and events")
		}
	}
	data, err := json.Marshal(command{Client: msg.Src, Seq: req.MsgID, Writes: req.Writes})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	var res outcome
	if err := raftnode.SubmitFor(ctx, s.d, data, &res); err != nil {
		return nil, err
	}
	return struct {
		Type     string  `json:"type"`
		Versions []int64 `json:"versions"`
		Position int64   `json:"position"`
	}{"append_ok", res.Versions, res.Position}, nil
}

type stateReply struct {
	Type    string        `json:"type"`
	Version int64         `json:"version"`
	State   account.State `json:"state"`
}

// load answers from this replica: the aggregate at its current version,
// from the nearest snapshot.
func (s *server) load(_ node.Message, req request) (any, error) {
	if req.Stream == "" {
		return nil, malformed("load needs a stream")
	}
	r := stateReply{Type: "load_ok"}
	s.d.View(func() {
		r.Version = s.m.store.Version(req.Stream)
		r.State, _ = s.m.snaps.State(s.m.store, req.Stream, r.Version)
	})
	return r, nil
}

type eventsReply struct {
	Type   string              `json:"type"`
	Events []eventstore.Record `json:"events"`
}

func (s *server) readStream(_ node.Message, req request) (any, error) {
	if req.Stream == "" || req.Max <= 0 || req.Max > maxRead {
		return nil, malformed(fmt.Sprintf("read_stream needs a stream and a max from 1 to %d", maxRead))
	}
	r := eventsReply{Type: "read_stream_ok"}
	s.d.View(func() { r.Events = s.m.store.ReadStream(req.Stream, req.From, req.Max) })
	return r, nil
}

func (s *server) readAll(_ node.Message, req request) (any, error) {
	if req.Max <= 0 || req.Max > maxRead {
		return nil, malformed(fmt.Sprintf("read_all needs a max from 1 to %d", maxRead))
	}
	r := eventsReply{Type: "read_all_ok"}
	s.d.View(func() { r.Events = s.m.store.ReadAll(req.From, req.Max) })
	return r, nil
}

// asOf waits for a ReadIndex, so that the answer reflects every append
// acknowledged before the query, then folds the stream's prefix.
func (s *server) asOf(_ node.Message, req request) (any, error) {
	if req.Stream == "" || (req.Version == nil) == (req.Time == nil) {
		return nil, malformed("as_of needs a stream and either a version or a time")
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	raw, err := s.d.Read(ctx, func() any {
		a := asOfResult{}
		cur := s.m.store.Version(req.Stream)
		if req.Version != nil {
			if *req.Version < 0 || *req.Version > cur {
				a.Version, a.Missing = cur, true
				return a
			}
			a.Version = *req.Version
		} else {
			a.Version = s.m.store.VersionAt(req.Stream, *req.Time)
		}
		a.State, _ = s.m.snaps.State(s.m.store, req.Stream, a.Version)
		return a
	})
	if err != nil {
		return nil, raftnode.RPCError(err)
	}
	var a asOfResult
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	if a.Missing {
		return nil, node.NewRPCError(node.KeyDoesNotExist, fmt.Sprintf("stream %s has %d events, no version %d", req.Stream, a.Version, *req.Version))
	}
	return stateReply{Type: "as_of_ok", Version: a.Version, State: a.State}, nil
}

type asOfResult struct {
	Version int64         `json:"version"`
	State   account.State `json:"state"`
	Missing bool          `json:"missing,omitempty"` // the asked version does not exist (Version is the stream's)
}

func (s *server) readModel(node.Message, struct{}) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return struct {
		Type     string           `json:"type"`
		Position int64            `json:"position"`
		Balances map[string]int64 `json:"balances"`
	}{"read_model_ok", s.model.Position, s.model.View()}, nil
}

// project is the catch-up subscription: apply what the replica has
// applied since the checkpoint, and save the checkpoint now and then.
func (s *server) project(context.Context) {
	s.mu.Lock()
	_, err := s.model.CatchUp(func(from int64, max int) []eventstore.Record {
		var out []eventstore.Record
		s.d.View(func() { out = s.m.store.ReadAll(from, max) })
		return out
	}, maxRead)
	if err != nil {
		s.n.Logger().Error("read model", "err", err)
	}
	var snap *projection.Balances
	dir := s.n.DataDir()
	if dir != "" && s.model.Position != s.saved && time.Since(s.lastSave) >= s.o.CheckpointEvery {
		snap, s.saved, s.lastSave = s.model.Clone(), s.model.Position, time.Now()
	}
	s.mu.Unlock()
	if snap != nil {
		if err := snap.Save(s.n.Storage(), filepath.Join(dir, checkpointFile)); err != nil && !s.saveError {
			s.saveError = true
			s.n.Logger().Error("saving the read model's checkpoint", "err", err)
		}
	}
}

// loadCheckpoint resumes the read model from its saved checkpoint.
func (s *server) loadCheckpoint() error {
	dir := s.n.DataDir()
	if dir == "" {
		return nil
	}
	b, err := projection.Load(s.n.Storage(), filepath.Join(dir, checkpointFile))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.model, s.saved = b, b.Position
	s.mu.Unlock()
	return nil
}

// command is one log entry: a client's append, with the client's id and
// request number for de-duplication.
type command struct {
	Client string             `json:"client"`
	Seq    uint64             `json:"seq"`
	Writes []eventstore.Write `json:"writes"`
}

// outcome is an append's result: code 0 for success, else a Maelstrom
// error code (22 for a conflict).
type outcome struct {
	Versions []int64 `json:"versions,omitempty"`
	Position int64   `json:"position,omitempty"`
	Code     int     `json:"code,omitempty"`
	Text     string  `json:"text,omitempty"`
	Stale    bool    `json:"stale,omitempty"`
}

func (o *outcome) Failure() error { return raftnode.Failure(o.Code, o.Text, o.Stale) }

// machine is the replicated state machine: the store, the aggregate
// snapshots derived from it and the session table. The driver calls it
// with its lock held.
type machine struct {
	store    *eventstore.Store
	snaps    *eventstore.Snapshots[account.State]
	sessions raftnode.Sessions
}

func newMachine(o Options) *machine {
	st := eventstore.New()
	st.IgnoreExpected = o.IgnoreExpected
	return &machine{store: st, snaps: eventstore.NewSnapshots(o.SnapshotEvery, account.Fold)}
}

func (m *machine) Apply(_ uint64, data []byte) any {
	var c command
	if err := json.Unmarshal(data, &c); err != nil {
		return outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
	}
	return m.sessions.Apply(c.Client, c.Seq, func() any {
		before := m.store.End()
		versions, pos, err := m.store.Append(c.Writes)
		var conflict *eventstore.ConflictError
		switch {
		case errors.As(err, &conflict):
			return outcome{Code: node.PreconditionFailed, Text: err.Error()}
		case err != nil:
			return outcome{Code: node.MalformedRequest, Text: err.Error()}
		}
		for _, r := range m.store.ReadAll(before+1, int(pos-before)) {
			m.snaps.Observe(r)
		}
		return outcome{Versions: versions, Position: pos}
	})
}

type machineState struct {
	Store    *eventstore.Store `json:"store"`
	Sessions raftnode.Sessions `json:"sessions"`
}

func (m *machine) Snapshot() ([]byte, error) {
	return json.Marshal(machineState{Store: m.store, Sessions: m.sessions})
}

func (m *machine) Restore(data []byte) error {
	st := eventstore.New()
	st.IgnoreExpected = m.store.IgnoreExpected
	v := machineState{Store: st}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	m.store, m.sessions = v.Store, v.Sessions
	m.snaps.Reset()
	for _, r := range m.store.ReadAll(1, int(m.store.End())) {
		m.snaps.Observe(r)
	}
	return nil
}
