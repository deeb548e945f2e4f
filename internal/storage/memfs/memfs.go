// Package memfs is an in-memory storage.FS that knows what a crash would
// keep, and injects the faults a disk can show.
//
// Every file has a volatile state (what reads see now: the page cache) and
// a durable state (what survives a crash: the disk). File.Sync copies a
// file's volatile content to its durable content; FS.SyncDir copies the
// volatile entries of one directory (creations, renames, removals) to its
// durable entries. Crash throws the volatile state away: afterwards every
// name maps to what was durable, and every open File of the old
// incarnation fails with ErrCrashed, so a program that is still running
// when its node is "killed" cannot write into the next incarnation.
//
// This is the strict POSIX reading, stricter than ext4 in its default
// mode: a file created and fsynced but whose directory was never synced is
// gone after a crash. Directories made by MkdirAll are durable at once (a
// simplification: engines create their directory once, at start).
//
// Faults (faults.go) are what crash-point tests and the grader's
// in-process kill use: CrashAfter stops the file system after its N-th
// write or sync, so that a test can enumerate every crash point of a
// workload; Crash can tear the last unsynced write instead of dropping it;
// FlipBit damages data at rest.
package memfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// ErrCrashed is returned by every call on a File opened before a crash, and
// by every call on the FS after an injected crash point (CrashAfter) until
// Restart.
var ErrCrashed = errors.New("memfs: crashed")

// inode is one file's contents.
type inode struct {
	data    []byte // volatile: what reads see
	durable []byte // what a crash keeps
	// pending lists the writes since the last sync, in order, so that a
	// crash can keep a prefix of them (a torn write).
	pending []write
	modTime time.Time
}

// write is one unsynced change: data at off, or a truncation to size
// (data nil, trunc true).
type write struct {
	off   int64
	data  []byte
	trunc bool
	size  int64
}

// FS is an in-memory file system with durable and volatile state. The zero
// value is not usable; call New.
type FS struct {
	mu sync.Mutex
	// files and durableFiles map clean slash paths to inodes: the volatile
	// and the durable directory entries.
	files        map[string]*inode
	durableFiles map[string]*inode
	dirs         map[string]bool
	epoch        int // incremented by every crash; Files of older epochs fail

	// Fault state (faults.go).
	ops        int    // writes and syncs counted so far
	crashAfter int    // stop after this many ops; 0 means never
	stopped    bool   // a crash point was reached: every call fails
	lastWrite  *inode // the inode of the most recent unsynced write
}

var _ storage.FS = (*FS)(nil)

// New returns an empty file system holding the root directory.
func New() *FS {
	return &FS{files: map[string]*inode{}, durableFiles: map[string]*inode{}, dirs: map[string]bool{"/": true, ".": true}}
}

func clean(name string) string {
	return path.Clean(filepath.ToSlash(name))
}

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// anyEpoch: a call through the FS itself, which outlives crashes.
const anyEpoch = -1

// check fails a call after an injected crash point, and a call through
// the Incarnation of an epoch a crash ended.
func (m *FS) check(epoch int) error {
	if m.stopped || epoch != anyEpoch && epoch != m.epoch {
		return ErrCrashed
	}
	return nil
}

// Incarnation returns the file system as one run of a program sees it:
// once the FS crashes, every call through it fails with ErrCrashed, as its
// open Files do. A killed process can no longer rename, remove or sync
// anything by name, so work it left running (a background flush, a
// compaction) must not change what the next run finds either. Give every
// run of a program its own Incarnation; the FS itself serves the harness
// that crashes, inspects and damages it.
func (m *FS) Incarnation() storage.FS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return incarnation{m: m, epoch: m.epoch}
}

type incarnation struct {
	m     *FS
	epoch int
}

