// Package wal is a segmented write-ahead log on a storage.FS: the one log
// implementation every track that persists builds on (Raft's disk, the
// logger's partitions, the engines' write-ahead logs).
//
// A log is a directory of segment files named by the index of their first
// record (00000000000000000001.wal, ...). Records are numbered from 1 (or
// from where a prefix truncation left off) and framed with their length and
// a CRC-32C (record.go). Append writes to the last segment; when it
// reaches Options.SegmentSize the log rolls over to a new one, after
// syncing the old one, so that only the last segment can ever hold a torn
// write.
//
// When is a record durable? That is the Options.Sync policy:
//
//   - SyncEvery: Append returns after an fsync that covers its records.
//   - SyncGroup: the same promise, but concurrent appenders share fsyncs:
//     while one fsync runs, the records written meanwhile wait for the
//     next one, which covers them all (group commit). Stats counts records
//     per fsync.
//   - SyncNone: Append never fsyncs; records are durable only after Sync.
//
// Recovery (Open) reads every segment. In the last one, a record cut short,
// or with a zeroed sector, is what a crash leaves of an unacknowledged
// write: Open truncates it and everything after it (Recovered says what).
// Any other damage is a *CorruptError naming the file and offset, and Open
// refuses the log: a log that quietly dropped an acknowledged record would
// be worse than one that stops. An owner that can get lost records back
// from elsewhere (a Raft replica, from its peers) opens with
// Options.Salvage instead: the log is cut before the damage and
// Recovered says where, so that the owner can tell what it lost.
//
// TruncateFront drops whole segments below an index (retention,
// compaction after a snapshot); TruncateBack drops the records after an
// index (a Raft follower's conflicting suffix). Both are durable when they
// return.
//
// The crash-point tests (crash_test.go) run scripted workloads on
// memfs, stop the file system after each of its writes and syncs in turn,
// crash it (dropping unsynced data, or tearing the last write), and check
// that recovery keeps every acknowledged record and invents none. The
// workload (14 steps, batches, 120-byte segments, one TruncateBack, one
// TruncateFront) explores 81 crash points under SyncEvery and SyncGroup
// and 86 under SyncNone (go test -v -run CrashPoints ./internal/wal/).
// TestCrashPointsCatchBrokenLog shows the check failing when the log skips
// its fsyncs (every crash point loses an acknowledged record) or recovery
// keeps a torn tail (about half of them read back garbage).
package wal

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Policy says when Append makes records durable.
type Policy int

// The fsync policies.
const (
	SyncEvery Policy = iota
	SyncGroup
	SyncNone
)

