// Package program is the seam between a node program and whatever runs it.
//
// A node is a program that speaks the Maelstrom protocol on its standard
// streams. The grader runs node binaries as processes, and runs Go nodes
// in-process (under testing/synctest, so time is virtual). Both ways meet
// here: a Program is a function of its streams, arguments and environment,
// so the same node code runs as a process main, inside the grader's test
// process, or in a unit test.
package program

import (
	"context"
	"io"
	"time"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Environment variables the grader sets for every node.
const (
	// EnvDataDir names a directory private to one node id that survives a
	// kill and restart of that node (the kill nemesis).
	EnvDataDir = "MAELSTROM_DATA_DIR"
	// EnvNodeID is the id the node will be given in init; informational.
	EnvNodeID = "MAELSTROM_NODE_ID"
	// EnvNodeKey is the node's own ed25519 private key seed (hex), and
	// EnvNodeKeys every node's public key ("n1:hex,n2:hex,..."): keys for
	// nodes that authenticate each other (the advanced track's PBFT). The
	// grader derives them from the run's seed; a node never learns
	// another's private key.
	EnvNodeKey  = "MAELSTROM_NODE_KEY"
	EnvNodeKeys = "MAELSTROM_NODE_PUBKEYS"
)

// Clock is a node's source of physical time. The grader's clock nemesis
// gives each in-process node a skewed Clock; processes get the system clock.
type Clock interface {
	Now() time.Time
}

// SystemClock reads time.Now (virtual under testing/synctest).
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// IO is what a Program gets from its runner.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Args   []string          // arguments after the program name
	Env    map[string]string // e.g. EnvDataDir
	Clock  Clock             // nil means SystemClock
	// Gate, if set, is closed while the runner pauses the node in-process
	// (the pause nemesis); the node runtime waits on it. nil: never paused.
	Gate *Gate
	// FS is the node's disk: the data directory lives on it. The grader's
	// in-process mode gives each node an in-memory file system whose kill
	// loses exactly what was never synced; nil means the real one
	// (storage.OS), as in a node process.
	FS storage.FS
}

// Getenv returns the value of key, or "".
func (p IO) Getenv(key string) string { return p.Env[key] }

// Storage returns p.FS, or storage.OS when unset.
func (p IO) Storage() storage.FS {
	if p.FS == nil {
		return storage.OS
	}
	return p.FS
}

// NowClock returns p.Clock, or SystemClock when unset.
func (p IO) NowClock() Clock {
	if p.Clock == nil {
		return SystemClock{}
	}
	return p.Clock
}

// Program is a node program. It returns when its input ends (EOF), when ctx
// is cancelled (the in-process equivalent of SIGKILL: it must stop promptly
// and must not touch its streams afterwards), or on a fatal error.
type Program func(ctx context.Context, pio IO) error
