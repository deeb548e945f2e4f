package raftdisk_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raft/raftdisk"
	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

var errStop = errors.New("stopped by a recorded failure")

// fatalRecorder is a testing.TB whose Fatal records the message and
// unwinds (with errStop), so that a test can assert that the cluster's
// checks fail.
type fatalRecorder struct {
	*testing.T
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(errStop)
}

func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(errStop)
}

func (f *fatalRecorder) Failed() bool { return f.msg != "" || f.T.Failed() }

// diskCluster is a rafttest cluster whose nodes keep their state in
// raftdisk directories on simulated disks, one per node, kept across
// restarts.
type diskCluster struct {
	*rafttest.Cluster
	disks map[string]*memfs.FS
	open  map[string]*raftdisk.Storage
}

func newDiskCluster(t testing.TB, opts rafttest.Options) *diskCluster {
	d := &diskCluster{disks: map[string]*memfs.FS{}, open: map[string]*raftdisk.Storage{}}
	t.Cleanup(func() {
		for _, s := range d.open {
			s.Close()
		}
	})
	opts.NewStorage = func(id string) raft.Storage {
		m := d.disks[id]
		if m == nil {
			m = memfs.New()
			d.disks[id] = m
		}
		if s := d.open[id]; s != nil {
			s.Close()
		}
		s, err := raftdisk.Open(m, "/data")
		if err != nil {
			t.Fatalf("reopen %s: %v", id, err)
		}
		d.open[id] = s
		return s
	}
	d.Cluster = rafttest.New(t, opts)
	return d
}

// walRecords returns, for each record of node id's wal, its segment and
// the offset of its body (the wal's framing: a 12-byte header, then the
// body).
func (d *diskCluster) walRecords(t testing.TB, id string) (segs []string, offs []int64) {
	t.Helper()
	m := d.disks[id]
	dir := "/data/" + raftdisk.WALDir
	ents, err := m.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := filepath.Join(dir, e.Name())
		f, err := m.OpenFile(name, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		b := make([]byte, fi.Size())
		if _, err := f.ReadAt(b, 0); err != nil && int64(len(b)) != 0 {
			// ReadAt may report io.EOF with a full buffer.
			_ = err
		}
		f.Close()
		for off := 0; off+12 <= len(b); {
			n := int(binary.BigEndian.Uint32(b[off:]))
			segs = append(segs, name)
			offs = append(offs, int64(off+12))
			off += 12 + n
		}
	}
	return segs, offs
}

func cmd(i int) []byte { return fmt.Appendf(nil, "c%d", i) }

// history runs a scripted history on a fresh 3-node cluster: commands,
// a leader crash and a new leader, more commands. It returns the cluster
// with every node up.
func history(t *testing.T, snapshotEvery uint64) *diskCluster {
	d := newDiskCluster(t, rafttest.Options{Nodes: 3, Seed: 7, PreVote: true, CheckQuorum: true, SnapshotEvery: snapshotEvery})
	for i := range 6 {
		d.One(cmd(i), 3, true)
	}
	l := d.CheckOneLeader(200)
	d.Crash(l)
	for i := 6; i < 10; i++ {
		d.One(cmd(i), 2, true)
	}
	d.Restart(l)
	for i := 10; i < 14; i++ {
		d.One(cmd(i), 3, true)
	}
	return d
}

// rejoin restarts the victim after its disk was damaged, and checks that it
// found the damage, repairs (within a bound), catches up with every
// committed entry, and that the cluster commits again with it. The
// cluster's own checks (state machine safety, leader completeness, log
// matching, no vote while repairing) run throughout. It returns the ticks
// the repair took.
func rejoin(t *testing.T, d *diskCluster, victim string) int {
	t.Helper()
	d.Restart(victim)
	if d.open[victim].Recovered.Damage == "" {
		t.Fatalf("%s: damage not found", victim)
	}
	if !d.Node(victim).Raft.Status().Repairing {
		t.Fatalf("%s: not repairing after damage", victim)
	}
	start := d.Now()
	for i := 0; d.Node(victim).Raft.Status().Repairing; i++ {
		if d.Now()-start > 2000 {
			t.Fatalf("%s still repairing after %d ticks: %+v", victim, d.Now()-start, d.Node(victim).Raft.Status())
		}
		if i%50 == 0 {
			d.One(cmd(1000+i), 2, true)
		}
		d.Tick()
	}
	ticks := int(d.Now() - start)
	idx := d.One(cmd(9999), 3, true)
	d.Wait(idx, 3, 0, 300)
	if got, want := d.Node(victim).Applied(), idx; got < want {
		t.Fatalf("%s applied %d, want %d", victim, got, want)
	}
	d.CheckLogMatching()
	return ticks
}

