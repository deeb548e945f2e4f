package idgen

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Counter issues "<node>-<n>" for n = 0, 1, 2, ... It is unique across
// nodes because node ids are, and within a node because the counter only
// grows — until the node restarts and the counter starts again from 0.
type Counter struct {
	node string
	mu   sync.Mutex
	next uint64
}

// NewCounter returns a counter for node starting at 0.
func NewCounter(node string) *Counter { return &Counter{node: node} }

// Next implements Generator.
func (c *Counter) Next() (any, error) {
	c.mu.Lock()
	n := c.next
	c.next++
	c.mu.Unlock()
	return c.node + "-" + strconv.FormatUint(n, 10), nil
}

// DurableBlock is how many counter values DurableCounter reserves per
// write to disk: a restart skips at most this many, and a node pays one
// fsync per this many ids.
const DurableBlock = 1000

// DurableCounter is Counter made restart-safe: before issuing a value it
// makes sure the data directory records a reservation above it, so a
// restarted node starts after the last reservation and can never reissue a
// value (it skips the unused rest of the block instead).
type DurableCounter struct {
	node     string
	mu       sync.Mutex
	next     int64
	reserved *mark // values below reserved.value may be issued
}

// NewDurableCounter resumes node's counter from dir.
func NewDurableCounter(node string, fsys storage.FS, dir string) (*DurableCounter, error) {
	m, err := loadMark(fsys, dir, "idgen-counter")
	if err != nil {
		return nil, err
	}
	return &DurableCounter{node: node, next: m.value, reserved: m}, nil
}

// Next implements Generator.
func (c *DurableCounter) Next() (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next >= c.reserved.value {
		if err := c.reserved.store(c.next + DurableBlock); err != nil {
			return nil, fmt.Errorf("reserve ids: %w", err)
		}
	}
	n := c.next
	c.next++
	return c.node + "-" + strconv.FormatInt(n, 10), nil
}