var policyNames = []string{"every", "group", "none"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy reads a policy name: every, group or none.
func ParsePolicy(s string) (Policy, error) {
	if i := slices.Index(policyNames, s); i >= 0 {
		return Policy(i), nil
	}
	return 0, fmt.Errorf("wal: unknown sync policy %q (have %s)", s, strings.Join(policyNames, ", "))
}

// Options configure a Log.
type Options struct {
	// SegmentSize is the size at which the log rolls over to a new
	// segment; 0 means DefaultSegmentSize.
	SegmentSize int64
	Sync        Policy
	// Buffer, under SyncNone, keeps appended records in memory until this
	// many bytes are waiting (or a Sync, read, truncation, roll or Close
	// needs them in the file), so that appends cost a copy rather than a
	// write system call each; Pebble's NoSync writes work the same way.
	// The price: a process crash also loses what waits in the buffer,
	// where unbuffered SyncNone loses only what the OS had not written.
	// Ignored under the other policies, which write every append at once.
	Buffer int
	// Salvage makes Open keep the records before the first damaged one
	// instead of refusing the log: it cuts the log there (dropping the
	// rest of that segment and every later one) and reports the damage in
	// Recovered().Corrupt. Only an owner that can get the lost records
	// back elsewhere (a Raft replica, from its peers) should ask for it.
	Salvage bool
}

// DefaultSegmentSize is the segment size when Options leave it 0.
const DefaultSegmentSize = 4 << 20

// Ext is the segment files' extension.
const Ext = ".wal"

// Stats counts a log's work since Open.
type Stats struct {
	Records int64 // appended
	Bytes   int64 // appended, framing included
	Fsyncs  int64 // of segment files, by Append, Sync and rollover
}

// RecordsPerFsync is Records/Fsyncs (0 without fsyncs).
func (s Stats) RecordsPerFsync() float64 {
	if s.Fsyncs == 0 {
		return 0
	}
	return float64(s.Records) / float64(s.Fsyncs)
}

// Recovery describes the torn tail Open cut off, if any.
type Recovery struct {
	File   string // segment file; "" when nothing was cut
	Offset int64  // where the file was cut
	Bytes  int64  // how many bytes were cut
	// Corrupt is the damage a salvaging Open cut at (Options.Salvage);
	// nil when the log had none. Bytes then counts the damaged segment's
	// cut part and every later segment.
	Corrupt *CorruptError
}

// SegmentInfo describes one segment, for retention policies.
type SegmentInfo struct {
	Name    string
	First   uint64 // index of its first record
	Records int
	Size    int64
}

type segment struct {
	name    string
	first   uint64
	offsets []int64 // start of each record
	size    int64
	r       storage.File // read handle of a sealed segment, opened lazily
}

func (s *segment) end(i int) int64 {
	if i+1 < len(s.offsets) {
		return s.offsets[i+1]
	}
	return s.size
}

// Log is a write-ahead log. Its methods are safe for concurrent use.
type Log struct {
	fs   storage.FS
	dir  string
	opts Options

	mu     sync.Mutex
	cond   *sync.Cond // signals the end of a group fsync
	segs   []*segment
	f      storage.File // the last segment, open for appending
	closed bool
	// err is sticky: after a failed write or fsync nobody knows what the
	// file holds, so the log refuses to go on (and never retries an
	// fsync that failed, which could report success for lost data).
	err error

	written, synced uint64 // last index written, last index known durable
	syncing         bool
	pending         []byte // appended, not yet written (Options.Buffer)

	stats     Stats
	recovered Recovery
}

// testBreak breaks the log on purpose, so that tests can show that the
// crash-point checks catch a log that loses or invents records.
var testBreak struct {
	skipSync bool // fsyncs silently do nothing
	keepTorn bool // recovery keeps a torn record's bytes instead of cutting them
}

// Open opens the log in dir (creating it if needed) and recovers it.
func Open(fsys storage.FS, dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	l := &Log{fs: fsys, dir: dir, opts: opts}
	l.cond = sync.NewCond(&l.mu)
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	return l, nil
}

func segmentName(first uint64) string { return fmt.Sprintf("%020d%s", first, Ext) }

func (l *Log) path(name string) string { return filepath.Join(l.dir, name) }

func (l *Log) recover() error {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, Ext) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, Ext), 10, 64)
		if err != nil || first == 0 {
			continue
		}
		l.segs = append(l.segs, &segment{name: name, first: first})
	}
	slices.SortFunc(l.segs, func(a, b *segment) int { return cmp.Compare(a.first, b.first) })
	if len(l.segs) == 0 {
		return l.createSegment(1)
	}
	for i := 0; i < len(l.segs); i++ {
		s := l.segs[i]
		last := i == len(l.segs)-1
		if i > 0 {
			prev := l.segs[i-1]
			if want := prev.first + uint64(len(prev.offsets)); s.first != want {
				ce := &CorruptError{File: l.path(s.name), Offset: 0,
					Reason: fmt.Sprintf("segment starts at record %d, want %d (a segment is missing)", s.first, want)}
				if !l.opts.Salvage {
					return ce
				}
				// Keep the segments before the gap; the previous one
				// becomes the last, open for appending.
				if err := l.salvage(i, ce, 0); err != nil {
					return err
				}
				prev.offsets, prev.size = nil, 0
				i -= 2
				continue
			}
		}
		data, err := storage.ReadFile(l.fs, l.path(s.name))
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		off := 0
		for off < len(data) {
			_, n, torn, reason := scan(data[off:], int64(off), last)
			if reason != "" {
				ce := &CorruptError{File: l.path(s.name), Offset: int64(off), Reason: reason}
				if !l.opts.Salvage {
					return ce
				}
				// Cut this segment at the damage and drop every later
				// one; the segment is then the last and is reopened as
				// such (its cut part looks like a torn tail no more).
				if err := l.salvage(i+1, ce, int64(len(data)-off)); err != nil {
					return err
				}
				if err := l.truncateFile(l.path(s.name), int64(off)); err != nil {
					return err
				}
				s.offsets, s.size = nil, 0
				i--
				goto next
			}
			if torn {
				if testBreak.keepTorn {
					// The broken recovery: believe the wreck is a record.
					s.offsets = append(s.offsets, int64(off))
					off = len(data)
				}
				break
			}
			s.offsets = append(s.offsets, int64(off))
			off += n
		}
		s.size = int64(off)
		if last {
			f, err := l.fs.OpenFile(l.path(s.name), os.O_RDWR, 0)
			if err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			l.f = f
			if off < len(data) {
				l.recovered = Recovery{File: l.path(s.name), Offset: int64(off), Bytes: int64(len(data) - off), Corrupt: l.recovered.Corrupt}
				if err := f.Truncate(int64(off)); err != nil {
					return fmt.Errorf("wal: cut torn tail: %w", err)
				}
				if err := l.syncFile(f); err != nil {
					return fmt.Errorf("wal: cut torn tail: %w", err)
				}
			}
			if _, err := f.Seek(int64(off), io.SeekStart); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
		}
	next:
	}
	l.written = l.lastIndex()
	l.synced = l.written
	return nil
}