// Flip a bit in every record of a follower's and of the leader's wal in
// turn (entries and hard states alike): each time the node keeps the
// prefix, repairs from its peers, and no committed entry is lost or
// changed. Without the repair protocol the same runs are refused at
// reopen (the old behaviour) or lose entries (TestTwoDamagedOfThreeStop).
func TestRepairEveryRecord(t *testing.T) {
	for _, role := range []string{"follower", "leader"} {
		probe := history(t, 0)
		l := probe.CheckOneLeader(200)
		victim := l
		if role == "follower" {
			victim = probe.IDs()[(slices.Index(probe.IDs(), l)+1)%3]
		}
		probe.Crash(victim)
		segs, offs := probe.walRecords(t, victim)
		probe.Restart(victim)
		explored, maxTicks := 0, 0
		for k := range offs {
			t.Run(fmt.Sprintf("%s/record-%d", role, k), func(t *testing.T) {
				d := history(t, 0)
				if got := d.CheckOneLeader(200); got != l {
					t.Fatalf("replay: leader %s, want %s", got, l)
				}
				d.Crash(victim)
				if err := d.disks[victim].FlipBit(segs[k], offs[k]*8+3); err != nil {
					t.Fatal(err)
				}
				maxTicks = max(maxTicks, rejoin(t, d, victim))
				explored++
			})
		}
		t.Logf("%s: %d damaged records explored, longest repair %d ticks", role, explored, maxTicks)
	}
}

// A damaged snapshot is dropped with the log after it; the node gets the
// leader's snapshot and rejoins.
func TestRepairSnapshot(t *testing.T) {
	d := history(t, 4)
	victim := d.IDs()[0]
	d.Crash(victim)
	p := "/data/" + raftdisk.SnapshotFile
	if err := d.disks[victim].FlipBit(p, 8*10); err != nil {
		t.Fatalf("no snapshot to damage: %v", err)
	}
	ticks := rejoin(t, d, victim)
	if !strings.Contains(d.open[victim].Recovered.Damage, "snapshot") {
		t.Fatalf("damage %q does not name the snapshot", d.open[victim].Recovered.Damage)
	}
	t.Logf("repaired in %d ticks", ticks)
}

// Damage in the snapshot and in the wal at once, on every node in turn.
func TestRepairEverything(t *testing.T) {
	for i := range 3 {
		d := history(t, 4)
		victim := d.IDs()[i]
		d.Crash(victim)
		segs, offs := d.walRecords(t, victim)
		if err := d.disks[victim].FlipBit("/data/"+raftdisk.SnapshotFile, 8*12+1); err != nil {
			t.Fatal(err)
		}
		if err := d.disks[victim].FlipBit(segs[len(segs)/2], offs[len(offs)/2]*8); err != nil {
			t.Fatal(err)
		}
		rejoin(t, d, victim)
	}
}

// twoDamaged commits entries that only n1 and n2 hold (n3 is cut off),
// then damages both so that they lose them, and reconnects n3.
func twoDamaged(t *testing.T) *diskCluster { return twoDamagedOn(t) }

func twoDamagedOn(t testing.TB) *diskCluster {
	d := newDiskCluster(t, rafttest.Options{Nodes: 3, Seed: 11, PreVote: true, CheckQuorum: true})
	for i := range 4 {
		d.One(cmd(i), 3, true)
	}
	d.Net.Disconnect("n3")
	for i := 4; i < 10; i++ {
		d.One(cmd(i), 2, true)
	}
	for _, id := range []string{"n1", "n2"} {
		d.Crash(id)
		segs, offs := d.walRecords(t, id)
		// Damage a record from before the entries n3 lacks.
		k := len(offs) / 3
		if err := d.disks[id].FlipBit(segs[k], offs[k]*8+1); err != nil {
			t.Fatal(err)
		}
	}
	d.Net.Connect("n3")
	d.Restart("n1")
	d.Restart("n2")
	return d
}

