package queues

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
	"github.com/distsys-curriculum/distsys/internal/wal"
)

// journalDir is the write-ahead log's directory under the data directory.
const journalDir = "queue-wal"

// journalSegment keeps segments small: an fsync covers only the last one.
const journalSegment = 256 << 10

// journal is the queue of a single node (--replicate none): the machine
// applied in place, every command appended to a write-ahead log
// (internal/wal) and made durable before it is answered. Commands are
// applied and written in one order under mu; the fsync happens outside
// mu, so the commands that arrive while one fsync runs are covered by the
// next one together (group commit), and a client learns of a change only
// once it, and every change before it in the log, is on disk. A restart
// replays the log.
type journal struct {
	n *node.Node
	m *machine

	mu     sync.Mutex
	log    *wal.Log // nil without a data directory: memory only
	failed error
}

func newJournal(n *node.Node, m *machine) *journal {
	j := &journal{n: n, m: m}
	n.OnInit(j.open)
	context.AfterFunc(n.Context(), func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		if j.log != nil {
			_ = j.log.Close()
			j.log = nil
		}
		if j.failed == nil {
			j.failed = raftnode.ErrFailed
		}
	})
	return j
}

func (j *journal) open() error {
	if len(j.n.NodeIDs()) > 1 {
		return fmt.Errorf("queues: --replicate none serves a single node, not %d", len(j.n.NodeIDs()))
	}
	dir := j.n.DataDir()
	if dir == "" {
		return nil
	}
	log, err := wal.Open(j.n.Storage(), filepath.Join(dir, journalDir), wal.Options{Sync: wal.SyncNone, SegmentSize: journalSegment})
	if err != nil {
		return fmt.Errorf("queues: open the journal: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := log.Iterate(log.FirstIndex(), func(i uint64, rec []byte) error {
		j.m.Apply(i, rec)
		return nil
	}); err != nil {
		_ = log.Close()
		return fmt.Errorf("queues: replay the journal: %w", err)
	}
	j.log = log
	return nil
}

// Submit applies a command and returns its result once it is durable.
func (j *journal) Submit(_ context.Context, data []byte) (json.RawMessage, error) {
	j.mu.Lock()
	if j.failed != nil {
		j.mu.Unlock()
		return nil, j.failed
	}
	res, ok := j.m.Apply(0, data).(json.RawMessage)
	if !ok {
		j.mu.Unlock()
		return nil, node.NewRPCError(node.MalformedRequest, "undecodable command")
	}
	log := j.log
	if log != nil {
		if _, err := log.Append(data); err != nil {
			// The machine is now ahead of its log: serve nothing more.
			j.failed = fmt.Errorf("%w: %v", raftnode.ErrFailed, err)
			j.mu.Unlock()
			return nil, j.failed
		}
	}
	j.mu.Unlock()
	if log != nil {
		if err := log.Sync(); err != nil {
			j.mu.Lock()
			j.failed = fmt.Errorf("%w: %v", raftnode.ErrFailed, err)
			j.mu.Unlock()
			return nil, j.failed
		}
	}
	return res, nil
}
