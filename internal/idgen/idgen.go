// Package idgen holds the identifier track's id strategies: ways for a node
// to mint unique ids without talking to any other node.
//
// A strategy is picked by name with the node's id, its program.Clock (so
// the grader's clock nemesis can move time backwards under it) and its data
// directory (which survives the kill nemesis):
//
//   - "counter": node id plus an in-memory counter. Unique while the node
//     lives, repeats itself after a restart: the track's counter-example
//     under the kill nemesis.
//   - "counter-durable": the same, reserving counter blocks in the data
//     directory before using them, so a restart skips ahead instead of
//     repeating.
//   - "uuid": random version 4 UUIDs from crypto/rand. No coordination, no
//     state, no order.
//   - "snowflake": 41 bits of milliseconds, 10 bits of node number, 12 bits
//     of sequence, as a JSON number. Strictly increasing per node, even
//     when the clock steps back or a millisecond's sequence runs out.
//   - "ulid": 48 bits of milliseconds and 80 random bits in Crockford
//     base32, monotonic within a millisecond; strings increase strictly
//     per node.
//
// Time-ordered strategies never let ids go backwards: when the clock
// reads earlier than the last id's time they keep using the last time and
// advance logically (the sequence or the random part), and they record a
// time high-water mark in the data directory ahead of use, so that a node
// restarted on a clock that went backwards resumes past every id it
// issued before.
package idgen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Generator mints ids. Ids are JSON-encodable: numbers or strings. Next is
// safe for concurrent use.
type Generator interface {
	Next() (any, error)
}

// Strategies returns the names New accepts.
func Strategies() []string {
	return []string{"counter", "counter-durable", "uuid", "snowflake", "ulid"}
}

// ErrNoDataDir is returned for a strategy that must persist state when no
// data directory is given.
var ErrNoDataDir = errors.New("idgen: strategy needs a data directory")

// New returns the strategy called name for node. clock nil means the
// system clock. dataDir, on fsys, may be empty for the in-memory strategies; the
// time-ordered ones then lose the restart guarantee, and counter-durable
// refuses.
func New(name, node string, clock program.Clock, fsys storage.FS, dataDir string) (Generator, error) {
	if clock == nil {
		clock = program.SystemClock{}
	}
	switch name {
	case "counter":
		return NewCounter(node), nil
	case "counter-durable":
		if dataDir == "" {
			return nil, ErrNoDataDir
		}
		return NewDurableCounter(node, fsys, dataDir)
	case "uuid":
		return UUID{}, nil
	case "snowflake":
		n, err := NodeNumber(node)
		if err != nil {
			return nil, err
		}
		return NewSnowflake(n, clock, fsys, dataDir)
	case "ulid":
		return NewULID(clock, fsys, dataDir)
	}
	return nil, fmt.Errorf("idgen: unknown strategy %q (have %s)", name, strings.Join(Strategies(), ", "))
}

// MaxNode is the largest node number a snowflake id can carry.
const MaxNode = 1<<nodeBits - 1

// NodeNumber extracts the number a node id ends in ("n7" → 7), which must
// fit snowflake's 10 node bits. Maelstrom names nodes n0, n1, ...
func NodeNumber(node string) (int, error) {
	digits := strings.TrimLeft(node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_")
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || n > MaxNode {
		return 0, fmt.Errorf("idgen: node id %q must end in a number from 0 to %d", node, MaxNode)
	}
	return n, nil
}