// salvage removes the segments from index from on, durably, recording the
// damage ce and the bytes lost (extra, plus the removed segments' sizes).
func (l *Log) salvage(from int, ce *CorruptError, extra int64) error {
	lost := extra
	for _, s := range l.segs[from:] {
		if fi, err := l.fs.Stat(l.path(s.name)); err == nil {
			lost += fi.Size()
		}
		if err := l.fs.Remove(l.path(s.name)); err != nil {
			return fmt.Errorf("wal: salvage: %w", err)
		}
	}
	l.segs = l.segs[:from]
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("wal: salvage: %w", err)
	}
	if l.recovered.Corrupt == nil {
		l.recovered = Recovery{File: ce.File, Offset: ce.Offset, Corrupt: ce}
	}
	l.recovered.Bytes += lost
	return nil
}

func (l *Log) truncateFile(name string, size int64) error {
	f, err := l.fs.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: salvage: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("wal: salvage: %w", err)
	}
	if err := l.syncFile(f); err != nil {
		return fmt.Errorf("wal: salvage: %w", err)
	}
	return nil
}

// createSegment starts a new last segment whose first record is first, and
// makes its name durable.
func (l *Log) createSegment(first uint64) error {
	name := segmentName(first)
	f, err := l.fs.OpenFile(l.path(name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal: create segment: %w", err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		f.Close()
		return fmt.Errorf("wal: create segment: %w", err)
	}
	l.f = f
	l.segs = append(l.segs, &segment{name: name, first: first})
	return nil
}

func (l *Log) syncFile(f storage.File) error {
	if testBreak.skipSync {
		return nil
	}
	l.stats.Fsyncs++
	return f.Sync()
}

func (l *Log) lastIndex() uint64 {
	s := l.segs[len(l.segs)-1]
	return s.first + uint64(len(s.offsets)) - 1
}

// FirstIndex is the index of the oldest record kept (after TruncateFront,
// possibly lower than asked: whole segments are dropped).
func (l *Log) FirstIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segs[0].first
}

