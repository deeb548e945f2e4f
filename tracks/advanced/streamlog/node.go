package streamlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/tracks/logger"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer/stream"
	"github.com/distsys-curriculum/distsys/tracks/queues"
)

// Options are the system's flags.
type Options struct {
	// Commit: "atomic" (state and consumer offset in one compare-and-set)
	// or "offsets-first" (the counter-example: the consumer offset is
	// committed as Kafka consumers do, before the output, and the state
	// is checkpointed on its own every CheckpointEvery).
	Commit          string
	CheckpointEvery time.Duration
}

const usage = "usage: advanced --system stream-log [--commit atomic|offsets-first] [--checkpoint-interval D]"

// ParseArgs reads the system's arguments.
func ParseArgs(args []string) (Options, error) {
	o := Options{Commit: "atomic", CheckpointEvery: time.Second}
	fs := nodeflags.New("stream-log")
	fs.StringVar(&o.Commit, "commit", o.Commit, "atomic (state and consumer offset in one compare-and-set) or offsets-first (counter-example: offset committed before the output, state checkpointed apart)")
	fs.DurationVar(&o.CheckpointEvery, "checkpoint-interval", o.CheckpointEvery, "with --commit offsets-first: how often the state is checkpointed")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	if o.Commit != "atomic" && o.Commit != "offsets-first" {
		return o, fmt.Errorf("stream-log: --commit %q: want atomic or offsets-first", o.Commit)
	}
	if o.CheckpointEvery <= 0 {
		return o, fmt.Errorf("stream-log: --checkpoint-interval must be positive")
	}
	return o, nil
}

const (
	inputKey      = "stream-input"      // the replicated log's key holding the frames
	checkpointKey = "stream/checkpoint" // lin-kv: the processor's committed checkpoint
	stepEvery     = 20 * time.Millisecond
	waitEvery     = 25 * time.Millisecond
	deadline      = 900 * time.Millisecond
	readMax       = 4096
)

// Checkpoint is what the processor commits: the consumer offset (the
// input key's offset after the last frame consumed), the last batch
// processed and the processor's state, in one lin-kv value.
type Checkpoint struct {
	Offset int64           `json:"offset"`
	Seq    int64           `json:"seq"`
	State  json.RawMessage `json:"state"`
}

// Configure sets up a node of the stream-log system.
func Configure(n *node.Node, args []string) error {
	o, err := ParseArgs(args)
	if err != nil {
		return err
	}
	lo, err := logger.ParseArgs(nil)
	if err != nil {
		return err
	}
	s := &system{n: n, o: o, log: logger.SetupReplicated(n, lo), kv: node.NewKV(n, node.LinKV)}
	node.HandleTyped(n, "stream_config", s.configure)
	node.HandleTyped(n, "events", s.events)
	n.Every(stepEvery, s.step)
	n.Every(5*time.Second, func(context.Context) {
		s.mu.Lock()
		defer s.mu.Unlock()
		n.Logger().Info("stream-log stats", "frames", s.stats.frames, "duplicates_skipped", s.stats.dups,
			"torn_skipped", s.stats.torn, "replays", s.stats.replays, "commits", s.stats.commits)
	})
	return nil
}

type system struct {
	n   *node.Node
	o   Options
	log *logger.Replicated
	kv  *node.KV

	// The processor, on the input key's leader; step runs alone (Every).
	mu       sync.Mutex
	loaded   bool
	proc     *stream.Processor
	pos, seq int64  // consumer offset, last batch processed
	raw      string // the checkpoint as committed (the compare-and-set's from)
	lastCkpt time.Time
	stats    struct{ frames, dups, torn, replays, commits int64 }
}

// configure creates the first checkpoint: an empty processor at offset 0.
func (s *system) configure(_ node.Message, c stream.Config) (any, error) {
	p, err := stream.New(c)
	if err != nil {
		return nil, node.NewRPCError(node.MalformedRequest, err.Error())
	}
	state, err := p.Snapshot()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(Checkpoint{State: state})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), deadline)
	defer cancel()
	err = s.kv.CompareAndSwap(ctx, checkpointKey, nil, string(b), true)
	if node.ErrorCode(err) == node.PreconditionFailed {
		// Configured already (another node, or a retry): the same windows
		// are fine, others would change the meaning of the stored state.
		var raw string
		if err = s.kv.ReadInto(ctx, checkpointKey, &raw); err == nil {
			var ck Checkpoint
			var cur *stream.Processor
			if err = json.Unmarshal([]byte(raw), &ck); err == nil {
				if cur, err = stream.Restore(ck.State); err == nil && cur.Config() != c {
					return nil, node.NewRPCError(node.PreconditionFailed, fmt.Sprintf("already configured with %+v", cur.Config()))
				}
			}
		}
	}
	if err != nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "stream_config: "+err.Error())
	}
	return map[string]any{"type": "stream_config_ok"}, nil
}

// events appends the batch to the replicated log and acknowledges it once
// the processor's committed offset has passed it. A redelivered batch is
// appended again; the processor skips the copy (its seq is processed).
func (s *system) events(_ node.Message, b Batch) (any, error) {
	ctx, cancel := context.WithTimeout(s.n.Context(), deadline)
	defer cancel()
	if b.Events == nil {
		b.Events = []stream.Event{}
	}
	msgs, err := Encode(b)
	if err != nil {
		return nil, node.NewRPCError(node.MalformedRequest, err.Error())
	}
	off, err := s.log.Append(inputKey, msgs)
	if err != nil {
		return nil, err
	}
	end := off + int64(len(msgs))
	for {
		pos, err := s.committed(ctx)
		if err == nil && pos >= end {
			return map[string]any{"type": "events_ok"}, nil
		}
		select {
		case <-ctx.Done():
			return nil, node.NewRPCError(node.Timeout, fmt.Sprintf("batch %d is in the log (offsets %d-%d) but not yet processed", b.Seq, off, end-1))
		case <-time.After(waitEvery):
		}
	}
}

