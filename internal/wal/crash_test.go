package wal

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

const crashDir = "/data/wal"

// history is what the scripted workload did, from the log's side of the
// contract: what was ever written at each index, and what was
// acknowledged as durable.
type history struct {
	written map[uint64][][]byte // values that may legitimately be at an index
	acked   map[uint64][]byte   // must be there after any crash
	front   uint64              // a completed TruncateFront: acked records below may be gone
	pending []uint64            // written under SyncNone, acked by the next Sync
}

func newHistory() *history {
	return &history{written: map[uint64][][]byte{}, acked: map[uint64][]byte{}}
}

func payload(i int) []byte {
	return fmt.Appendf(nil, "rec-%03d-%s", i, strings.Repeat(string(rune('a'+i%26)), i*7%31))
}

// workload runs a scripted sequence of appends (single and batched),
// syncs, rollovers (small segments), a suffix truncation and a prefix
// truncation, recording into h. It stops at the first error, which is how
// a crash point ends it.
func workload(fsys *memfs.FS, p Policy, h *history) error {
	l, err := Open(fsys, crashDir, Options{SegmentSize: 120, Sync: p})
	if err != nil {
		return err
	}
	defer l.Close()
	for i := 1; i <= 14; i++ {
		recs := [][]byte{payload(i)}
		if i%4 == 0 {
			recs = append(recs, payload(100+i))
		}
		next := l.LastIndex() + 1
		for j, r := range recs {
			h.written[next+uint64(j)] = append(h.written[next+uint64(j)], r)
		}
		if _, err := l.Append(recs...); err != nil {
			return err
		}
		for j, r := range recs {
			if p == SyncNone {
				h.pending = append(h.pending, next+uint64(j))
			} else {
				h.acked[next+uint64(j)] = r
			}
		}
		if p == SyncNone && i%3 == 0 {
			if err := l.Sync(); err != nil {
				return err
			}
			for _, x := range h.pending {
				h.acked[x] = h.written[x][len(h.written[x])-1]
			}
			h.pending = nil
		}
		switch i {
		case 7:
			// Once a truncation has started, a crash may or may not have
			// let it take effect: the records it drops are no longer
			// owed, but may still be found until it returns.
			k := l.LastIndex() - 3
			for x := range h.acked {
				if x > k {
					delete(h.acked, x)
				}
			}
			h.pending = slices.DeleteFunc(h.pending, func(x uint64) bool { return x > k })
			if err := l.TruncateBack(k); err != nil {
				return err
			}
			for x := range h.written {
				if x > k {
					delete(h.written, x)
				}
			}
		case 11:
			h.front = 6
			if err := l.TruncateFront(6); err != nil {
				return err
			}
		}
	}
	return nil
}

// check opens the log after a crash and compares it with h.
func check(fsys *memfs.FS, p Policy, h *history) error {
	l, err := Open(fsys, crashDir, Options{SegmentSize: 120, Sync: p})
	if err != nil {
		return fmt.Errorf("recovery failed: %w", err)
	}
	defer l.Close()
	first, last := l.FirstIndex(), l.LastIndex()
	for x := first; x <= last; x++ {
		got, err := l.Read(x)
		if err != nil {
			return fmt.Errorf("read %d: %w", x, err)
		}
		if !slices.ContainsFunc(h.written[x], func(w []byte) bool { return bytes.Equal(w, got) }) {
			return fmt.Errorf("record %d = %q was never written there", x, got)
		}
	}
	for x, want := range h.acked {
		if x < h.front {
			continue
		}
		if x < first || x > last {
			return fmt.Errorf("acknowledged record %d lost (log holds %d..%d)", x, first, last)
		}
		if got, _ := l.Read(x); !bytes.Equal(got, want) {
			return fmt.Errorf("acknowledged record %d = %q, want %q", x, got, want)
		}
	}
	// The repair is durable and the log writable: one more record
	// survives the next crash.
	extra := []byte("after-recovery")
	idx, err := l.Append(extra)
	if err == nil {
		err = l.Sync()
	}
	if err != nil {
		return fmt.Errorf("append after recovery: %w", err)
	}
	l.Close()
	fsys.Crash()
	l2, err := Open(fsys, crashDir, Options{SegmentSize: 120, Sync: p})
	if err != nil {
		return fmt.Errorf("second recovery: %w", err)
	}
	defer l2.Close()
	if got, err := l2.Read(idx); err != nil || !bytes.Equal(got, extra) {
		return fmt.Errorf("record appended after recovery lost: %q, %v", got, err)
	}
	return nil
}

// crashPoints runs the workload once to count its mutating file system
// operations, then once per operation and crash mode: stop after that
// operation, crash (dropping unsynced data, or keeping a torn last write
// of 1 byte, half of it, all but 1 byte), recover and check. It returns
// how many crash points it explored and the failures.
func crashPoints(t *testing.T, p Policy) (explored int, failures []string) {
	t.Helper()
	probe := memfs.New()
	if err := workload(probe, p, newHistory()); err != nil {
		t.Fatalf("workload without faults: %v", err)
	}
	total := probe.Ops()
	for k := 1; k <= total; k++ {
		modes := []int{-1}
		{
			fsys := memfs.New()
			fsys.CrashAfter(k)
			_ = workload(fsys, p, newHistory())
			if n := fsys.LastWriteSize(); n > 0 {
				for _, keep := range []int{1, n / 2, n - 1} {
					if keep > 0 && !slices.Contains(modes, keep) {
						modes = append(modes, keep)
					}
				}
			}
		}
		for _, keep := range modes {
			fsys := memfs.New()
			fsys.CrashAfter(k)
			h := newHistory()
			err := workload(fsys, p, h)
			if err != nil && !errors.Is(err, memfs.ErrCrashed) {
				failures = append(failures, fmt.Sprintf("op %d: workload: %v", k, err))
				continue
			}
			if keep < 0 {
				fsys.Crash()
			} else {
				fsys.CrashTorn(keep)
			}
			explored++
			if err := check(fsys, p, h); err != nil {
				failures = append(failures, fmt.Sprintf("crash after op %d/%d (torn keep %d): %v", k, total, keep, err))
			}
		}
	}
	return explored, failures
}

func TestCrashPoints(t *testing.T) {
	for _, p := range []Policy{SyncEvery, SyncGroup, SyncNone} {
		t.Run(p.String(), func(t *testing.T) {
			explored, failures := crashPoints(t, p)
			for _, f := range failures {
				t.Error(f)
			}
			t.Logf("policy %s: %d crash points explored", p, explored)
			if explored < 50 {
				t.Fatalf("only %d crash points: the workload is not exercising the log", explored)
			}
		})
	}
}

// The checks can fail: a log that skips its fsyncs loses acknowledged
// records, and a recovery that keeps torn records invents some.
func TestCrashPointsCatchBrokenLog(t *testing.T) {
	for _, tc := range []struct {
		name  string
		knob  *bool
		wants string
	}{
		{"skip-fsync", &testBreak.skipSync, "lost"},
		{"keep-torn-tail", &testBreak.keepTorn, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*tc.knob = true
			defer func() { *tc.knob = false }()
			explored, failures := crashPoints(t, SyncEvery)
			if len(failures) == 0 {
				t.Fatalf("broken log passed all %d crash points", explored)
			}
			if !strings.Contains(strings.Join(failures, "\n"), tc.wants) {
				t.Fatalf("failures do not mention %q: %v", tc.wants, failures[0])
			}
			t.Logf("%s: %d of %d crash points caught it, e.g. %s", tc.name, len(failures), explored, failures[0])
		})
	}
}
