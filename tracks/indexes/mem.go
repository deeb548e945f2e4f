package indexes

import (
	"bytes"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/memtree"
)

// memEngine is the in-memory B-Tree behind the Engine interface: fast,
// and empty again after every restart.
type memEngine struct {
	mu sync.Mutex
	t  *memtree.Tree[kv]
}

type kv struct{ k, v []byte }

func newMemEngine() *memEngine {
	return &memEngine{t: memtree.New(32, func(a, b kv) bool { return bytes.Compare(a.k, b.k) < 0 })}
}

var _ engine.Engine = (*memEngine)(nil)

func (m *memEngine) Get(key []byte) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.t.Get(kv{k: key})
	return bytes.Clone(it.v), ok, nil
}

func (m *memEngine) Put(key, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t.Set(kv{k: bytes.Clone(key), v: bytes.Clone(value)})
	return nil
}

func (m *memEngine) Delete(key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t.Delete(kv{k: key})
	return nil
}

func (m *memEngine) Scan(start, end []byte, fn func(k, v []byte) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t.Ascend(kv{k: start}, false, func(it kv) bool {
		if end != nil && bytes.Compare(it.k, end) >= 0 {
			return false
		}
		return fn(it.k, it.v)
	})
	return nil
}

func (m *memEngine) Close() error { return nil }
