package raftdisk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raft/raftdisk"
	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

// A cluster whose nodes keep their state in raftdisk directories: every
// restart reopens the directory (after a crash that tore the wal's tail),
// and the cluster's safety checks hold throughout.
func TestClusterOnDisk(t *testing.T) {
	// One simulated disk per node: a crash of one node drops what it did
	// not sync, and tears its last write.
	disks := map[string]*memfs.FS{}
	open := map[string]*raftdisk.Storage{}
	t.Cleanup(func() {
		for _, s := range open {
			s.Close()
		}
	})
	c := rafttest.New(t, rafttest.Options{
		Nodes: 3, Seed: 40, SnapshotEvery: 7,
		NewStorage: func(id string) raft.Storage {
			m := disks[id]
			if m == nil {
				m = memfs.New()
				disks[id] = m
			}
			if s := open[id]; s != nil {
				// The crash interrupted a write: half a record at the end
				// of the last segment.
				m.CrashAfter(m.Ops() + 1)
				f, err := m.OpenFile(lastSegment(t, m), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 2, 0, 0, 0, 0, 0})
				m.CrashTorn(11)
				s.Close()
			}
			s, err := raftdisk.Open(m, "/data")
			if err != nil {
				t.Fatalf("reopen %s: %v", id, err)
			}
			open[id] = s
			return s
		},
	})
	cmd := func(i int) []byte { return fmt.Appendf(nil, "d%d", i) }
	c.One(cmd(0), 3, true)
	for iter := range 8 {
		victim := c.IDs()[c.Rand().IntN(3)]
		c.Crash(victim)
		for i := range 10 {
			c.One(cmd(iter*100+i), 2, true)
		}
		c.Restart(victim)
		if open[victim].Recovered.TruncatedBytes == 0 {
			t.Fatalf("%s: torn tail not detected", victim)
		}
		c.One(cmd(iter*100+99), 3, true)
	}
	// Everyone at once.
	for _, id := range c.IDs() {
		c.Crash(id)
	}
	for _, id := range c.IDs() {
		c.Restart(id)
	}
	idx := c.One(cmd(10000), 3, true)
	c.Wait(idx, 3, 0, 100)
}

func lastSegment(t *testing.T, m *memfs.FS) string {
	ents, err := m.ReadDir("/data/" + raftdisk.WALDir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no wal segments: %v", err)
	}
	return filepath.Join("/data", raftdisk.WALDir, ents[len(ents)-1].Name())
}
