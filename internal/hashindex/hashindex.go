// Package hashindex is a Bitcask-style storage engine: every write is
// appended to a log segment, and an in-memory hash map (the keydir) points
// each live key at its latest record. Reads cost one positioned read;
// writes cost one append.
//
// Segments roll over at a size limit. Compaction merges every closed
// segment into one "merged" segment holding only the live records, and
// writes a hint file beside it (key and position of each record) so that
// opening the store reads hints instead of whole segments. Range scans
// must sort the keydir's keys: the price of hashing.
//
// On disk, in the directory given to Open:
//
//	NNNNNN.data    a segment: records crc32c(4) klen(4) vlen(4) key value;
//	               vlen 0xFFFFFFFF marks a tombstone (no value bytes)
//	NNNNNN.merged  the output of a compaction covering every segment up to
//	               NNNNNN; once it exists those segments are obsolete
//	NNNNNN.hint    the merged segment's index: klen(4) off(8) size(4) key
//
// A record cut short at the end of the last segment (a torn write) is
// truncated away on open; a damaged record anywhere else is refused with
// an error wrapping engine.ErrCorrupt that names the file and offset.
package hashindex

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
	"strconv"
	"strings"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Options configure a store.
type Options struct {
	FS storage.FS // storage.OS when nil
	// Sync makes every Put and Delete durable before it returns.
	Sync bool
	// SegmentBytes is the size at which the active segment is closed and a
	// new one started (default 4 MiB).
	SegmentBytes int64
	// CompactAfter is how many closed segments trigger a compaction
	// (default 4; negative: never compact automatically).
	CompactAfter int
}

