package memfs

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
)

// Ops returns how many mutating operations (writes, truncations, syncs,
// directory syncs, renames, removals) the file system has done since New.
// Running a workload once without faults and reading Ops gives the number
// of crash points to enumerate.
func (m *FS) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// CrashAfter makes the n-th mutating operation since New the last one: it
// takes effect (a write lands in the page cache, a sync reaches the disk)
// but fails with ErrCrashed, and so does every later call until Crash. n
// <= 0 turns the crash point off.
func (m *FS) CrashAfter(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashAfter = n
	if n > 0 && m.ops >= n {
		m.stopped = true
	}
}

// Stopped reports whether a crash point set by CrashAfter was reached.
func (m *FS) Stopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

// countOp counts one mutating operation; called with m.mu held, after the
// operation took effect.
func (m *FS) countOp() error {
	m.ops++
	if m.crashAfter > 0 && m.ops >= m.crashAfter {
		m.stopped = true
		return ErrCrashed
	}
	return nil
}

// Crash simulates a power failure: everything not synced is lost. Files
// and directory entries go back to their durable state, open Files fail
// with ErrCrashed from now on, and a crash point set by CrashAfter is
// cleared so that the next incarnation can run.
func (m *FS) Crash() { m.crash(-1) }

// CrashTorn is Crash, except that the file written last keeps its unsynced
// writes but the last one, and the first keep bytes of the last one (a
// write torn by the power failure; keep is clamped to the write's length).
// A truncation is never torn. Other files lose their unsynced writes.
func (m *FS) CrashTorn(keep int) { m.crash(keep) }

// LastWriteSize returns the length of the most recent unsynced write, 0 if
// there is none: the useful range of CrashTorn's keep.
func (m *FS) LastWriteSize() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastWrite == nil || len(m.lastWrite.pending) == 0 {
		return 0
	}
	return len(m.lastWrite.pending[len(m.lastWrite.pending)-1].data)
}

func (m *FS) crash(keep int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	torn := m.lastWrite
	for _, ino := range m.durableFiles {
		content := ino.durable
		if ino == torn && keep >= 0 {
			content = applyTorn(ino.durable, ino.pending, keep)
		}
		// Separate copies: writes to the page cache must not reach the disk.
		ino.data, ino.durable, ino.pending = slices.Clone(content), content, nil
	}
	m.files = maps.Clone(m.durableFiles)
	m.epoch++
	m.stopped, m.crashAfter, m.lastWrite = false, 0, nil
}

// applyTorn replays pending on a copy of durable, the last write cut to
// its first keep bytes.
func applyTorn(durable []byte, pending []write, keep int) []byte {
	out := append([]byte(nil), durable...)
	for i, w := range pending {
		if w.trunc {
			if w.size <= int64(len(out)) {
				out = out[:w.size]
			} else {
				out = append(out, make([]byte, w.size-int64(len(out)))...)
			}
			continue
		}
		data := w.data
		if i == len(pending)-1 {
			data = data[:min(keep, len(data))]
		}
		if end := w.off + int64(len(data)); end > int64(len(out)) {
			out = append(out, make([]byte, end-int64(len(out)))...)
		}
		copy(out[w.off:], data)
	}
	return out
}

// FlipBit flips bit number bit (counting from the first byte's lowest bit)
// of name, in the data at rest and in what reads see: damage a crash does
// not repair.
func (m *FS) FlipBit(name string, bit int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ino := m.files[clean(name)]
	if ino == nil {
		return pathErr("flipbit", name, fs.ErrNotExist)
	}
	i := bit / 8
	if bit < 0 || i >= int64(len(ino.data)) {
		return pathErr("flipbit", name, fmt.Errorf("bit %d beyond the file's %d bytes", bit, len(ino.data)))
	}
	ino.data[i] ^= 1 << (bit % 8)
	if i < int64(len(ino.durable)) {
		ino.durable[i] ^= 1 << (bit % 8)
	}
	return nil
}