func (v incarnation) OpenFile(name string, flag int, perm fs.FileMode) (storage.File, error) {
	return v.m.openFile(v.epoch, name, flag, perm)
}
func (v incarnation) Remove(name string) error { return v.m.remove(v.epoch, name) }
func (v incarnation) Rename(oldpath, newpath string) error {
	return v.m.rename(v.epoch, oldpath, newpath)
}
func (v incarnation) MkdirAll(name string, perm fs.FileMode) error {
	return v.m.mkdirAll(v.epoch, name, perm)
}
func (v incarnation) ReadDir(name string) ([]fs.DirEntry, error) { return v.m.readDir(v.epoch, name) }
func (v incarnation) Stat(name string) (fs.FileInfo, error)      { return v.m.stat(v.epoch, name) }
func (v incarnation) SyncDir(name string) error                  { return v.m.syncDir(v.epoch, name) }

// openFile is OpenFile for the calls of one epoch (anyEpoch: any).
func (m *FS) openFile(epoch int, name string, flag int, perm fs.FileMode) (storage.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(epoch); err != nil {
		return nil, pathErr("open", name, err)
	}
	p := clean(name)
	if m.dirs[p] {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, pathErr("open", name, errors.New("is a directory"))
		}
		return &File{m: m, name: name, dir: true, epoch: m.epoch}, nil
	}
	ino := m.files[p]
	if ino == nil {
		if flag&os.O_CREATE == 0 {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		if !m.dirs[path.Dir(p)] {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		ino = &inode{modTime: time.Now()}
		m.files[p] = ino
	} else if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
		return nil, pathErr("open", name, fs.ErrExist)
	}
	f := &File{m: m, name: name, ino: ino, flag: flag, epoch: m.epoch}
	if flag&os.O_TRUNC != 0 && flag&(os.O_WRONLY|os.O_RDWR) != 0 && len(ino.data) > 0 {
		if err := m.truncate(ino, 0); err != nil {
			return nil, pathErr("open", name, err)
		}
	}
	return f, nil
}

// OpenFile opens name with os.OpenFile's flags.
func (m *FS) OpenFile(name string, flag int, perm fs.FileMode) (storage.File, error) {
	return m.openFile(anyEpoch, name, flag, perm)
}

