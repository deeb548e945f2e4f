package logger

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
	"github.com/distsys-curriculum/distsys/internal/wal"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func openLog(t *testing.T, m *memfs.FS, clean bool) *Log {
	t.Helper()
	l, err := OpenLog(m, "/data/log", LogOptions{WAL: wal.Options{SegmentSize: 256}, Clean: clean})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Consumed segments go (retention), mostly consumed ones are copied out
// (compaction), and what is left after a crash is exactly what clients may
// still read: unconsumed messages and the committed offsets.
func TestCleanKeepsUnconsumedMessages(t *testing.T) {
	m := memfs.New()
	l := openLog(t, m, true)
	for i := range 200 {
		key := fmt.Sprint(i % 4)
		off, err := l.Send(key, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if off != int64(i/4) {
			t.Fatalf("send %d got offset %d", i, off)
		}
	}
	// Keys 0-2 consumed up to 45, key 3 never: its messages stay live and
	// are copied forward as their segments are cleaned.
	if err := l.Commit(map[string]int64{"0": 45, "1": 45, "2": 45}); err != nil {
		t.Fatal(err)
	}
	cs := l.CleanStats()
	if cs.SegmentsDropped == 0 || cs.RecordsCopied == 0 {
		t.Fatalf("clean did nothing: %+v (segments %d)", cs, len(l.wal.Segments()))
	}
	l.Close()
	m.Crash()
	l2 := openLog(t, m, true)
	got, err := l2.Poll(map[string]int64{"0": 0, "3": 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(got["3"]) != 50 || got["3"][0] != [2]int64{0, 3} || got["3"][49] != [2]int64{49, 199} {
		t.Fatalf("unconsumed key 3 after clean and crash: %v", got["3"])
	}
	if k0 := got["0"]; len(k0) == 0 || k0[0][0] > 45 || k0[len(k0)-1] != [2]int64{49, 196} {
		t.Fatalf("key 0 from its committed offset: %v", k0)
	}
	for i := 1; i < len(got["0"]); i++ {
		if got["0"][i][0] != got["0"][i-1][0]+1 {
			t.Fatalf("poll with a hole: %v", got["0"])
		}
	}
	if c := l2.Committed([]string{"0", "3"}); c["0"] != 45 || len(c) != 1 {
		t.Fatalf("committed after clean and crash: %v", c)
	}
	t.Logf("%d segments dropped, %d records copied; %d segments left", cs.SegmentsDropped, cs.RecordsCopied, len(l2.wal.Segments()))
}

// Every crash point of a scripted run of sends, commits and cleaning: no
// acknowledged send or commit is lost, no offset changes its message.
func TestCrashPoints(t *testing.T) {
	// tried: commits asked for (once asked, retention may act on them);
	// commits: commits acknowledged (they must survive).
	script := func(m *memfs.FS, acked map[string][]int64, tried, commits map[string]int64) error {
		l, err := OpenLog(m, "/data/log", LogOptions{WAL: wal.Options{SegmentSize: 200}, Clean: true})
		if err != nil {
			return err
		}
		defer l.Close()
		for i := range 60 {
			key := fmt.Sprint(i % 3)
			if _, err := l.Send(key, int64(i)); err != nil {
				return err
			}
			acked[key] = append(acked[key], int64(i))
			if i%10 == 9 {
				c := map[string]int64{"0": int64(i/3 - 2), "1": int64(i/3 - 4)}
				for k, v := range c {
					tried[k] = max(tried[k], v)
				}
				if err := l.Commit(c); err != nil {
					return err
				}
				for k, v := range c {
					commits[k] = max(commits[k], v)
				}
			}
		}
		return nil
	}
	probe := memfs.New()
	if err := script(probe, map[string][]int64{}, map[string]int64{}, map[string]int64{}); err != nil {
		t.Fatal(err)
	}
	total := probe.Ops()
	explored := 0
	for k := 1; k <= total; k++ {
		for _, torn := range []bool{false, true} {
			m := memfs.New()
			m.CrashAfter(k)
			acked, tried, commits := map[string][]int64{}, map[string]int64{}, map[string]int64{}
			if err := script(m, acked, tried, commits); err != nil && !errors.Is(err, memfs.ErrCrashed) {
				t.Fatalf("op %d: %v", k, err)
			}
			if torn {
				if m.LastWriteSize() < 2 {
					continue
				}
				m.CrashTorn(m.LastWriteSize() / 2)
			} else {
				m.Crash()
			}
			explored++
			l, err := OpenLog(m, "/data/log", LogOptions{WAL: wal.Options{SegmentSize: 200}})
			if err != nil {
				t.Fatalf("crash after op %d/%d: recovery: %v", k, total, err)
			}
			got, err := l.Poll(map[string]int64{"0": 0, "1": 0, "2": 0})
			if err != nil {
				t.Fatal(err)
			}
			for key, msgs := range acked {
				byOff := map[int64]int64{}
				for _, p := range got[key] {
					byOff[p[0]] = p[1]
				}
				for off, msg := range msgs {
					if int64(off) < tried[key] {
						continue // consumed: retention may have dropped it
					}
					if v, ok := byOff[int64(off)]; !ok || v != msg {
						t.Fatalf("crash after op %d/%d: key %s offset %d = %d (present %v), want %d", k, total, key, off, v, ok, msg)
					}
				}
			}
			c := l.Committed([]string{"0", "1"})
			for key, want := range commits {
				if c[key] < want {
					t.Fatalf("crash after op %d/%d: committed %s = %d, want %d", k, total, key, c[key], want)
				}
			}
			l.Close()
		}
	}
	t.Logf("%d crash points explored", explored)
}

// The counter-example that only the simulated disk shows: a log that never
// fsyncs loses acknowledged sends at every in-process kill. (Graded as a
// process it would pass: a killed process's writes stay in the OS page
// cache. Only a power failure, which the in-process kill models, loses
// them.) The seed is fixed; 20/20 seeds swept in the lesson.
func TestNoFsyncLosesAcknowledgedSends(t *testing.T) {
	st, err := parseStage("no-fsync\tinvalid:kafka\tno\t-w kafka --node-count 1 --time-limit 30 --rate 200 --concurrency 2n --nemesis kill --nemesis-interval 2 -- --sync none")
	if err != nil {
		t.Fatal(err)
	}
	rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
	if ok, why := gradetest.Verdict(st, rep); !ok {
		t.Fatalf("%s\n%s", why, rep.Summary())
	}
	sum := rep.Summary()
	if !strings.Contains(sum, "lost-write") && !strings.Contains(sum, "unseen") {
		t.Fatalf("kafka checker did not report lost or unseen sends\n%s", sum)
	}
}

// Under the corrupt fault the node refuses its damaged log at restart,
// with the wal's error naming the segment and offset; it never serves
// flipped bits.
func TestCorruptLogRefused(t *testing.T) {
	st, err := parseStage("corrupt\tvalid\tno\t-w kafka --node-count 1 --time-limit 60 --rate 200 --concurrency 2n --nemesis corrupt --nemesis-interval 10")
	if err != nil {
		t.Fatal(err)
	}
	rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
	if rep.Crash == nil || !strings.Contains(rep.Summary(), "wal: corrupt record in") {
		t.Fatalf("want the run to end with the node refusing its log\n%s", rep.Summary())
	}
	if res, ok := rep.Result("kafka"); ok && res.Valid == checker.Invalid {
		t.Fatalf("wrong data served before the refusal\n%s", rep.Summary())
	}
}

func parseStage(line string) (stages.Stage, error) {
	all, err := stages.Parse(strings.NewReader(line+"\n"), "test")
	if err != nil {
		return stages.Stage{}, err
	}
	return all[0], nil
}

// A replica's log: entries carry their leader's epoch, a new leader's
// entries replace what disagrees, and a restart replays both the
// truncation and the new entries.
func TestReplaceTruncatesAndSurvivesRestart(t *testing.T) {
	m := memfs.New()
	l, err := OpenLog(m, "/data/log", LogOptions{WAL: wal.Options{Sync: wal.SyncEvery, SegmentSize: 256}})
	if err != nil {
		t.Fatal(err)
	}
	old := []Entry{{0, 10, 1}, {1, 11, 1}, {2, 12, 1}, {3, 13, 1}}
	if err := l.Replace("k", old); err != nil {
		t.Fatal(err)
	}
	// Epoch 2's leader never had offsets 2 and 3.
	if err := l.Replace("k", []Entry{{2, 22, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Replace("k", []Entry{{5, 1, 2}}); err == nil {
		t.Fatal("an entry after a gap was accepted")
	}
	l.Close()
	l, err = OpenLog(m, "/data/log", LogOptions{WAL: wal.Options{SegmentSize: 256}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.Entries("k", 0, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{0, 10, 1}, {1, 11, 1}, {2, 22, 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	if e, ok := l.EpochAt("k", 2); !ok || e != 2 {
		t.Fatalf("epoch at 2: %d %v, want 2", e, ok)
	}
	if end := l.End("k"); end != 3 {
		t.Fatalf("end %d, want 3", end)
	}
}
