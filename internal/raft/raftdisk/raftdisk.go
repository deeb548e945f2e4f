// Package raftdisk is a raft.Storage on disk, in one node's data directory,
// through the storage seam (storage.FS).
//
// The directory holds:
//
//   - wal/: a write-ahead log (internal/wal) of records, body =
//     [kind byte][payload]. Kinds: base (the snapshot index and term the
//     entries after it follow), entry (replacing any entry at its index or
//     later), hard state (the last one wins). Every Save appends its
//     records as one batch and fsyncs once, so a Save is durable when it
//     returns.
//   - snapshot: the latest snapshot with its CRC-32C, written to a
//     temporary file, fsynced and renamed over the old one, so it is always
//     whole.
//
// Recovery tells a crash from damage. A torn tail (an unacknowledged Save
// cut short by a crash) is truncated, as the wal does. Damage (a record
// that fails its checksum with data after it, a snapshot that fails its
// checksum) is not refused: a replica can get what it lost back from its
// peers. Open keeps what verifies — the records before the first damaged
// one, and the snapshot only if it is whole — and marks the hard state
// Repairing, durably, so that the node takes no part in elections and
// quorums until the cluster has repaired it (see package raft). Replaying
// the records rebuilds the state.
//
// Saving a snapshot compacts the log: the snapshot file first, then a new
// segment starting with a base record followed by the entries the
// snapshot does not cover and the hard state, then the older segments are
// dropped. A crash anywhere in between replays to the same state, because
// a base record discards the entries before it.
package raftdisk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/wal"
)

// Names inside the directory.
const (
	WALDir       = "wal"
	SnapshotFile = "snapshot"
)

// ErrCorrupt means a file's content fails its checksum where a crash
// cannot explain it. errors.Is also finds wal.ErrCorrupt for damage in the
// log (whose error names the segment and offset).
var ErrCorrupt = errors.New("raftdisk: corrupt data")

const (
	kindBase  byte = 1
	kindEntry byte = 2
	kindHard  byte = 3
	// kindHardRepair is a hard state with Repairing set (same payload).
	kindHardRepair byte = 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Storage is a raft.Storage in a directory. It keeps a copy of the state
// in memory for Load.
type Storage struct {
	mu  sync.Mutex
	fs  storage.FS
	dir string
	log *wal.Log

	base raft.SnapshotMeta // what the log's entries follow
	hs   raft.HardState
	snap *raft.Snapshot
	ents []raft.Entry

	// Recovered reports what Open had to repair (for logs and tests).
	Recovered RecoveryInfo
}

// RecoveryInfo describes a torn tail that Open cut off, or the damage it
// found.
type RecoveryInfo struct {
	File           string // the wal segment cut; "" if nothing was cut
	TruncatedAt    int64  // offset cut at
	TruncatedBytes int64
	// Damage describes corruption Open found and cut away ("" if none);
	// the hard state is then marked Repairing.
	Damage string
}

// Open opens (creating if needed) the storage in dir of fsys and recovers
// it.
func Open(fsys storage.FS, dir string) (*Storage, error) {
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftdisk: %w", err)
	}
	s := &Storage{fs: fsys, dir: dir}
	var damage []string
	snap, err := s.readSnapshot()
	if errors.Is(err, ErrCorrupt) {
		damage = append(damage, err.Error())
		snap = nil
	} else if err != nil {
		return nil, err
	}
	s.snap = snap
	log, err := wal.Open(fsys, filepath.Join(dir, WALDir), wal.Options{Sync: wal.SyncEvery, Salvage: true})
	if err != nil {
		return nil, fmt.Errorf("raftdisk: %w", err)
	}
	s.log = log
	r := log.Recovered()
	s.Recovered = RecoveryInfo{File: r.File, TruncatedAt: r.Offset, TruncatedBytes: r.Bytes}
	if r.Corrupt != nil {
		damage = append(damage, r.Corrupt.Error())
	}
	if err := log.Iterate(0, func(_ uint64, body []byte) error { return s.applyRecord(body) }); err != nil {
		// A record that verifies but does not parse: written wrong,
		// not damaged at rest. Refuse it.
		log.Close()
		return nil, fmt.Errorf("raftdisk: %w", err)
	}
	if d := s.reconcile(); d != "" {
		damage = append(damage, d)
	}
	if len(damage) > 0 || s.hs.Repairing {
		if err := s.markRepairing(snap == nil && len(damage) > 0); err != nil {
			log.Close()
			return nil, err
		}
		if len(damage) > 0 {
			s.Recovered.Damage = strings.Join(damage, "; ")
		}
	} else if s.snap != nil && s.snap.Meta.Index > s.base.Index {
		// A crash between writing the snapshot and compacting the log:
		// finish the job.
		_, s.ents = raft.ApplySnapshotToLog(&raft.Snapshot{Meta: s.base}, s.ents, s.snap)
		if err := s.compact(); err != nil {
			log.Close()
			return nil, err
		}
	}
	return s, nil
}

