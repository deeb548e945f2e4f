// Package enginetest checks a storage engine against a map model: random
// puts, deletes, gets and range scans, with the engine closed and reopened
// at random points, must give the map's answers. Every engine of the
// indexes track runs it from its own tests.
package enginetest

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/distsys-curriculum/distsys/internal/engine"
)

// Opener opens (or reopens) the engine stored in dir.
type Opener func(dir string) (engine.Engine, error)

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
	root := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		dir, err := os.MkdirTemp(root, "engine")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		e, err := open(dir)
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
				if err := e.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if e, err = open(dir); err != nil {
					t.Fatalf("reopen: %v", err)
				}
			}
		}
		checkScan(t, e, model, nil, nil, len(model)+1)
		if err := e.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if e, err = open(dir); err != nil {
			t.Fatalf("reopen: %v", err)
		}
		checkScan(t, e, model, nil, nil, len(model)+1)
	})
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
