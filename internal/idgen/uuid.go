package idgen

import (
	"crypto/rand"
	"encoding/hex"
)

// UUID issues random (version 4) UUIDs. With 122 random bits, a collision
// among a billion ids has odds around 1 in 10^19: unique in practice,
// without any state or coordination, but unordered.
type UUID struct{}

// Next implements Generator.
func (UUID) Next() (any, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:]), nil
}