const (
	headerSize = 12
	tombstone  = 0xFFFFFFFF
	maxKey     = 1 << 16
	maxValue   = 1 << 26
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type loc struct {
	seg  int    // segment id; merged segments are looked up in segs too
	off  int64  // record start
	size uint32 // whole record
}

type segment struct {
	id     int
	merged bool
	f      storage.File
	size   int64
}

func (s *segment) name(dir string) string { return segName(dir, s.id, s.merged) }

func segName(dir string, id int, merged bool) string {
	ext := ".data"
	if merged {
		ext = ".merged"
	}
	return filepath.Join(dir, fmt.Sprintf("%06d%s", id, ext))
}

// DB is a Bitcask store. It is safe for concurrent use.
type DB struct {
	mu     sync.Mutex
	fs     storage.FS
	dir    string
	o      Options
	keydir map[string]loc
	segs   map[int]*segment // open segments by id (a merged one replaces the ids it covers)
	order  []*segment       // oldest first; the last one is active
	closed bool
	// Stats, for the lesson's figures.
	BytesWritten int64
}

var _ engine.Engine = (*DB)(nil)

// Open opens or creates the store in dir.
func Open(dir string, o Options) (*DB, error) {
	if o.FS == nil {
		o.FS = storage.OS
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 4 << 20
	}
	if o.CompactAfter == 0 {
		o.CompactAfter = 4
	}
	if err := o.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db := &DB{fs: o.FS, dir: dir, o: o, keydir: map[string]loc{}, segs: map[int]*segment{}}
	if err := db.load(); err != nil {
		db.closeFiles()
		return nil, err
	}
	return db, nil
}

func (db *DB) load() error {
	entries, err := db.fs.ReadDir(db.dir)
	if err != nil {
		return err
	}
	var data []int
	merged := -1
	for _, e := range entries {
		name := e.Name()
		base, ext, _ := strings.Cut(name, ".")
		id, err := strconv.Atoi(base)
		if err != nil {
			continue
		}
		switch ext {
		case "data":
			data = append(data, id)
		case "merged":
			merged = max(merged, id)
		}
	}
	// Finish an interrupted compaction: the newest merged segment makes
	// every older segment obsolete.
	for _, e := range entries {
		base, ext, _ := strings.Cut(e.Name(), ".")
		id, err := strconv.Atoi(base)
		if err != nil || merged < 0 {
			continue
		}
		obsolete := (ext == "data" && id <= merged) || (ext == "merged" && id < merged) ||
			(ext == "hint" && id < merged) || strings.HasSuffix(e.Name(), ".tmp")
		if obsolete {
			if err := db.fs.Remove(filepath.Join(db.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	data = slices.DeleteFunc(data, func(id int) bool { return id <= merged })
	slices.Sort(data)
	if merged >= 0 {
		s, err := db.openSeg(merged, true)
		if err != nil {
			return err
		}
		if err := db.loadHint(s); err != nil {
			return err
		}
	}
	for i, id := range data {
		s, err := db.openSeg(id, false)
		if err != nil {
			return err
		}
		if err := db.scanSeg(s, i == len(data)-1); err != nil {
			return err
		}
	}
	if len(data) == 0 {
		return db.newActive(merged + 1)
	}
	return nil
}

func (db *DB) openSeg(id int, merged bool) (*segment, error) {
	s := &segment{id: id, merged: merged}
	flag := os.O_RDWR
	f, err := db.fs.OpenFile(s.name(db.dir), flag, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	s.f, s.size = f, st.Size()
	db.segs[id] = s
	db.order = append(db.order, s)
	return s, nil
}

func (db *DB) newActive(id int) error {
	f, err := db.fs.OpenFile(segName(db.dir, id, false), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := db.fs.SyncDir(db.dir); err != nil {
		f.Close()
		return err
	}
	s := &segment{id: id, f: f}
	db.segs[id] = s
	db.order = append(db.order, s)
	return nil
}

func corrupt(name string, off int64, why string) error {
	return fmt.Errorf("%w: %s at offset %d: %s", engine.ErrCorrupt, name, off, why)
}

// scanSeg replays a segment into the keydir. In the last segment a record
// cut short by the end of the file is a torn write and is truncated away.
func (db *DB) scanSeg(s *segment, last bool) error {
	name := s.name(db.dir)
	buf := make([]byte, s.size)
	if _, err := s.f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	off := int64(0)
	for off < s.size {
		rest := buf[off:]
		torn := func(why string) error {
			if !last {
				return corrupt(name, off, why)
			}
			if err := s.f.Truncate(off); err != nil {
				return err
			}
			if _, err := s.f.Seek(off, io.SeekStart); err != nil {
				return err
			}
			s.size = off
			return s.f.Sync()
		}
		if len(rest) < headerSize {
			return torn("short header")
		}
		klen := binary.LittleEndian.Uint32(rest[4:])
		vlen := binary.LittleEndian.Uint32(rest[8:])
		body := int64(klen)
		if vlen != tombstone {
			body += int64(vlen)
		}
		if klen > maxKey || (vlen != tombstone && vlen > maxValue) {
			return torn("impossible lengths")
		}
		if int64(len(rest)) < headerSize+body {
			return torn("record runs past the end of the file")
		}
		size := headerSize + body
		if crc32.Checksum(rest[4:size], castagnoli) != binary.LittleEndian.Uint32(rest) {
			if off+size == s.size {
				return torn("checksum mismatch in the last record")
			}
			return corrupt(name, off, "checksum mismatch")
		}
		key := string(rest[headerSize : headerSize+klen])
		if vlen == tombstone {
			delete(db.keydir, key)
		} else {
			db.keydir[key] = loc{seg: s.id, off: off, size: uint32(size)}
		}
		off += size
	}
	return nil
}

func (db *DB) loadHint(s *segment) error {
	name := filepath.Join(db.dir, fmt.Sprintf("%06d.hint", s.id))
	b, err := storage.ReadFile(db.fs, name)
	if err != nil {
		return db.scanSeg(s, false) // no hint: read the segment itself
	}
	if len(b) < 4 || crc32.Checksum(b[4:], castagnoli) != binary.LittleEndian.Uint32(b) {
		return db.scanSeg(s, false)
	}
	b = b[4:]
	for len(b) > 0 {
		if len(b) < 16 {
			return corrupt(name, 0, "short hint entry")
		}
		klen := binary.LittleEndian.Uint32(b)
		off := int64(binary.LittleEndian.Uint64(b[4:]))
		size := binary.LittleEndian.Uint32(b[12:])
		if int64(len(b)) < 16+int64(klen) || off+int64(size) > s.size {
			return corrupt(name, 0, "hint entry out of range")
		}
		db.keydir[string(b[16:16+klen])] = loc{seg: s.id, off: off, size: size}
		b = b[16+klen:]
	}
	return nil
}

func encode(dst, key, value []byte, tomb bool) []byte {
	vlen := uint32(len(value))
	if tomb {
		vlen, value = tombstone, nil
	}
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(key)))
	dst = binary.LittleEndian.AppendUint32(dst, vlen)
	dst = append(dst, key...)
	dst = append(dst, value...)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// Get returns the value of key.
func (db *DB) Get(key []byte) ([]byte, bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, false, engine.ErrClosed
	}
	l, ok := db.keydir[string(key)]
	if !ok {
		return nil, false, nil
	}
	v, err := db.read(l)
	return v, err == nil, err
}

func (db *DB) read(l loc) ([]byte, error) {
	s := db.segs[l.seg]
	buf := make([]byte, l.size)
	if _, err := s.f.ReadAt(buf, l.off); err != nil {
		return nil, fmt.Errorf("%s at offset %d: %w", s.name(db.dir), l.off, err)
	}
	if crc32.Checksum(buf[4:], castagnoli) != binary.LittleEndian.Uint32(buf) {
		return nil, corrupt(s.name(db.dir), l.off, "checksum mismatch")
	}
	klen := binary.LittleEndian.Uint32(buf[4:])
	return buf[headerSize+klen:], nil
}

// Put sets key to value.
func (db *DB) Put(key, value []byte) error { return db.write(key, value, false) }

// Delete removes key.
func (db *DB) Delete(key []byte) error { return db.write(key, nil, true) }

func (db *DB) write(key, value []byte, tomb bool) error {
	if len(key) > maxKey || len(value) > maxValue {
		return engine.ErrTooLarge
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return engine.ErrClosed
	}
	if tomb {
		if _, ok := db.keydir[string(key)]; !ok {
			return nil // nothing to delete: no tombstone needed
		}
	}
	s := db.order[len(db.order)-1]
	rec := encode(nil, key, value, tomb)
	if _, err := s.f.Write(rec); err != nil {
		return err
	}
	if db.o.Sync {
		if err := s.f.Sync(); err != nil {
			return err
		}
	}
	db.BytesWritten += int64(len(rec))
	if tomb {
		delete(db.keydir, string(key))
	} else {
		db.keydir[string(key)] = loc{seg: s.id, off: s.size, size: uint32(len(rec))}
	}
	s.size += int64(len(rec))
	if s.size >= db.o.SegmentBytes {
		return db.rollover()
	}
	return nil
}

func (db *DB) rollover() error {
	s := db.order[len(db.order)-1]
	if err := s.f.Sync(); err != nil {
		return err
	}
	if err := db.newActive(s.id + 1); err != nil {
		return err
	}
	if db.o.CompactAfter > 0 && len(db.order)-1 >= db.o.CompactAfter {
		return db.compact()
	}
	return nil
}

// Compact merges every closed segment into one merged segment with a hint
// file, keeping only the records the keydir points at.
func (db *DB) Compact() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return engine.ErrClosed
	}
	return db.compact()
}

func (db *DB) compact() error {
	old := db.order[:len(db.order)-1]
	if len(old) == 0 || (len(old) == 1 && old[0].merged) {
		return nil
	}
	top := old[len(old)-1].id
	inOld := map[int]bool{}
	for _, s := range old {
		inOld[s.id] = true
	}
	var keys []string
	for k, l := range db.keydir {
		if inOld[l.seg] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // a deterministic layout
	tmp := segName(db.dir, top, true) + ".tmp"
	f, err := db.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	var out, hint []byte
	hint = append(hint, 0, 0, 0, 0)
	newLocs := make([]loc, len(keys))
	for i, k := range keys {
		l := db.keydir[k]
		v, err := db.read(l)
		if err != nil {
			f.Close()
			return err
		}
		off := int64(len(out))
		out = encode(out, []byte(k), v, false)
		newLocs[i] = loc{seg: top, off: off, size: uint32(int64(len(out)) - off)}
		hint = binary.LittleEndian.AppendUint32(hint, uint32(len(k)))
		hint = binary.LittleEndian.AppendUint64(hint, uint64(off))
		hint = binary.LittleEndian.AppendUint32(hint, newLocs[i].size)
		hint = append(hint, k...)
	}
	binary.LittleEndian.PutUint32(hint, crc32.Checksum(hint[4:], castagnoli))
	_, err = f.Write(out)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = storage.WriteFileAtomic(db.fs, filepath.Join(db.dir, fmt.Sprintf("%06d.hint", top)), hint, 0o644)
	}
	if err == nil {
		// The commit point: from here on, opening the store uses the
		// merged segment and removes the ones it covers.
		err = db.fs.Rename(tmp, segName(db.dir, top, true))
	}
	if err == nil {
		err = db.fs.SyncDir(db.dir)
	}
	if err != nil {
		f.Close()
		_ = db.fs.Remove(tmp)
		return err
	}
	db.BytesWritten += int64(len(out) + len(hint))
	for _, s := range old {
		s.f.Close()
		delete(db.segs, s.id)
		_ = db.fs.Remove(s.name(db.dir))
		if s.merged {
			_ = db.fs.Remove(filepath.Join(db.dir, fmt.Sprintf("%06d.hint", s.id)))
		}
	}
	m := &segment{id: top, merged: true, f: f, size: int64(len(out))}
	db.segs[top] = m
	db.order = append([]*segment{m}, db.order[len(db.order)-1])
	for i, k := range keys {
		db.keydir[k] = newLocs[i]
	}
	return nil
}

// Scan calls fn for the keys in [start, end) in order. It sorts the
// matching keys of the keydir first: a hash index has no order of its own.
func (db *DB) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return engine.ErrClosed
	}
	var keys []string
	for k := range db.keydir {
		kb := []byte(k)
		if bytes.Compare(kb, start) >= 0 && (end == nil || bytes.Compare(kb, end) < 0) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := db.read(db.keydir[k])
		if err != nil {
			return err
		}
		if !fn([]byte(k), v) {
			return nil
		}
	}
	return nil
}

// Segments is the number of segment files, merged one included.
func (db *DB) Segments() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.order)
}

// Close syncs and closes the store.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	err := db.order[len(db.order)-1].f.Sync()
	if cerr := db.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (db *DB) closeFiles() error {
	var err error
	for _, s := range db.order {
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
