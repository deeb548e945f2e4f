package raftdisk

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
	"pgregory.net/rapid"
)

// The disk storage behaves like MemoryStorage (the model) under any
// sequence of saves that a Raft node can produce, interleaved with crashes
// of the (simulated) disk that drop everything unsynced, some of them
// tearing an unacknowledged write.
func TestMatchesMemoryStorage(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m := memfs.New()
		const dir = "/data"
		disk, err := Open(m, dir)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { disk.Close() }()
		model := raft.NewMemoryStorage()
		term := uint64(1)

		check := func(when string) {
			h1, s1, e1, _ := model.Load()
			h2, s2, e2, _ := disk.Load()
			if !reflect.DeepEqual(h1, h2) || !reflect.DeepEqual(s1, s2) || len(e1) != len(e2) || (len(e1) > 0 && !reflect.DeepEqual(e1, e2)) {
				rt.Fatalf("%s: disk differs from model\nmodel %+v %+v %v\ndisk  %+v %+v %v", when, h1, s1, e1, h2, s2, e2)
			}
		}
		bounds := func() (first, last uint64) {
			_, s, es, _ := model.Load()
			first = 1
			if s != nil {
				first = s.Meta.Index + 1
			}
			return first, first + uint64(len(es)) - 1
		}

		for step := range rapid.IntRange(1, 40).Draw(rt, "steps") {
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1, 2, 3: // append, possibly replacing a suffix
				first, last := bounds()
				at := rapid.Uint64Range(first, last+1).Draw(rt, "at")
				n := rapid.IntRange(1, 5).Draw(rt, "n")
				if rapid.Bool().Draw(rt, "newterm") {
					term++
				}
				var es []raft.Entry
				for i := range n {
					es = append(es, raft.Entry{Index: at + uint64(i), Term: term,
						Data: []byte(fmt.Sprintf("%d.%d", step, i))})
				}
				u := raft.Update{Entries: es}
				if rapid.Bool().Draw(rt, "hs") {
					u.HardState = raft.HardState{Term: term, Vote: "n1", Commit: at - 1}
				}
				if err := model.Save(u); err != nil {
					rt.Fatal(err)
				}
				if err := disk.Save(u); err != nil {
					rt.Fatal(err)
				}
			case 4, 5: // snapshot: compaction (matching the log) or from a leader (not)
				first, last := bounds()
				if last < first {
					continue
				}
				idx := rapid.Uint64Range(first, last+3).Draw(rt, "snapidx")
				snapTerm := term + 1
				_, _, es, _ := model.Load()
				if idx <= last && rapid.Bool().Draw(rt, "match") {
					snapTerm = es[idx-first].Term
				}
				u := raft.Update{Snapshot: &raft.Snapshot{
					Meta: raft.SnapshotMeta{Index: idx, Term: snapTerm, Peers: []string{"n1", "n2"}},
					Data: []byte(fmt.Sprint("state", idx))}}
				if snapTerm > term {
					term = snapTerm
				}
				model.Save(u)
				if err := disk.Save(u); err != nil {
					rt.Fatal(err)
				}
			case 6, 7: // crash and reopen, sometimes mid-write
				if rapid.Bool().Draw(rt, "torn") {
					// A Save that the crash interrupts after its write:
					// never acknowledged, and torn.
					_, last := bounds()
					m.CrashAfter(m.Ops() + 1)
					if err := disk.Save(raft.Update{Entries: []raft.Entry{{Index: last + 1, Term: term, Data: []byte("lost")}}}); err == nil {
						rt.Fatal("save acknowledged past the crash point")
					}
					m.CrashTorn(rapid.IntRange(0, m.LastWriteSize()-1).Draw(rt, "cut"))
				} else {
					m.Crash()
				}
				disk.Close()
				if disk, err = Open(m, dir); err != nil {
					rt.Fatal(err)
				}
				check("after reopen")
			default:
				u := raft.Update{HardState: raft.HardState{Term: term, Commit: uint64(step)}}
				model.Save(u)
				if err := disk.Save(u); err != nil {
					rt.Fatal(err)
				}
			}
			check(fmt.Sprint("step ", step))
		}
	})
}
