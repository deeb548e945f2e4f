// Package engine names what every storage engine of the indexes track
// offers: an ordered key-value map of byte strings that persists through
// the storage seam (internal/storage). The hash index, the disk B-Tree and
// the LSM tree implement Engine; the indexes track's node serves any of
// them, and the logger track reuses them on its write-ahead log.
package engine

import "errors"

// Engine is a persistent ordered map from keys to values. Keys and values
// passed in may be reused by the caller after the call returns; slices
// handed out (Get's value, Scan's arguments) belong to the caller only
// for Get; Scan's are valid until fn returns.
//
// Put and Delete are durable when they return if the engine was opened
// with Sync; otherwise they survive a process crash that keeps the OS page
// cache, not a machine crash.
type Engine interface {
	Get(key []byte) (value []byte, ok bool, err error)
	Put(key, value []byte) error
	Delete(key []byte) error
	// Scan calls fn for each key in [start, end) in ascending order (end
	// nil: no upper bound) until fn returns false.
	Scan(start, end []byte, fn func(key, value []byte) bool) error
	Close() error
}

// ErrClosed is returned by calls on a closed engine.
var ErrClosed = errors.New("engine: closed")

// ErrCorrupt wraps every error about damaged data at rest; engines refuse
// damaged data rather than return wrong values.
var ErrCorrupt = errors.New("engine: corrupt data")

// ErrTooLarge is returned for a key or value beyond the engine's limits.
var ErrTooLarge = errors.New("engine: key or value too large")
