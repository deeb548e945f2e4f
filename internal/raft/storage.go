package raft

import (
	"fmt"
	"slices"
	"sync"
)

// Storage is where a node's durable state lives. Raft reads it once, in
// New; afterwards the application writes to it from each Ready (Save), so
// the core itself never does I/O.
type Storage interface {
	// Load returns everything persisted: the hard state, the latest
	// snapshot (nil if none) and the log entries that follow it.
	Load() (HardState, *Snapshot, []Entry, error)
	// Save makes u durable before returning: first the snapshot (which
	// discards the log it covers), then the entries (each replacing any
	// stored entry at its index or later), then the hard state.
	Save(u Update) error
}

// MemoryStorage is a Storage in memory. Tests use it to model a disk that
// survives a crash of the node (drop the *Raft, keep the MemoryStorage).
type MemoryStorage struct {
	mu   sync.Mutex
	hs   HardState
	snap *Snapshot
	ents []Entry
}

// NewMemoryStorage returns an empty storage: a node that never ran.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// Load returns copies of the stored state.
func (s *MemoryStorage) Load() (HardState, *Snapshot, []Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap *Snapshot
	if s.snap != nil {
		snap = cloneSnapshot(s.snap)
	}
	return s.hs, snap, slices.Clone(s.ents), nil
}

// Save applies u.
func (s *MemoryStorage) Save(u Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Snapshot != nil {
		s.snap, s.ents = ApplySnapshotToLog(s.snap, s.ents, u.Snapshot)
	}
	if len(u.Entries) > 0 {
		ents, err := AppendToLog(s.snap, s.ents, u.Entries)
		if err != nil {
			return err
		}
		s.ents = ents
	}
	if !u.HardState.IsEmpty() {
		s.hs = u.HardState
	}
	return nil
}

// ApplySnapshotToLog returns the snapshot and log that result from storing
// snap over (old, ents): a snapshot no newer than old is ignored; entries it
// covers are dropped, and so is the rest of the log unless it continues
// from the snapshot's last entry. Storage implementations share it so that
// they agree on these rules.
func ApplySnapshotToLog(old *Snapshot, ents []Entry, snap *Snapshot) (*Snapshot, []Entry) {
	if old != nil && snap.Meta.Index <= old.Meta.Index {
		return old, ents
	}
	keep := []Entry(nil)
	for i, e := range ents {
		if e.Index == snap.Meta.Index {
			if e.Term == snap.Meta.Term {
				keep = slices.Clone(ents[i+1:])
			}
			break
		}
	}
	return cloneSnapshot(snap), keep
}

// AppendToLog appends ents to the log (snap, log), replacing any entries at
// ents[0].Index or later. It refuses to leave a gap.
func AppendToLog(snap *Snapshot, log []Entry, ents []Entry) ([]Entry, error) {
	first := uint64(1)
	if snap != nil {
		first = snap.Meta.Index + 1
	}
	start := ents[0].Index
	if start < first {
		// Entries the snapshot already covers are committed, hence equal.
		skip := first - start
		if skip >= uint64(len(ents)) {
			return log, nil
		}
		ents, start = ents[skip:], first
	}
	next := first + uint64(len(log))
	if start > next {
		return nil, fmt.Errorf("raft: append at %d leaves a gap after %d", start, next-1)
	}
	// In place: Load hands out copies, so no caller aliases log.
	return append(log[:start-first], ents...), nil
}

func cloneSnapshot(s *Snapshot) *Snapshot {
	c := *s
	c.Meta.Peers = slices.Clone(s.Meta.Peers)
	return &c
}