// remove is Remove for the calls of one epoch (anyEpoch: any).
func (m *FS) remove(epoch int, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(epoch); err != nil {
		return pathErr("remove", name, err)
	}
	p := clean(name)
	if m.dirs[p] {
		for q := range m.files {
			if path.Dir(q) == p {
				return pathErr("remove", name, errors.New("directory not empty"))
			}
		}
		for q := range m.dirs {
			if q != p && path.Dir(q) == p {
				return pathErr("remove", name, errors.New("directory not empty"))
			}
		}
		delete(m.dirs, p)
		return nil
	}
	if m.files[p] == nil {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	delete(m.files, p)
	return m.countOp()
}

// Remove removes a file or an empty directory.
func (m *FS) Remove(name string) error { return m.remove(anyEpoch, name) }

// rename is Rename for the calls of one epoch (anyEpoch: any).
func (m *FS) rename(epoch int, oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(epoch); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	o, n := clean(oldpath), clean(newpath)
	ino := m.files[o]
	if ino == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if !m.dirs[path.Dir(n)] {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	delete(m.files, o)
	m.files[n] = ino
	return m.countOp()
}

// Rename moves a file, replacing newpath if it exists.
func (m *FS) Rename(oldpath, newpath string) error { return m.rename(anyEpoch, oldpath, newpath) }

// mkdirAll is MkdirAll for the calls of one epoch (anyEpoch: any).
func (m *FS) mkdirAll(epoch int, name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(epoch); err != nil {
		return pathErr("mkdir", name, err)
	}
	p := clean(name)
	for q := p; !m.dirs[q]; q = path.Dir(q) {
		if m.files[q] != nil {
			return pathErr("mkdir", q, errors.New("not a directory"))
		}
		m.dirs[q] = true
	}
	return nil
}

// MkdirAll makes a directory and its parents; they are durable at once.
func (m *FS) MkdirAll(name string, perm fs.FileMode) error { return m.mkdirAll(anyEpoch, name, perm) }

// readDir is ReadDir for the calls of one epoch (anyEpoch: any).
func (m *FS) readDir(epoch int, name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(epoch); err != nil {
		return nil, pathErr("readdir", name, err)
	}
	p := clean(name)
	if !m.dirs[p] {
		return nil, pathErr("readdir", name, fs.ErrNotExist)
	}
	var out []fs.DirEntry
	for q, ino := range m.files {
		if path.Dir(q) == p {
			out = append(out, fs.FileInfoToDirEntry(fileInfo{name: path.Base(q), size: int64(len(ino.data)), mod: ino.modTime}))
		}
	}
	for q := range m.dirs {
		if q != p && path.Dir(q) == p {
			out = append(out, fs.FileInfoToDirEntry(fileInfo{name: path.Base(q), dir: true}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// ReadDir lists a directory, sorted by name.
func (m *FS) ReadDir(name string) ([]fs.DirEntry, error) { return m.readDir(anyEpoch, name) }

// stat is Stat for the calls of one epoch (anyEpoch: any).
func (m *FS) stat(epoch int, name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(epoch); err != nil {
		return nil, pathErr("stat", name, err)
	}
	p := clean(name)
	if m.dirs[p] {
		return fileInfo{name: path.Base(p), dir: true}, nil
	}
	ino := m.files[p]
	if ino == nil {
		return nil, pathErr("stat", name, fs.ErrNotExist)
	}
	return fileInfo{name: path.Base(p), size: int64(len(ino.data)), mod: ino.modTime}, nil
}

// Stat describes a file or directory.
func (m *FS) Stat(name string) (fs.FileInfo, error) { return m.stat(anyEpoch, name) }

// syncDir is SyncDir for the calls of one epoch (anyEpoch: any).
func (m *FS) syncDir(epoch int, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(epoch); err != nil {
		return pathErr("syncdir", name, err)
	}
	p := clean(name)
	if !m.dirs[p] {
		return pathErr("syncdir", name, fs.ErrNotExist)
	}
	for q := range m.durableFiles {
		if path.Dir(q) == p && m.files[q] == nil {
			delete(m.durableFiles, q)
		}
	}
	for q, ino := range m.files {
		if path.Dir(q) == p {
			m.durableFiles[q] = ino
		}
	}
	return m.countOp()
}

// SyncDir makes the directory's current entries durable.
func (m *FS) SyncDir(name string) error { return m.syncDir(anyEpoch, name) }

// truncate changes ino's volatile size; called with m.mu held.
func (m *FS) truncate(ino *inode, size int64) error {
	if size < int64(len(ino.data)) {
		ino.data = ino.data[:size:size]
	} else {
		ino.data = append(ino.data, make([]byte, size-int64(len(ino.data)))...)
	}
	ino.pending = append(ino.pending, write{trunc: true, size: size})
	ino.modTime = time.Now()
	m.lastWrite = ino
	return m.countOp()
}

// writeAt writes p at off into ino's volatile state; called with m.mu held.
func (m *FS) writeAt(ino *inode, p []byte, off int64) error {
	end := off + int64(len(p))
	if end > int64(len(ino.data)) {
		if end <= int64(cap(ino.data)) {
			ino.data = ino.data[:end]
		} else {
			grown := make([]byte, end, max(end, 2*int64(cap(ino.data))))
			copy(grown, ino.data)
			ino.data = grown
		}
	}
	copy(ino.data[off:], p)
	ino.pending = append(ino.pending, write{off: off, data: slices.Clone(p)})
	ino.modTime = time.Now()
	m.lastWrite = ino
	return m.countOp()
}

// sync makes ino's volatile content durable; called with m.mu held.
func (m *FS) sync(ino *inode) error {
	ino.durable = slices.Clone(ino.data)
	ino.pending = nil
	if m.lastWrite == ino {
		m.lastWrite = nil
	}
	return m.countOp()
}

// Files lists the regular files, sorted, as clean slash paths.
func (m *FS) Files() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.files))
	for p := range m.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// FilesUnder lists the regular files under dir (recursively), sorted.
func (m *FS) FilesUnder(dir string) []string {
	d := clean(dir)
	var out []string
	for _, p := range m.Files() {
		if strings.HasPrefix(p, d+"/") || d == "/" || d == "." {
			out = append(out, p)
		}
	}
	return out
}

type fileInfo struct {
	name string
	size int64
	dir  bool
	mod  time.Time
}

func (i fileInfo) Name() string { return i.name }
func (i fileInfo) Size() int64  { return i.size }
func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }

// File is an open file of an FS.
type File struct {
	m      *FS
	name   string
	ino    *inode
	dir    bool
	flag   int
	pos    int64
	epoch  int
	closed bool
}

var _ storage.File = (*File)(nil)

func (f *File) check(op string) error {
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if f.epoch != f.m.epoch {
		return pathErr(op, f.name, ErrCrashed)
	}
	if err := f.m.check(anyEpoch); err != nil {
		return pathErr(op, f.name, err)
	}
	return nil
}

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.name }

func (f *File) Read(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if f.dir {
		return 0, pathErr("read", f.name, errors.New("is a directory"))
	}
	if f.pos >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[f.pos:])
	f.pos += int64(n)
	return n, nil
}

// ReadAt reads at off without moving the file position.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if f.dir {
		return 0, pathErr("read", f.name, errors.New("is a directory"))
	}
	if off < 0 {
		return 0, pathErr("readat", f.name, errors.New("negative offset"))
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *File) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if f.dir || f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, pathErr("write", f.name, errors.New("bad file descriptor"))
	}
	if f.flag&os.O_APPEND != 0 {
		f.pos = int64(len(f.ino.data))
	}
	if err := f.m.writeAt(f.ino, p, f.pos); err != nil {
		// The crash point is this write: it happened (it may be torn),
		// but the caller never learns that it succeeded.
		return 0, pathErr("write", f.name, err)
	}
	f.pos += int64(len(p))
	return len(p), nil
}