// LastIndex is the index of the newest record, FirstIndex()-1 when empty.
func (l *Log) LastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastIndex()
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Recovered describes what Open cut off.
func (l *Log) Recovered() Recovery { return l.recovered }

// Segments describes the segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = SegmentInfo{Name: s.name, First: s.first, Records: len(s.offsets), Size: s.size}
	}
	return out
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

func (l *Log) usable() error {
	if l.closed {
		return errors.New("wal: closed")
	}
	return l.err
}

// Append adds records and returns the index of the first. It returns when
// they are durable as the policy promises: under SyncEvery and SyncGroup,
// on disk; under SyncNone, written to the file (see Sync).
func (l *Log) Append(recs ...[]byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return l.lastIndex() + 1, nil
	}
	s := l.segs[len(l.segs)-1]
	if s.size >= l.opts.SegmentSize && len(s.offsets) > 0 {
		if err := l.roll(); err != nil {
			return 0, err
		}
		s = l.segs[len(l.segs)-1]
	}
	for _, r := range recs {
		if len(r) > MaxRecord {
			return 0, fmt.Errorf("wal: record of %d bytes over the limit", len(r))
		}
	}
	buffered := l.opts.Buffer > 0 && l.opts.Sync == SyncNone
	var buf []byte
	if buffered {
		buf = l.pending
	}
	start := len(buf)
	for _, r := range recs {
		s.offsets = append(s.offsets, s.size+int64(len(buf)-start))
		buf = appendRecord(buf, r)
	}
	n := len(buf) - start
	first := l.lastIndex() - uint64(len(recs)) + 1
	s.size += int64(n)
	if buffered {
		l.pending = buf
		if len(buf) >= l.opts.Buffer {
			if err := l.flushLocked(); err != nil {
				return 0, err
			}
		}
	} else if _, err := l.f.Write(buf); err != nil {
		l.err = fmt.Errorf("wal: write %s: %w", s.name, err)
		return 0, l.err
	}
	l.stats.Records += int64(len(recs))
	l.stats.Bytes += int64(n)
	last := l.lastIndex()
	l.written = last
	switch l.opts.Sync {
	case SyncEvery:
		return first, l.syncLocked()
	case SyncGroup:
		return first, l.waitDurable(last)
	}
	return first, nil
}

// flushLocked writes the buffered records to the last segment, with l.mu
// held.
func (l *Log) flushLocked() error {
	if len(l.pending) == 0 || l.err != nil {
		return l.err
	}
	if _, err := l.f.Write(l.pending); err != nil {
		l.err = fmt.Errorf("wal: write %s: %w", l.segs[len(l.segs)-1].name, err)
		return l.err
	}
	l.pending = l.pending[:0]
	return nil
}

// syncLocked fsyncs the last segment, with l.mu held.
func (l *Log) syncLocked() error {
	for l.syncing {
		l.cond.Wait()
	}
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	if l.synced >= l.written {
		return nil
	}
	target := l.written
	if err := l.syncFile(l.f); err != nil {
		l.err = fmt.Errorf("wal: fsync: %w", err)
		return l.err
	}
	l.synced = target
	return nil
}

// waitDurable is group commit: it returns once index is durable. One
// appender at a time runs the fsync, without the lock, so that others can
// write meanwhile; those then share the next fsync.
func (l *Log) waitDurable(index uint64) error {
	for l.synced < index {
		if err := l.usable(); err != nil {
			return err
		}
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncing = true
		f, target := l.f, l.written
		l.mu.Unlock()
		var err error
		if !testBreak.skipSync {
			err = f.Sync()
		}
		l.mu.Lock()
		l.syncing = false
		l.stats.Fsyncs++
		if err != nil {
			l.err = fmt.Errorf("wal: fsync: %w", err)
		} else {
			l.synced = max(l.synced, target)
		}
		l.cond.Broadcast()
	}
	return nil
}