// Two damaged nodes of three: neither can be repaired (a repairing node
// does not answer another's term query, and the one healthy node is not a
// majority), so the cluster stops rather than elect a leader that lacks
// committed entries.
func TestTwoDamagedOfThreeStop(t *testing.T) {
	d := twoDamaged(t)
	for range 3000 {
		d.Tick()
		if ls := d.Leaders(); len(ls) > 0 {
			t.Fatalf("leader %v elected with two of three nodes damaged", ls)
		}
	}
	for _, id := range []string{"n1", "n2"} {
		if !d.Node(id).Raft.Status().Repairing {
			t.Fatalf("%s no longer repairing", id)
		}
	}
}

// The same history with the damage cut away but no repair protocol (the
// nodes carry on with the prefix as if it were all they ever had): a leader
// is elected without the committed entries, and the cluster's checks find
// it. This is what TestTwoDamagedOfThreeStop guards against.
func TestNaiveSalvageLosesCommittedEntries(t *testing.T) {
	defer raftdisk.SetNaiveSalvage()()
	ft := &fatalRecorder{T: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != errStop {
				panic(r)
			}
		}()
		d := twoDamagedOn(ft)
		for range 3000 {
			d.Tick()
		}
		d.One(cmd(100), 2, true)
	}()
	if !strings.Contains(ft.msg, "leader completeness") && !strings.Contains(ft.msg, "state machine safety") {
		t.Fatalf("naive salvage went unnoticed (%q)", ft.msg)
	}
	t.Logf("caught: %s", ft.msg)
}

// Random histories in the nemesis's style: over and over, a random node
// of five is crashed, one bit is flipped in every file of its directory
// (wal segments and snapshot alike, at random offsets), and it restarts
// while proposals go on; the next victim is chosen only once the last one
// is repaired. The cluster's checks hold throughout and every repair
// finishes.
func TestRepairRandomDamage(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			d := newDiskCluster(t, rafttest.Options{Nodes: 5, Seed: seed, PreVote: true, CheckQuorum: true, SnapshotEvery: 5})
			rng := d.Rand()
			next := 0
			propose := func(n int) {
				for range n {
					d.One(cmd(next), 4, true)
					next++
				}
			}
			propose(8)
			damaged, longest := 0, uint64(0)
			for range 8 {
				victim := d.IDs()[rng.IntN(5)]
				d.Crash(victim)
				propose(1 + rng.IntN(6))
				m := d.disks[victim]
				for _, f := range m.FilesUnder("/data") {
					fi, err := m.Stat(f)
					if err != nil || fi.Size() == 0 {
						continue
					}
					if err := m.FlipBit(f, rng.Int64N(fi.Size()*8)); err != nil {
						t.Fatal(err)
					}
				}
				d.Restart(victim)
				if d.open[victim].Recovered.Damage == "" {
					// Every file flipped, yet nothing found: only a
					// flip in a torn-looking tail could hide, and Open
					// would have cut it, which Recovered shows.
					if d.open[victim].Recovered.TruncatedBytes == 0 {
						t.Fatalf("%s: damage neither found nor cut", victim)
					}
					continue
				}
				damaged++
				start := d.Now()
				for i := 0; d.Node(victim).Raft.Status().Repairing; i++ {
					if d.Now()-start > 3000 {
						t.Fatalf("%s not repaired after %d ticks", victim, d.Now()-start)
					}
					if i%40 == 0 {
						propose(1)
					}
					d.Tick()
				}
				longest = max(longest, d.Now()-start)
			}
			idx := d.One(cmd(next), 5, true)
			d.Wait(idx, 5, 0, 500)
			t.Logf("%d damaged restarts, longest repair %d ticks", damaged, longest)
		})
	}
}