// Seek sets the position for the next Read or Write.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("seek"); err != nil {
		return 0, err
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.pos
	case io.SeekEnd:
		if !f.dir {
			base = int64(len(f.ino.data))
		}
	default:
		return 0, pathErr("seek", f.name, errors.New("bad whence"))
	}
	if base+offset < 0 {
		return 0, pathErr("seek", f.name, errors.New("negative position"))
	}
	f.pos = base + offset
	return f.pos, nil
}

// Close closes the file; unsynced data stays volatile.
func (f *File) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// Stat describes the file.
func (f *File) Stat() (fs.FileInfo, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	if f.dir {
		return fileInfo{name: path.Base(clean(f.name)), dir: true}, nil
	}
	return fileInfo{name: path.Base(clean(f.name)), size: int64(len(f.ino.data)), mod: f.ino.modTime}, nil
}

// Sync makes the file's content durable (not its name: see FS.SyncDir).
func (f *File) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("sync"); err != nil {
		return err
	}
	if f.dir {
		return nil
	}
	if err := f.m.sync(f.ino); err != nil {
		return pathErr("sync", f.name, err)
	}
	return nil
}

// Truncate changes the file's size.
func (f *File) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("truncate"); err != nil {
		return err
	}
	if f.dir || f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return pathErr("truncate", f.name, errors.New("bad file descriptor"))
	}
	if size < 0 {
		return pathErr("truncate", f.name, errors.New("negative size"))
	}
	if err := f.m.truncate(f.ino, size); err != nil {
		return pathErr("truncate", f.name, err)
	}
	return nil
}