// committed is the consumer offset as committed.
func (s *system) committed(ctx context.Context) (int64, error) {
	if s.o.Commit == "offsets-first" {
		offs, err := (queues.KVOffsets{KV: s.kv}).Committed(ctx, []string{inputKey})
		return offs[inputKey], err
	}
	var raw string
	if err := s.kv.ReadInto(ctx, checkpointKey, &raw); err != nil {
		return 0, err
	}
	var ck Checkpoint
	err := json.Unmarshal([]byte(raw), &ck)
	return ck.Offset, err
}

// load restores the processor from the committed checkpoint (s.mu held).
func (s *system) load(ctx context.Context) error {
	var raw string
	if err := s.kv.ReadInto(ctx, checkpointKey, &raw); err != nil {
		return err
	}
	var ck Checkpoint
	if err := json.Unmarshal([]byte(raw), &ck); err != nil {
		return fmt.Errorf("stream-log: checkpoint: %w", err)
	}
	p, err := stream.Restore(ck.State)
	if err != nil {
		return err
	}
	pos := ck.Offset
	if s.o.Commit == "offsets-first" {
		// The consumer resumes where its committed offset says, ahead of
		// the state it restores: what lies between is never counted.
		offs, err := (queues.KVOffsets{KV: s.kv}).Committed(ctx, []string{inputKey})
		if err != nil {
			return err
		}
		pos = max(pos, offs[inputKey])
	}
	s.proc, s.pos, s.seq, s.raw, s.loaded = p, pos, ck.Seq, raw, true
	s.lastCkpt = time.Now()
	s.stats.replays++
	return nil
}

// step runs the processor where this node leads the input key: it reads
// the committed frames past its offset, processes the new batches, writes
// the changed counts to the sink and commits.
func (s *system) step(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.log.Leading(inputKey) {
		s.loaded = false
		return
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	if !s.loaded {
		if err := s.load(ctx); err != nil {
			if node.ErrorCode(err) != node.KeyDoesNotExist {
				s.n.Logger().Warn("stream-log: cannot load the checkpoint", "err", err)
			}
			return
		}
	}
	msgs, err := s.log.Read(inputKey, s.pos, readMax)
	if err != nil {
		return
	}
	d := Decode(msgs)
	if d.Used == 0 {
		return
	}
	s.stats.torn += int64(d.Torn)
	var rs []stream.Result
	seq := s.seq
	for _, b := range d.Batches {
		s.stats.frames++
		if b.Seq <= seq {
			s.stats.dups++
			continue
		}
		for _, e := range b.Events {
			s.proc.Add(e.Word, e.Time)
		}
		if b.End {
			rs = append(rs, s.proc.Flush()...)
		} else {
			rs = append(rs, s.proc.Advance()...)
		}
		seq = b.Seq
	}
	pos := s.pos + int64(d.Used)
	if err := s.commit(ctx, pos, seq, rs); err != nil {
		// Start over from what is committed: the state has moved past it.
		s.loaded = false
		s.n.Logger().Warn("stream-log: commit failed", "err", err)
		return
	}
	s.pos, s.seq = pos, seq
}

// commit makes the step's work durable (s.mu held).
func (s *system) commit(ctx context.Context, pos, seq int64, rs []stream.Result) error {
	if s.o.Commit == "offsets-first" {
		if err := (queues.KVOffsets{KV: s.kv}).Commit(ctx, map[string]int64{inputKey: pos}); err != nil {
			return err
		}
		if err := s.put(ctx, rs); err != nil {
			return err
		}
		if time.Since(s.lastCkpt) < s.o.CheckpointEvery {
			return nil
		}
		raw, err := s.checkpoint(pos, seq)
		if err != nil {
			return err
		}
		if err := s.kv.Write(ctx, checkpointKey, raw); err != nil {
			return err
		}
		s.raw, s.lastCkpt = raw, time.Now()
		s.stats.commits++
		return nil
	}
	// The output first: if the commit below is lost, the next leader
	// replays the same frames into the same state and writes the same
	// absolute counts again.
	if err := s.put(ctx, rs); err != nil {
		return err
	}
	raw, err := s.checkpoint(pos, seq)
	if err != nil {
		return err
	}
	if err := s.kv.CompareAndSwap(ctx, checkpointKey, s.raw, raw, false); err != nil {
		return err
	}
	s.raw = raw
	s.stats.commits++
	return nil
}

func (s *system) checkpoint(pos, seq int64) (string, error) {
	state, err := s.proc.Snapshot()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(Checkpoint{Offset: pos, Seq: seq, State: state})
	return string(b), err
}

// put writes results to the grader's sink (an upsert of absolute counts).
func (s *system) put(ctx context.Context, rs []stream.Result) error {
	if len(rs) == 0 {
		return nil
	}
	_, err := s.n.SyncRPC(ctx, "sink", map[string]any{"type": "sink_put", "results": rs})
	if err != nil {
		return errors.Join(errors.New("sink"), err)
	}
	return nil
}
