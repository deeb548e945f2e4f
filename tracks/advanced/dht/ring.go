package dht

import (
	"crypto/sha1"
	"encoding/binary"
)

// ID is a point on the identifier circle, 0 .. 2^64-1.
type ID uint64

// Bits is the size of the identifier space: a node keeps one finger per
// bit.
const Bits = 64

// Hash places a node name or a key on the circle: the first eight bytes
// of its SHA-1, big-endian. Node names and keys share the one circle, so
// a key belongs to the first node at or after its point.
func Hash(s string) ID {
	sum := sha1.Sum([]byte(s))
	return ID(binary.BigEndian.Uint64(sum[:8]))
}

// between reports whether x lies on the arc (a, b], going clockwise from
// a. With a == b the arc is the whole circle: a ring of one node owns
// every key.
func between(x, a, b ID) bool {
	if a < b {
		return a < x && x <= b
	}
	return x > a || x <= b
}

// strictlyBetween reports whether x lies on the open arc (a, b).
func strictlyBetween(x, a, b ID) bool {
	return x != b && between(x, a, b)
}