// testNaiveSalvage makes Open keep what verifies but not mark the node
// Repairing, so that tests can show what goes wrong without the repair
// protocol (committed entries are lost).
var testNaiveSalvage bool

// markRepairing makes the kept state (what verified) the whole of the
// storage, with the hard state marked Repairing, durably.
func (s *Storage) markRepairing(dropSnapshot bool) error {
	if dropSnapshot {
		if err := s.fs.Remove(filepath.Join(s.dir, SnapshotFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("raftdisk: drop damaged snapshot: %w", err)
		}
	}
	if s.snap != nil && s.snap.Meta.Index > s.base.Index {
		_, s.ents = raft.ApplySnapshotToLog(&raft.Snapshot{Meta: s.base}, s.ents, s.snap)
	}
	s.hs.Repairing = !testNaiveSalvage
	if s.hs.Commit > s.lastIndex() {
		s.hs.Commit = s.lastIndex()
	}
	return s.compact()
}

func (s *Storage) lastIndex() uint64 {
	if n := len(s.ents); n > 0 {
		return s.ents[n-1].Index
	}
	if s.snap != nil {
		return s.snap.Meta.Index
	}
	return 0
}

// reconcile checks that the log follows the snapshot; if it cannot (the
// snapshot it follows was lost to damage), it keeps the snapshot, drops
// the entries and says why.
func (s *Storage) reconcile() string {
	if s.snap != nil {
		switch {
		case s.snap.Meta.Index < s.base.Index:
			d := fmt.Sprintf("wal starts after %d, snapshot at %d", s.base.Index, s.snap.Meta.Index)
			s.ents, s.base = nil, s.snap.Meta
			return d
		case s.snap.Meta.Index > s.base.Index:
			// A crash between writing the snapshot and compacting the
			// log: Open finishes the job.
		}
	} else if s.base.Index > 0 {
		d := fmt.Sprintf("wal starts after %d but there is no snapshot", s.base.Index)
		s.ents, s.base = nil, raft.SnapshotMeta{}
		return d
	}
	return ""
}

// Dir returns the directory.
func (s *Storage) Dir() string { return s.dir }

// Close closes the wal.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Close()
}

// Load returns copies of the stored state.
func (s *Storage) Load() (raft.HardState, *raft.Snapshot, []raft.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap *raft.Snapshot
	if s.snap != nil {
		c := *s.snap
		c.Meta.Peers = slices.Clone(s.snap.Meta.Peers)
		snap = &c
	}
	return s.hs, snap, slices.Clone(s.ents), nil
}

// Save makes u durable.
func (s *Storage) Save(u raft.Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Snapshot != nil && (s.snap == nil || u.Snapshot.Meta.Index > s.snap.Meta.Index) {
		if err := s.writeSnapshot(u.Snapshot); err != nil {
			return err
		}
		s.snap, s.ents = raft.ApplySnapshotToLog(s.snap, s.ents, u.Snapshot)
		if len(u.Entries) > 0 {
			ents, err := raft.AppendToLog(s.snap, s.ents, u.Entries)
			if err != nil {
				return err
			}
			s.ents = ents
		}
		if !u.HardState.IsEmpty() {
			s.hs = u.HardState
		}
		return s.compact()
	}
	var recs [][]byte
	if len(u.Entries) > 0 {
		ents, err := raft.AppendToLog(s.snap, s.ents, u.Entries)
		if err != nil {
			return err
		}
		s.ents = ents
		for _, e := range u.Entries {
			recs = append(recs, record(kindEntry, encodeEntry(e)))
		}
	}
	if !u.HardState.IsEmpty() {
		s.hs = u.HardState
		recs = append(recs, hardRecord(u.HardState))
	}
	if len(recs) == 0 {
		return nil
	}
	if _, err := s.log.Append(recs...); err != nil {
		return fmt.Errorf("raftdisk: %w", err)
	}
	return nil
}

func record(kind byte, payload []byte) []byte {
	return append([]byte{kind}, payload...)
}

func encodeEntry(e raft.Entry) []byte {
	b := binary.BigEndian.AppendUint64(nil, e.Index)
	b = binary.BigEndian.AppendUint64(b, e.Term)
	b = append(b, byte(e.Type))
	return append(b, e.Data...)
}

func decodeEntry(p []byte) (raft.Entry, error) {
	if len(p) < 17 {
		return raft.Entry{}, fmt.Errorf("%w: short entry record", ErrCorrupt)
	}
	e := raft.Entry{
		Index: binary.BigEndian.Uint64(p),
		Term:  binary.BigEndian.Uint64(p[8:]),
		Type:  raft.EntryType(p[16]),
	}
	if len(p) > 17 {
		e.Data = slices.Clone(p[17:])
	}
	return e, nil
}

func hardRecord(hs raft.HardState) []byte {
	if hs.Repairing {
		return record(kindHardRepair, encodeHardState(hs))
	}
	return record(kindHard, encodeHardState(hs))
}