// Sync makes every appended record durable. The fsync runs without the
// lock (as group commit's does), so that appends go on meanwhile.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	return l.waitDurable(l.written)
}

// Roll seals the last segment and starts a new one (a no-op when the last
// segment is empty). Records appended afterwards go to the new segment, so
// that TruncateFront can later drop everything before them.
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if len(l.segs[len(l.segs)-1].offsets) == 0 {
		return nil
	}
	return l.roll()
}

func (l *Log) roll() error {
	// Seal: the old segment must be whole on disk before a newer one
	// exists, or a torn record could end up in the middle of the log.
	if err := l.syncLocked(); err != nil {
		return err
	}
	// syncLocked may have waited for another goroutine's fsync, and a
	// roll may have happened meanwhile: never start a second segment
	// with the same first index.
	if len(l.segs[len(l.segs)-1].offsets) == 0 {
		return nil
	}
	old := l.f
	if err := l.createSegment(l.lastIndex() + 1); err != nil {
		l.err = err
		return err
	}
	if err := old.Close(); err != nil {
		return fmt.Errorf("wal: close segment: %w", err)
	}
	return nil
}

// Read returns record index, checking its checksum again: damage done
// after Open is reported, not returned.
func (l *Log) Read(index uint64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("wal: closed")
	}
	s, i := l.locate(index)
	if s == nil {
		return nil, fmt.Errorf("wal: record %d not in [%d, %d]", index, l.segs[0].first, l.lastIndex())
	}
	b, err := l.readRange(s, s.offsets[i], s.end(i))
	if err != nil {
		return nil, err
	}
	body, _, _, reason := scan(b, s.offsets[i], false)
	if reason != "" {
		return nil, &CorruptError{File: l.path(s.name), Offset: s.offsets[i], Reason: reason}
	}
	return body, nil
}

// locate finds the segment holding index and the record's position in it.
func (l *Log) locate(index uint64) (*segment, int) {
	k, found := slices.BinarySearchFunc(l.segs, index, func(s *segment, x uint64) int { return cmp.Compare(s.first, x) })
	if !found {
		k--
	}
	if k < 0 {
		return nil, 0
	}
	s := l.segs[k]
	i := index - s.first
	if i >= uint64(len(s.offsets)) {
		return nil, 0
	}
	return s, int(i)
}

func (l *Log) readRange(s *segment, from, to int64) ([]byte, error) {
	if err := l.flushLocked(); err != nil {
		return nil, err
	}
	f := l.f
	if s != l.segs[len(l.segs)-1] {
		if s.r == nil {
			r, err := l.fs.OpenFile(l.path(s.name), os.O_RDONLY, 0)
			if err != nil {
				return nil, fmt.Errorf("wal: %w", err)
			}
			s.r = r
		}
		f = s.r
	}
	b := make([]byte, to-from)
	if _, err := f.ReadAt(b, from); err != nil {
		return nil, fmt.Errorf("wal: read %s: %w", s.name, err)
	}
	return b, nil
}

// Iterate calls fn for each record from index from to the last, in order,
// stopping at fn's first error. It reads a segment at a time without
// holding the log, so fn may Append; it must not run alongside a
// truncation.
func (l *Log) Iterate(from uint64, fn func(index uint64, rec []byte) error) error {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return errors.New("wal: closed")
		}
		from = max(from, l.segs[0].first)
		s, i := l.locate(from)
		if s == nil {
			l.mu.Unlock()
			return nil
		}
		start, end, n := s.offsets[i], s.size, len(s.offsets)
		b, err := l.readRange(s, start, end)
		name := s.name
		first := s.first
		l.mu.Unlock()
		if err != nil {
			return err
		}
		for off := 0; i < n; i++ {
			body, size, _, reason := scan(b[off:], start+int64(off), false)
			if reason != "" {
				return &CorruptError{File: l.path(name), Offset: start + int64(off), Reason: reason}
			}
			if err := fn(first+uint64(i), body); err != nil {
				return err
			}
			off += size
		}
		from = first + uint64(n)
	}
}

