// Package filesystem is the reference solution of the filesystem track: a
// GFS-style distributed file system, graded by the dfs workload.
//
// The first --masters nodes (three by default) are master replicas, the
// others chunk servers. The masters hold the namespace (files and their
// chunks, each chunk's version), replicated by Raft (internal/raftnode
// over internal/raft): the Raft log, on internal/wal through raftdisk, is
// the operation log, and Raft snapshots of the namespace are the
// checkpoints; the elected leader is the acting master and a new one takes
// over when it dies. Chunk locations are not logged: chunk servers report
// their chunks to every master in heartbeats.
//
// Chunk servers keep each chunk as a file with a CRC-32C per block
// (Store). A write goes to the chunk's primary, the replica holding the
// master's lease; the primary picks the offset and makes every secondary
// write the same bytes at it before it acknowledges. Appends are GFS's
// record appends: a failed attempt is retried and may leave a duplicate,
// so readers drop duplicates by record id. Versions fence off replicas
// that missed mutations and old primaries. The leader re-replicates
// chunks whose replicas died or rotted, and heartbeats tell servers to
// delete chunks of deleted files and stale replicas (garbage collection).
//
// Every node also serves the dfs workload's client requests (create,
// append, read, list, delete, locate), acting as the GFS client library.
//
// tracks/filesystem/stages.tsv says how each stage is graded and
// README.md is the lesson.
package filesystem

import (
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// Options configure a node.
type Options struct {
	Raft raftnode.Config
	// Masters is how many of the first node ids are master replicas.
	Masters int
	// Replicas is how many copies of each chunk the master keeps.
	Replicas int
	// ChunkSize and BlockSize: GFS has 64 MB chunks and 64 KB checksum
	// blocks; the stages scale chunks down so that a short run fills many.
	ChunkSize int64
	BlockSize int
	// SkipChecksums is the counter-example: chunk servers serve blocks
	// without verifying them.
	SkipChecksums bool
	// Heartbeat is the chunk servers' report interval; a server silent for
	// DeadAfter counts as dead.
	Heartbeat, DeadAfter time.Duration
	// RepairEvery is how often the leader looks for under-replicated chunks.
	RepairEvery time.Duration
	// Lease is how long a primary may order mutations without the master.
	Lease time.Duration
	// CallTimeout bounds one node-to-node call; MasterDeadline one
	// namespace operation at a master; ClientDeadline one client request.
	CallTimeout, MasterDeadline, ClientDeadline time.Duration
}

// DefaultOptions: 3 masters on raftnode.DefaultConfig, 3 replicas, 1 MiB
// chunks of 64 KiB blocks, heartbeats every 200 ms, dead after 1 s,
// 2 s leases.
func DefaultOptions() Options {
	return Options{
		Raft: raftnode.DefaultConfig(), Masters: 3, Replicas: 3,
		ChunkSize: 1 << 20, BlockSize: 64 << 10,
		Heartbeat: 200 * time.Millisecond, DeadAfter: time.Second, RepairEvery: 250 * time.Millisecond,
		Lease: 2 * time.Second, CallTimeout: 400 * time.Millisecond,
		MasterDeadline: 900 * time.Millisecond, ClientDeadline: 3 * time.Second,
	}
}

const usage = "usage: filesystem [--masters N] [--replicas R] [--chunk-size B] [--block-size B] [--skip-checksums] [raft flags]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("filesystem")
	o.Raft.RegisterFlags(fs)
	fs.IntVar(&o.Masters, "masters", o.Masters, "how many of the first node ids are master replicas")
	fs.IntVar(&o.Replicas, "replicas", o.Replicas, "copies of each chunk")
	fs.Int64Var(&o.ChunkSize, "chunk-size", o.ChunkSize, "chunk size in bytes")
	fs.IntVar(&o.BlockSize, "block-size", o.BlockSize, "checksum block size in bytes")
	fs.BoolVar(&o.SkipChecksums, "skip-checksums", false, "counter-example: serve chunk blocks without verifying their checksums")
	fs.DurationVar(&o.Lease, "lease", o.Lease, "primary lease length")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch {
	case o.Masters < 1:
		return o, fmt.Errorf("filesystem: --masters %d: want at least 1", o.Masters)
	case o.Replicas < 1:
		return o, fmt.Errorf("filesystem: --replicas %d: want at least 1", o.Replicas)
	case o.BlockSize < 64 || o.ChunkSize < int64(o.BlockSize) || o.ChunkSize%int64(o.BlockSize) != 0:
		return o, fmt.Errorf("filesystem: --chunk-size %d --block-size %d: want blocks of at least 64 bytes that divide the chunk", o.ChunkSize, o.BlockSize)
	}
	o.Raft.Peers = raftnode.FirstNodes(o.Masters)
	return o, nil
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, o)
	return nil
}

// Setup makes n a master replica or a chunk server (decided at init, from
// its place among the node ids) and a client library for the dfs workload.
func Setup(n *node.Node, o Options) {
	newMaster(n, o)
	newChunkServer(n, o)
	newClient(n, o)
}