func encodeHardState(hs raft.HardState) []byte {
	b := binary.BigEndian.AppendUint64(nil, hs.Term)
	b = binary.BigEndian.AppendUint64(b, hs.Commit)
	return append(b, hs.Vote...)
}

func decodeHardState(p []byte) (raft.HardState, error) {
	if len(p) < 16 {
		return raft.HardState{}, fmt.Errorf("%w: short hard state record", ErrCorrupt)
	}
	return raft.HardState{
		Term:   binary.BigEndian.Uint64(p),
		Commit: binary.BigEndian.Uint64(p[8:]),
		Vote:   string(p[16:]),
	}, nil
}

func encodeBase(m raft.SnapshotMeta) []byte {
	b := binary.BigEndian.AppendUint64(nil, m.Index)
	return binary.BigEndian.AppendUint64(b, m.Term)
}

func (s *Storage) applyRecord(body []byte) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	p := body[1:]
	switch body[0] {
	case kindBase:
		if len(p) != 16 {
			return fmt.Errorf("%w: bad base record", ErrCorrupt)
		}
		s.base = raft.SnapshotMeta{Index: binary.BigEndian.Uint64(p), Term: binary.BigEndian.Uint64(p[8:])}
		s.ents = nil
	case kindEntry:
		e, err := decodeEntry(p)
		if err != nil {
			return err
		}
		ents, err := raft.AppendToLog(&raft.Snapshot{Meta: s.base}, s.ents, []raft.Entry{e})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		s.ents = ents
	case kindHard, kindHardRepair:
		hs, err := decodeHardState(p)
		if err != nil {
			return err
		}
		hs.Repairing = body[0] == kindHardRepair
		s.hs = hs
	default:
		return fmt.Errorf("%w: unknown record kind %d", ErrCorrupt, body[0])
	}
	return nil
}

// compact starts a new segment holding exactly the current state (base,
// entries, hard state) and drops the segments before it.
func (s *Storage) compact() error {
	base := raft.SnapshotMeta{}
	if s.snap != nil {
		base = raft.SnapshotMeta{Index: s.snap.Meta.Index, Term: s.snap.Meta.Term}
	}
	recs := [][]byte{record(kindBase, encodeBase(base))}
	for _, e := range s.ents {
		recs = append(recs, record(kindEntry, encodeEntry(e)))
	}
	if !s.hs.IsEmpty() {
		recs = append(recs, hardRecord(s.hs))
	}
	if err := s.log.Roll(); err != nil {
		return fmt.Errorf("raftdisk: %w", err)
	}
	first, err := s.log.Append(recs...)
	if err != nil {
		return fmt.Errorf("raftdisk: %w", err)
	}
	if err := s.log.TruncateFront(first); err != nil {
		return fmt.Errorf("raftdisk: %w", err)
	}
	s.base = base
	return nil
}

// ---- snapshot ----

func (s *Storage) writeSnapshot(snap *raft.Snapshot) error {
	meta := binary.BigEndian.AppendUint64(nil, snap.Meta.Index)
	meta = binary.BigEndian.AppendUint64(meta, snap.Meta.Term)
	meta = binary.BigEndian.AppendUint32(meta, uint32(len(snap.Meta.Peers)))
	for _, p := range snap.Meta.Peers {
		meta = binary.BigEndian.AppendUint32(meta, uint32(len(p)))
		meta = append(meta, p...)
	}
	body := append(meta, snap.Data...)
	buf := binary.BigEndian.AppendUint32(nil, crc32.Checksum(body, crcTable))
	if err := storage.WriteFileAtomic(s.fs, filepath.Join(s.dir, SnapshotFile), append(buf, body...), 0o644); err != nil {
		return fmt.Errorf("raftdisk: write snapshot: %w", err)
	}
	return nil
}

func (s *Storage) readSnapshot() (*raft.Snapshot, error) {
	b, err := storage.ReadFile(s.fs, filepath.Join(s.dir, SnapshotFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftdisk: read snapshot: %w", err)
	}
	// Written by rename, the file is whole or absent; a bad checksum is
	// damage after the fact.
	if len(b) < 4+20 || crc32.Checksum(b[4:], crcTable) != binary.BigEndian.Uint32(b) {
		return nil, fmt.Errorf("%w: snapshot checksum", ErrCorrupt)
	}
	p := b[4:]
	snap := &raft.Snapshot{}
	snap.Meta.Index = binary.BigEndian.Uint64(p)
	snap.Meta.Term = binary.BigEndian.Uint64(p[8:])
	np := binary.BigEndian.Uint32(p[16:])
	p = p[20:]
	for range np {
		if len(p) < 4 || int(binary.BigEndian.Uint32(p)) > len(p)-4 {
			return nil, fmt.Errorf("%w: snapshot peers", ErrCorrupt)
		}
		l := binary.BigEndian.Uint32(p)
		snap.Meta.Peers = append(snap.Meta.Peers, string(p[4:4+l]))
		p = p[4+l:]
	}
	if len(p) > 0 {
		snap.Data = slices.Clone(p)
	}
	return snap, nil
}
