// Package raftdisk is a raft.Storage on disk, in one node's data directory.
//
// The directory holds two files:
//
//   - wal: an append-only log of records, each framed as
//     [length uint32][CRC-32C of body uint32][body], body = [kind byte][payload].
//     Kinds: base (the snapshot index and term the log follows), entry
//     (replacing any entry at its index or later), hard state (the last one
//     wins). Every Save appends its records and fsyncs once.
//   - snapshot: the latest snapshot, written to a temporary file, fsynced and
//     renamed over the old one, so it is always whole.
//
// A crash can leave a torn record at the end of wal (a partial write, or
// zeros from a preallocated block). Open detects it (short record or bad
// checksum in the last record) and truncates it away: the record was never
// acknowledged, because Save returns only after fsync. A bad checksum with
// valid data after it is real corruption and Open refuses it.
//
// Saving a snapshot rewrites wal without the entries it covers (new file,
// fsync, rename), which is how the log is compacted on disk.
package raftdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/raft"
)

// File names inside the directory.
const (
	WALFile      = "wal"
	SnapshotFile = "snapshot"
)

// ErrCorrupt means a file's content fails its checksum where a crash
// cannot explain it.
var ErrCorrupt = errors.New("raftdisk: corrupt data")

const (
	kindBase  byte = 1
	kindEntry byte = 2
	kindHard  byte = 3

	headerSize = 8
	// maxRecord bounds a record's length so that a garbage length cannot
	// make Open allocate gigabytes.
	maxRecord = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Storage is a raft.Storage in a directory. It keeps a copy of the state
// in memory for Load.
type Storage struct {
	mu  sync.Mutex
	dir string
	wal *os.File
	// nosync skips fsync: only for tests whose "crashes" are process-level
	// (close and reopen), where the page cache survives anyway.
	nosync bool

	base raft.SnapshotMeta // what the wal's first entry follows
	hs   raft.HardState
	snap *raft.Snapshot
	ents []raft.Entry

	// Recovered reports what Open had to repair (for logs and tests).
	Recovered RecoveryInfo
}

// RecoveryInfo describes a torn tail that Open cut off.
type RecoveryInfo struct {
	TruncatedAt    int64 // wal offset cut at; 0 if nothing was cut
	TruncatedBytes int64
}

// Open opens (creating if needed) the storage in dir and recovers it.
func Open(dir string) (*Storage, error) { return openDir(dir, false) }

func openDir(dir string, nosync bool) (*Storage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftdisk: %w", err)
	}
	s := &Storage{dir: dir, nosync: nosync}
	snap, err := readSnapshot(filepath.Join(dir, SnapshotFile))
	if err != nil {
		return nil, err
	}
	s.snap = snap
	if err := s.replay(); err != nil {
		return nil, err
	}
	if s.snap != nil {
		switch {
		case s.snap.Meta.Index < s.base.Index:
			return nil, fmt.Errorf("%w: wal starts after %d, snapshot at %d", ErrCorrupt, s.base.Index, s.snap.Meta.Index)
		case s.snap.Meta.Index > s.base.Index:
			// A crash between writing the snapshot and rewriting the wal:
			// finish the job.
			_, s.ents = raft.ApplySnapshotToLog(&raft.Snapshot{Meta: s.base}, s.ents, s.snap)
			if err := s.rewriteWAL(); err != nil {
				return nil, err
			}
		}
	} else if s.base.Index > 0 {
		return nil, fmt.Errorf("%w: wal starts after %d but there is no snapshot", ErrCorrupt, s.base.Index)
	}
	return s, nil
}

// Dir returns the directory.
func (s *Storage) Dir() string { return s.dir }

// Close closes the wal.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wal == nil {
		return nil
	}
	err := s.wal.Close()
	s.wal = nil
	return err
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
	if s.wal == nil {
		return errors.New("raftdisk: closed")
	}
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
		return s.rewriteWAL()
	}
	var buf []byte
	if len(u.Entries) > 0 {
		ents, err := raft.AppendToLog(s.snap, s.ents, u.Entries)
		if err != nil {
			return err
		}
		s.ents = ents
		for _, e := range u.Entries {
			buf = appendRecord(buf, kindEntry, encodeEntry(e))
		}
	}
	if !u.HardState.IsEmpty() {
		s.hs = u.HardState
		buf = appendRecord(buf, kindHard, encodeHardState(u.HardState))
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := s.wal.Write(buf); err != nil {
		return fmt.Errorf("raftdisk: write wal: %w", err)
	}
	return s.sync(s.wal)
}

func (s *Storage) sync(f *os.File) error {
	if s.nosync {
		return nil
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("raftdisk: sync %s: %w", f.Name(), err)
	}
	return nil
}

// ---- wal ----

func appendRecord(buf []byte, kind byte, payload []byte) []byte {
	body := make([]byte, 0, 1+len(payload))
	body = append(append(body, kind), payload...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(body)))
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(body, crcTable))
	return append(buf, body...)
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

