package mapreducer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer/stream"
)

// streamNode serves the stream workload: batches of events arrive in
// sequence order (seq 1, 2, ...); each is processed once, its changed
// window results are written to the grader's sink, and then a checkpoint
// (the last seq processed and the processor's state) is saved before the
// batch is acknowledged. A redelivered batch (seq already in the
// checkpoint) is acknowledged without being processed again; a crash
// between the sink write and the checkpoint replays the batch, and the
// sink, keyed by window and word with absolute counts, absorbs the
// repeated write.
type streamNode struct {
	n    *node.Node
	o    Options
	sink stream.Sink

	mu   sync.Mutex
	proc *stream.Processor
	seq  int64  // last batch processed
	ckpt []byte // the last checkpoint, to roll back a batch whose write failed
}

type checkpoint struct {
	Seq   int64           `json:"seq"`
	State json.RawMessage `json:"state"`
}

const checkpointFile = "stream.checkpoint"

// serviceSink writes results to the grader's sink service.
type serviceSink struct{ n *node.Node }

func (s serviceSink) Put(ctx context.Context, rs []stream.Result) error {
	if len(rs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := s.n.SyncRPC(ctx, "sink", map[string]any{"type": "sink_put", "results": rs})
	return err
}

func newStreamNode(n *node.Node, o Options) {
	s := &streamNode{n: n, o: o, sink: serviceSink{n}}
	n.OnInit(s.restore)
	node.HandleTyped(n, "stream_config", s.configure)
	node.HandleTyped(n, "events", s.events)
}

func (s *streamNode) path() string { return filepath.Join(s.n.DataDir(), checkpointFile) }

func (s *streamNode) restore() error {
	if s.n.DataDir() == "" {
		return nil
	}
	b, err := storage.ReadFile(s.n.Storage(), s.path())
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mapreducer: read the stream checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("mapreducer: decode the stream checkpoint: %w", err)
	}
	p, err := stream.Restore(c.State)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc, s.seq, s.ckpt = p, c.Seq, b
	s.mu.Unlock()
	return nil
}

// save checkpoints the state after batch seq.
func (s *streamNode) saveLocked() error {
	state, err := s.proc.Snapshot()
	if err != nil {
		return err
	}
	b, err := json.Marshal(checkpoint{Seq: s.seq, State: state})
	if err != nil {
		return err
	}
	if s.n.DataDir() != "" {
		if err := storage.WriteFileAtomic(s.n.Storage(), s.path(), b, 0o644); err != nil {
			return err
		}
	}
	s.ckpt = b
	return nil
}

func (s *streamNode) configure(_ node.Message, c stream.Config) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && s.proc.Config() == c {
		return map[string]any{"type": "stream_config_ok"}, nil
	}
	p, err := stream.New(c)
	if err != nil {
		return nil, node.NewRPCError(node.MalformedRequest, err.Error())
	}
	s.proc, s.seq = p, 0
	if err := s.saveLocked(); err != nil {
		return nil, node.NewRPCError(node.Crash, "checkpoint: "+err.Error())
	}
	return map[string]any{"type": "stream_config_ok"}, nil
}

type batch struct {
	Seq    int64          `json:"seq"`
	Events []stream.Event `json:"events"`
	End    bool           `json:"end"`
}

func (s *streamNode) events(_ node.Message, b batch) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "no stream_config yet")
	}
	exactly := s.o.Delivery == "exactly-once"
	if exactly && b.Seq <= s.seq {
		return map[string]any{"type": "events_ok"}, nil // a redelivery: already in the checkpoint
	}
	if exactly && b.Seq != s.seq+1 {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("batch %d out of order: the next is %d", b.Seq, s.seq+1))
	}
	now := s.n.Clock().Now().UnixMilli()
	for _, e := range b.Events {
		t := e.Time
		if s.o.Windows == "processing" {
			t = now
		}
		s.proc.Add(e.Word, t)
	}
	var rs []stream.Result
	if b.End {
		rs = s.proc.Flush()
	} else {
		rs = s.proc.Advance()
	}
	if err := s.sink.Put(s.n.Context(), rs); err != nil {
		// Undo the batch: the client will deliver it again.
		if p, rerr := s.rollbackLocked(); rerr == nil {
			s.proc = p
		}
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "sink: "+err.Error())
	}
	s.seq = max(s.seq, b.Seq)
	if err := s.saveLocked(); err != nil {
		return nil, node.NewRPCError(node.Crash, "checkpoint: "+err.Error())
	}
	return map[string]any{"type": "events_ok"}, nil
}

func (s *streamNode) rollbackLocked() (*stream.Processor, error) {
	var c checkpoint
	if err := json.Unmarshal(s.ckpt, &c); err != nil {
		return nil, err
	}
	return stream.Restore(c.State)
}
