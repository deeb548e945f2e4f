package raft

import (
	"fmt"
	"slices"
)

// raftLog is a node's log as Raft sees it: the latest snapshot followed by
// every later entry, all in memory. Durability is the application's job
// (Ready.Entries); raftLog only remembers which suffix it has not yet handed
// out for persisting, and which committed prefix it has handed out for applying.
type raftLog struct {
	snap    Snapshot // Meta.Index == 0 means none
	entries []Entry  // entries[i].Index == snap.Meta.Index+1+i

	committed uint64
	applying  uint64 // highest index handed out in Ready.CommittedEntries (or a snapshot)
	applied   uint64 // highest index the application confirmed with Advance
	unstable  uint64 // first index not yet handed out in Ready.Entries

	snapPending      bool // snap came from a leader and is not yet in a Ready
	compactedPending bool // snap came from Compact and is not yet in a Ready
}

func (l *raftLog) firstIndex() uint64 { return l.snap.Meta.Index + 1 }
func (l *raftLog) lastIndex() uint64  { return l.snap.Meta.Index + uint64(len(l.entries)) }

// term returns the term of entry i, if the log still knows it.
func (l *raftLog) term(i uint64) (uint64, bool) {
	switch {
	case i == l.snap.Meta.Index:
		return l.snap.Meta.Term, true
	case i < l.snap.Meta.Index || i > l.lastIndex():
		return 0, false
	}
	return l.entries[i-l.firstIndex()].Term, true
}

func (l *raftLog) lastTerm() uint64 {
	t, _ := l.term(l.lastIndex())
	return t
}

func (l *raftLog) matchTerm(i, t uint64) bool {
	lt, ok := l.term(i)
	return ok && lt == t
}

// isUpToDate is the election restriction (§5.4.1): a voter only grants its
// vote to a candidate whose log is at least as up to date as its own.
func (l *raftLog) isUpToDate(lastIndex, lastTerm uint64) bool {
	return lastTerm > l.lastTerm() || (lastTerm == l.lastTerm() && lastIndex >= l.lastIndex())
}

// slice copies entries [lo, hi): callers keep the result past later
// truncations of the log, which reuse the backing array.
func (l *raftLog) slice(lo, hi uint64) []Entry {
	if lo >= hi {
		return nil
	}
	if lo < l.firstIndex() || hi > l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: slice [%d,%d) out of log [%d,%d]", lo, hi, l.firstIndex(), l.lastIndex()))
	}
	f := l.firstIndex()
	return slices.Clone(l.entries[lo-f : hi-f])
}

// append adds ents, replacing whatever the log holds at ents[0].Index and
// after. Raft only ever truncates uncommitted entries.
func (l *raftLog) append(ents ...Entry) {
	if len(ents) == 0 {
		return
	}
	at := ents[0].Index
	if at <= l.committed {
		panic(fmt.Sprintf("raft: truncating committed entry %d (commit %d)", at, l.committed))
	}
	if at > l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: append at %d leaves a gap after %d", at, l.lastIndex()))
	}
	l.entries = append(l.entries[:at-l.firstIndex()], ents...)
	l.unstable = min(l.unstable, at)
}

// maybeAppend is the follower's side of AppendEntries: if the log has
// (prevIndex, prevTerm), it keeps the matching part of ents, replaces the
// log from the first conflict on, and advances commit. It returns the index
// of the last entry known to match the leader. ents must be contiguous from
// prevIndex+1 (Step checks).
func (l *raftLog) maybeAppend(prevIndex, prevTerm, commit uint64, ents []Entry) (uint64, bool, error) {
	if !l.matchTerm(prevIndex, prevTerm) {
		return 0, false, nil
	}
	lastNew := prevIndex + uint64(len(ents))
	for i, e := range ents {
		if !l.matchTerm(e.Index, e.Term) {
			if e.Index <= l.committed {
				// No true leader disagrees with a committed entry.
				return 0, false, fmt.Errorf("raft: append conflicts with committed entry %d", e.Index)
			}
			// Only the first mismatch matters: replacing there also drops
			// every later entry, which an old leader may have written.
			l.append(ents[i:]...)
			break
		}
	}
	l.commitTo(min(commit, lastNew))
	return lastNew, true, nil
}

func (l *raftLog) commitTo(c uint64) {
	if c <= l.committed {
		return
	}
	if c > l.lastIndex() {
		panic(fmt.Sprintf("raft: commit %d beyond last index %d", c, l.lastIndex()))
	}
	l.committed = c
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term: with it a leader skips a whole term of mismatching entries per
// round trip instead of one entry.
func (l *raftLog) findConflictByTerm(index, term uint64) uint64 {
	index = min(index, l.lastIndex())
	for index > l.snap.Meta.Index {
		if t, _ := l.term(index); t <= term {
			return index
		}
		index--
	}
	return index
}

// restore replaces the whole log with a snapshot from the leader.
func (l *raftLog) restore(s Snapshot) {
	l.snap = s
	l.entries = nil
	l.committed = s.Meta.Index
	l.applying = s.Meta.Index
	l.unstable = s.Meta.Index + 1
	l.snapPending = true
	l.compactedPending = false
}

// compact drops the entries up to index, which the application has applied
// and captured in data.
func (l *raftLog) compact(index uint64, data []byte, peers []string) error {
	if index <= l.snap.Meta.Index {
		return ErrCompacted
	}
	if index > l.applied {
		return fmt.Errorf("%w: compact %d, applied %d", ErrUnavailable, index, l.applied)
	}
	t, _ := l.term(index)
	l.entries = slices.Clone(l.entries[index-l.firstIndex()+1:])
	l.snap = Snapshot{Meta: SnapshotMeta{Index: index, Term: t, Peers: slices.Clone(peers)}, Data: data}
	l.compactedPending = true
	return nil
}