// replay reads the wal, cuts a torn tail, and leaves it open for appending.
func (s *Storage) replay() error {
	path := filepath.Join(s.dir, WALFile)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("raftdisk: read wal: %w", err)
	}
	off := 0
	for off < len(data) {
		body, n, torn, err := readRecord(data[off:], int64(off))
		if err != nil {
			return fmt.Errorf("raftdisk: wal offset %d: %w", off, err)
		}
		if torn {
			break
		}
		if err := s.applyRecord(body); err != nil {
			return fmt.Errorf("raftdisk: wal offset %d: %w", off, err)
		}
		off += n
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("raftdisk: open wal: %w", err)
	}
	if off < len(data) {
		s.Recovered = RecoveryInfo{TruncatedAt: int64(off), TruncatedBytes: int64(len(data) - off)}
		if err := f.Truncate(int64(off)); err != nil {
			f.Close()
			return fmt.Errorf("raftdisk: truncate torn wal tail: %w", err)
		}
		if err := s.sync(f); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Seek(int64(off), io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("raftdisk: seek wal: %w", err)
	}
	s.wal = f
	return nil
}

// readRecord decodes the record at the start of b, which is at offset off
// in the file. torn means b holds the wreck of an interrupted final write
// rather than a record.
func readRecord(b []byte, off int64) (body []byte, n int, torn bool, err error) {
	if len(b) < headerSize {
		return nil, 0, true, nil
	}
	size := binary.BigEndian.Uint32(b)
	sum := binary.BigEndian.Uint32(b[4:])
	if size == 0 {
		// Zeros: a block the file system allocated but the write never filled.
		if allZero(b) {
			return nil, 0, true, nil
		}
		return nil, 0, false, fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	if size > maxRecord || int(size) > len(b)-headerSize {
		return nil, 0, true, nil
	}
	n = headerSize + int(size)
	body = b[headerSize:n]
	if crc32.Checksum(body, crcTable) != sum {
		if n == len(b) || allZero(b[n:]) || hasZeroSector(b[:n], off) {
			return nil, 0, true, nil
		}
		return nil, 0, false, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return body, n, false, nil
}

func allZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

const sectorSize = 512

// hasZeroSector reports whether rec (at file offset off) contains a whole
// all-zero sector. The disk may persist the sectors of an unsynced write
// in any order, so such a hole marks a write that never completed; and no
// acknowledged write can follow it, since its fsync would have made the
// hole's sector durable first.
func hasZeroSector(rec []byte, off int64) bool {
	start := (sectorSize - off%sectorSize) % sectorSize
	for i := start; i+sectorSize <= int64(len(rec)); i += sectorSize {
		if allZero(rec[i : i+sectorSize]) {
			return true
		}
	}
	return false
}

func (s *Storage) applyRecord(body []byte) error {
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
	case kindHard:
		hs, err := decodeHardState(p)
		if err != nil {
			return err
		}
		s.hs = hs
	default:
		return fmt.Errorf("%w: unknown record kind %d", ErrCorrupt, body[0])
	}
	return nil
}

// rewriteWAL replaces the wal with one holding exactly the current state.
func (s *Storage) rewriteWAL() error {
	base := raft.SnapshotMeta{}
	if s.snap != nil {
		base = raft.SnapshotMeta{Index: s.snap.Meta.Index, Term: s.snap.Meta.Term}
	}
	buf := appendRecord(nil, kindBase, encodeBase(base))
	for _, e := range s.ents {
		buf = appendRecord(buf, kindEntry, encodeEntry(e))
	}
	if !s.hs.IsEmpty() {
		buf = appendRecord(buf, kindHard, encodeHardState(s.hs))
	}
	path := filepath.Join(s.dir, WALFile)
	if err := s.writeFileAtomic(WALFile, buf); err != nil {
		return err
	}
	if s.wal != nil {
		s.wal.Close()
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("raftdisk: reopen wal: %w", err)
	}
	s.wal = f
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
	return s.writeFileAtomic(SnapshotFile, append(buf, body...))
}

func readSnapshot(path string) (*raft.Snapshot, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
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
	s := &raft.Snapshot{}
	s.Meta.Index = binary.BigEndian.Uint64(p)
	s.Meta.Term = binary.BigEndian.Uint64(p[8:])
	np := binary.BigEndian.Uint32(p[16:])
	p = p[20:]
	for range np {
		if len(p) < 4 || int(binary.BigEndian.Uint32(p)) > len(p)-4 {
			return nil, fmt.Errorf("%w: snapshot peers", ErrCorrupt)
		}
		l := binary.BigEndian.Uint32(p)
		s.Meta.Peers = append(s.Meta.Peers, string(p[4:4+l]))
		p = p[4+l:]
	}
	if len(p) > 0 {
		s.Data = slices.Clone(p)
	}
	return s, nil
}

// writeFileAtomic writes name in dir so that a crash leaves either the old
// or the new content: temporary file, fsync, rename, fsync the directory.
func (s *Storage) writeFileAtomic(name string, data []byte) error {
	dir := s.dir
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("raftdisk: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("raftdisk: write %s: %w", name, err)
	}
	if err := s.sync(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("raftdisk: close %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("raftdisk: rename %s: %w", name, err)
	}
	if s.nosync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("raftdisk: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("raftdisk: sync dir: %w", err)
	}
	return nil
}
