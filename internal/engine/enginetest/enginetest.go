// Package enginetest checks a storage engine against a map model: random
// puts, deletes, gets and range scans, with the engine closed and reopened
// or crashed (on memfs, losing every unsynced write) at random points,
// must give the map's answers. CrashPoints crashes a scripted workload at
// every write and sync the engine makes and checks what recovery keeps.
// Every engine of the indexes track runs both from its own tests.
package enginetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

// Opener opens (or reopens) the engine stored in dir on fsys, with every
// write durable when it returns (the engine's sync option on).
type Opener func(fsys storage.FS, dir string) (engine.Engine, error)

// Options tune the property test.
type Options struct {
	Steps    int // operations per check (default 300)
	MaxValue int // longest value in bytes (default 64)
	Keys     int // key space (default 64)
	// KeyBytes pads keys to this length, to fill pages sooner.
	KeyBytes int
}

// Run is the property test: the engine at every step agrees with a map.
func Run(t *testing.T, open Opener, o Options) {
	if o.Steps == 0 {
		o.Steps = 300
	}
	if o.MaxValue == 0 {
		o.MaxValue = 64
	}
	if o.Keys == 0 {
		o.Keys = 64
	}
	rapid.Check(t, func(t *rapid.T) {
		fsys, dir := memfs.New(), "/db"
		e, err := open(fsys.Incarnation(), dir)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer func() { e.Close() }()
		model := map[string][]byte{}
		key := func(k int) []byte {
			s := fmt.Sprintf("k%04d", k)
			for len(s) < o.KeyBytes {
				s += "."
			}
			return []byte(s)
		}
		keyGen := rapid.IntRange(0, o.Keys-1)
		for step := range rapid.IntRange(1, o.Steps).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 4:
				k := key(keyGen.Draw(t, "key"))
				v := bytes.Repeat([]byte{byte('a' + step%26)}, rapid.IntRange(0, o.MaxValue).Draw(t, "len"))
				if err := e.Put(k, v); err != nil {
					t.Fatalf("Put(%s): %v", k, err)
				}
				model[string(k)] = v
			case op < 6:
				k := key(keyGen.Draw(t, "key"))
				if err := e.Delete(k); err != nil {
					t.Fatalf("Delete(%s): %v", k, err)
				}
				delete(model, string(k))
			case op < 8:
				k := key(keyGen.Draw(t, "key"))
				v, ok, err := e.Get(k)
				want, wok := model[string(k)]
				if err != nil || ok != wok || !bytes.Equal(v, want) {
					t.Fatalf("step %d: Get(%s) = %q, %v, %v; want %q, %v", step, k, v, ok, err, want, wok)
				}
			case op < 9:
				a, b := keyGen.Draw(t, "from"), keyGen.Draw(t, "to")
				limit := rapid.IntRange(1, o.Keys).Draw(t, "limit")
				checkScan(t, e, model, key(a), key(b), limit)
			default:
				if rapid.Bool().Draw(t, "crash") {
					fsys.Crash() // every write was acknowledged, so all must survive
					// The dead incarnation's files fail from now on; Close
					// only stops what it still runs (background work).
					e.Close()
				} else if err := e.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if e, err = open(fsys.Incarnation(), dir); err != nil {
					t.Fatalf("reopen: %v", err)
				}
			}
		}
		checkScan(t, e, model, nil, nil, len(model)+1)
		if err := e.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if e, err = open(fsys.Incarnation(), dir); err != nil {
			t.Fatalf("reopen: %v", err)
		}
		checkScan(t, e, model, nil, nil, len(model)+1)
	})
}

// CrashPoints runs a scripted workload (steps puts and deletes over a few
// keys) once to count the file system operations it makes, then once per
// operation with the file system stopped right after it, crashes, reopens
// and checks: every acknowledged put or delete is there, and a key the
// interrupted operation touched holds its old or its new state, nothing
// else. It returns the number of crash points explored.
func CrashPoints(t *testing.T, open Opener, steps int) int {
	t.Helper()
	type op struct {
		key   []byte
		value []byte // nil: delete
	}
	var script []op
	for i := range steps {
		k := []byte(fmt.Sprintf("k%02d", (i*7)%11))
		if i%5 == 4 {
			script = append(script, op{key: k})
		} else {
			script = append(script, op{key: k, value: []byte(fmt.Sprintf("v%03d-%s", i, bytes.Repeat([]byte{'x'}, i%40)))})
		}
	}
	run := func(fsys *memfs.FS) (acked map[string][]byte, pending *op, err error) {
		acked = map[string][]byte{}
		e, err := open(fsys.Incarnation(), "/db")
		if err != nil {
			return acked, nil, err
		}
		// After a crash point every call fails; closing stops the
		// engine's background work before the next incarnation opens.
		defer func() {
			if err != nil {
				e.Close()
			}
		}()
		for i := range script {
			o := &script[i]
			if o.value == nil {
				err = e.Delete(o.key)
			} else {
				err = e.Put(o.key, o.value)
			}
			if err != nil {
				return acked, o, err
			}
			if o.value == nil {
				delete(acked, string(o.key))
			} else {
				acked[string(o.key)] = o.value
			}
		}
		return acked, nil, e.Close()
	}
	clean := memfs.New()
	if _, _, err := run(clean); err != nil {
		t.Fatalf("workload without faults: %v", err)
	}
	points := clean.Ops()
	for n := 1; n <= points; n++ {
		fsys := memfs.New()
		fsys.CrashAfter(n)
		acked, pending, _ := run(fsys)
		fsys.Crash()
		e, err := open(fsys.Incarnation(), "/db")
		if err != nil {
			t.Fatalf("crash point %d/%d: reopen: %v", n, points, err)
		}
		got := map[string][]byte{}
		if err := e.Scan(nil, nil, func(k, v []byte) bool { got[string(k)] = bytes.Clone(v); return true }); err != nil {
			t.Fatalf("crash point %d/%d: scan: %v", n, points, err)
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			seen := map[string]bool{}
			for k := range acked {
				seen[k] = true
				if !yield(k) {
					return
				}
			}
			for k := range got {
				if !seen[k] && !yield(k) {
					return
				}
			}
		}) {
			want, had := acked[k]
			v, ok := got[k]
			if ok == had && bytes.Equal(v, want) {
				continue
			}
			if pending != nil && string(pending.key) == k && ok == (pending.value != nil) && bytes.Equal(v, pending.value) {
				continue // the interrupted operation took effect: allowed
			}
			t.Fatalf("crash point %d/%d: key %s = %q (present %v) after recovery; acknowledged state %q (present %v)", n, points, k, v, ok, want, had)
		}
		e.Close()
	}
	return points
}

func checkScan(t *rapid.T, e engine.Engine, model map[string][]byte, from, to []byte, limit int) {
	var want []string
	for k := range model {
		if bytes.Compare([]byte(k), from) >= 0 && (to == nil || bytes.Compare([]byte(k), to) < 0) {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	if len(want) > limit {
		want = want[:limit]
	}
	var got []string
	err := e.Scan(from, to, func(k, v []byte) bool {
		if !bytes.Equal(v, model[string(k)]) {
			t.Fatalf("Scan(%s, %s): %s = %q, want %q", from, to, k, v, model[string(k)])
		}
		got = append(got, string(k))
		return len(got) < limit
	})
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Scan(%s, %s, limit %d) = %v, %v; want %v", from, to, limit, got, err, want)
	}
}
