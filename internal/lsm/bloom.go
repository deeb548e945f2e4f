package lsm

import (
	"encoding/binary"
)

// bloom is a Bloom filter over a table's keys: a definite "no" lets a
// point read skip the table without reading a block. bitsPerKey 10 gives
// about 1% false positives with k = 7 probes.
type bloom struct {
	bits []byte
	k    uint32
}

func newBloom(n, bitsPerKey int) bloom {
	nbits := max(64, n*bitsPerKey)
	k := uint32(float64(bitsPerKey) * 0.69)
	k = min(max(k, 1), 30)
	return bloom{bits: make([]byte, (nbits+7)/8), k: k}
}

// hash64 is FNV-1a, written out: through hash.Hash it costs an
// allocation per lookup.
func hash64(key []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// The k probes are derived from one 64-bit hash by double hashing
// (Kirsch and Mitzenmacher).
func (b bloom) add(key []byte) {
	h := hash64(key)
	h1, h2 := uint32(h), uint32(h>>32)
	n := uint32(len(b.bits) * 8)
	for i := range b.k {
		bit := (h1 + i*h2) % n
		b.bits[bit/8] |= 1 << (bit % 8)
	}
}

func (b bloom) mayContain(key []byte) bool {
	if len(b.bits) == 0 {
		return true
	}
	h := hash64(key)
	h1, h2 := uint32(h), uint32(h>>32)
	n := uint32(len(b.bits) * 8)
	for i := range b.k {
		bit := (h1 + i*h2) % n
		if b.bits[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

func (b bloom) encode() []byte {
	out := binary.LittleEndian.AppendUint32(nil, b.k)
	return append(out, b.bits...)
}

func decodeBloom(p []byte) bloom {
	if len(p) < 4 {
		return bloom{}
	}
	return bloom{k: binary.LittleEndian.Uint32(p), bits: p[4:]}
}