// TruncateFront drops the segments whose records all come before index.
// The segment holding index stays whole, so FirstIndex may stay below
// index. The last segment is never dropped.
func (l *Log) TruncateFront(index uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	for len(l.segs) > 1 && l.segs[1].first <= index {
		s := l.segs[0]
		if s.r != nil {
			s.r.Close()
		}
		if err := l.fs.Remove(l.path(s.name)); err != nil {
			return fmt.Errorf("wal: drop segment: %w", err)
		}
		// One directory sync per removal: the oldest segment goes first,
		// so that a crash leaves a gap-free run of segments.
		if err := l.fs.SyncDir(l.dir); err != nil {
			l.err = fmt.Errorf("wal: drop segment: %w", err)
			return l.err
		}
		// A program still running after a simulated crash (memfs) calls
		// the file system by name on what the crash left: the sync above
		// may then have synced the crashed directory, where this removal
		// was undone, and removing the next segment would leave a gap.
		// The open last segment fails once its incarnation crashed, so
		// its working after the sync proves the sync came first.
		if _, err := l.f.Stat(); err != nil {
			l.err = fmt.Errorf("wal: drop segment: %w", err)
			return l.err
		}
		l.segs = l.segs[1:]
	}
	return nil
}

// TruncateBack drops every record after index; index must be at least
// FirstIndex()-1. It is durable when it returns.
func (l *Log) TruncateBack(index uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	for l.syncing {
		l.cond.Wait()
	}
	if index >= l.lastIndex() {
		return nil
	}
	if index+1 < l.segs[0].first {
		return fmt.Errorf("wal: truncate after %d, but the log starts at %d", index, l.segs[0].first)
	}
	for len(l.segs) > 1 && l.segs[len(l.segs)-1].first > index {
		s := l.segs[len(l.segs)-1]
		l.f.Close()
		if err := l.fs.Remove(l.path(s.name)); err != nil {
			l.err = fmt.Errorf("wal: drop segment: %w", err)
			return l.err
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			l.err = fmt.Errorf("wal: drop segment: %w", err)
			return l.err
		}
		l.segs = l.segs[:len(l.segs)-1]
		last := l.segs[len(l.segs)-1]
		if last.r != nil {
			last.r.Close()
			last.r = nil
		}
		f, err := l.fs.OpenFile(l.path(last.name), os.O_RDWR, 0)
		if err != nil {
			l.err = fmt.Errorf("wal: %w", err)
			return l.err
		}
		l.f = f
	}
	s := l.segs[len(l.segs)-1]
	keep := int(index + 1 - s.first)
	cut := s.size
	if keep < len(s.offsets) {
		cut = s.offsets[keep]
	}
	if err := l.f.Truncate(cut); err != nil {
		l.err = fmt.Errorf("wal: truncate: %w", err)
		return l.err
	}
	if err := l.syncFile(l.f); err != nil {
		l.err = fmt.Errorf("wal: truncate: %w", err)
		return l.err
	}
	if _, err := l.f.Seek(cut, io.SeekStart); err != nil {
		l.err = fmt.Errorf("wal: %w", err)
		return l.err
	}
	s.offsets, s.size = s.offsets[:keep], cut
	l.written = l.lastIndex()
	l.synced = min(l.synced, l.written)
	return nil
}

// Close closes the log's files. Unsynced records stay in the page cache.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing {
		l.cond.Wait()
	}
	if l.closed {
		return nil
	}
	flushErr := l.flushLocked()
	l.closed = true
	return errors.Join(flushErr, l.closeFiles())
}

func (l *Log) closeFiles() error {
	var err error
	for _, s := range l.segs {
		if s.r != nil {
			s.r.Close()
			s.r = nil
		}
	}
	if l.f != nil {
		err = l.f.Close()
		l.f = nil
	}
	return err
}
