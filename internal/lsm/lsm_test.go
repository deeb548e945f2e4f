package lsm

import (
	"fmt"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/engine/enginetest"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// tiny makes every mechanism run within a few hundred operations: small
// memtables, tables, blocks and level budgets.
func tiny(o Options) Options {
	o.MemtableBytes, o.TableBytes, o.BlockBytes, o.L0Tables, o.L1Bytes = 256, 512, 128, 2, 1024
	return o
}

func TestMatchesMapModel(t *testing.T) {
	enginetest.Run(t, open, enginetest.Options{})
}

func open(fsys storage.FS, dir string) (engine.Engine, error) {
	return Open(dir, tiny(Options{FS: fsys, Sync: true}))
}

func TestCrashPoints(t *testing.T) {
	t.Logf("%d crash points explored", enginetest.CrashPoints(t, open, 60))
}

// A deleted key's tombstone must outlive compactions above the level that
// holds the old value; the deliberately broken engine loses it and the
// value comes back.
func TestTombstonesAboveTheBottomLevel(t *testing.T) {
	for _, early := range []bool{false, true} {
		db, err := Open(t.TempDir(), tiny(Options{DropTombstonesEarly: early}))
		if err != nil {
			t.Fatal(err)
		}
		put := func(i int) {
			if err := db.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "value-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 300 {
			put(i)
		}
		if levels := db.LevelTables(); levels[2] == 0 {
			t.Fatalf("no table reached L2: %v", levels)
		}
		if err := db.Delete([]byte("k007")); err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			put(1000 + i) // push the tombstone through L0 into L1
		}
		_, ok, err := db.Get([]byte("k007"))
		if err != nil {
			t.Fatal(err)
		}
		if ok != early {
			t.Fatalf("DropTombstonesEarly=%v: deleted key present = %v (levels %v)", early, ok, db.LevelTables())
		}
		db.Close()
	}
}
