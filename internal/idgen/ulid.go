package idgen

import (
	"crypto/rand"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, and in
// ascending ASCII order, so fixed-length strings sort like the numbers
// they encode.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ULIDLen is the length of an encoded ULID.
const ULIDLen = 26

// ULID issues ULIDs: 48 bits of Unix milliseconds then 80 random bits,
// as 26 Crockford base32 characters, so ids sort by time as strings.
// Within one millisecond the random part is incremented instead of drawn
// afresh, which makes a node's ids strictly increasing; if it overflows,
// or the clock reads earlier than the last id's time, the generator
// advances time logically exactly as Snowflake does, and it persists the
// same kind of time high-water mark. Across nodes the 80 random bits make
// a collision vanishingly unlikely without any coordination.
type ULID struct {
	clock  program.Clock
	mu     sync.Mutex
	ms     int64  // time of the last id, Unix ms
	randHi uint16 // top 16 of the 80 random bits
	randLo uint64 // low 64 of the 80 random bits
	hw     *mark
}

// NewULID returns a generator, resuming from dir when it holds a
// high-water mark (dir "" keeps nothing across restarts).
func NewULID(clock program.Clock, fsys storage.FS, dir string) (*ULID, error) {
	hw, err := loadMark(fsys, dir, "idgen-ulid")
	if err != nil {
		return nil, err
	}
	// As if the mark's millisecond had been used up: the random part at
	// its maximum forces the next id into a later millisecond.
	return &ULID{clock: clock, ms: hw.value - 1, randHi: 0xffff, randLo: ^uint64(0), hw: hw}, nil
}

// Next implements Generator. The id is a string.
func (u *ULID) Next() (any, error) {
	now := u.clock.Now().UnixMilli()
	u.mu.Lock()
	defer u.mu.Unlock()
	ms, hi, lo := u.ms, u.randHi, u.randLo
	fresh := false
	switch {
	case now > ms:
		ms, fresh = now, true
	case lo != ^uint64(0):
		lo++
	case hi != 0xffff:
		hi, lo = hi+1, 0
	default:
		ms, fresh = ms+1, true
	}
	if fresh {
		var err error
		if hi, lo, err = randomParts(); err != nil {
			return nil, err
		}
	}
	if ms >= 1<<48 {
		return nil, ErrTimeOverflow
	}
	if ms >= u.hw.value {
		if err := u.hw.store(ms + timeLease); err != nil {
			return nil, err
		}
	}
	u.ms, u.randHi, u.randLo = ms, hi, lo
	return encodeULID(ms, hi, lo), nil
}

// randomParts draws the 80 random bits of a new millisecond.
func randomParts() (uint16, uint64, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, 0, err
	}
	hi := uint16(b[0])<<8 | uint16(b[1])
	var lo uint64
	for _, x := range b[2:] {
		lo = lo<<8 | uint64(x)
	}
	return hi, lo, nil
}

// encodeULID writes the 128-bit value ms<<80 | hi<<64 | lo, five bits per
// character from the least significant end.
func encodeULID(ms int64, hi uint16, lo uint64) string {
	top := uint64(ms)<<16 | uint64(hi)
	var s [ULIDLen]byte
	for i := ULIDLen - 1; i >= 0; i-- {
		s[i] = crockford[lo&31]
		lo = lo>>5 | top<<59
		top >>= 5
	}
	return string(s[:])
}

// ULIDTime returns the Unix millisecond encoded in a ULID, or false if s
// is not one.
func ULIDTime(s string) (int64, bool) {
	if len(s) != ULIDLen {
		return 0, false
	}
	var ms int64
	for i := range 10 { // 10 characters = 50 bits: 2 zero bits then the time
		d := indexCrockford(s[i])
		if d < 0 || (i == 0 && d > 7) {
			return 0, false
		}
		ms = ms<<5 | int64(d)
	}
	for i := 10; i < ULIDLen; i++ {
		if indexCrockford(s[i]) < 0 {
			return 0, false
		}
	}
	return ms, true
}

func indexCrockford(c byte) int {
	for i := range len(crockford) {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}
