package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Record framing:
//
//	[length uint32][CRC-32C of body uint32][CRC-32C of the first 8 bytes uint32][body]
//
// all big-endian. The header's own checksum lets recovery trust the length:
// without it, a flipped bit in the last record's length would look like a
// record cut short by a crash and be truncated away silently.
const (
	headerSize = 12
	// MaxRecord bounds a record's length, so that damaged data cannot make
	// recovery allocate gigabytes.
	MaxRecord = 1 << 30
	// sectorSize is the unit a disk writes atomically.
	sectorSize = 512
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is what errors.Is finds in a *CorruptError.
var ErrCorrupt = errors.New("wal: corrupt")

// CorruptError reports damage that a crash cannot explain: recovery
// refuses the log rather than drop or invent records.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: corrupt record in %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func appendRecord(buf, body []byte) []byte {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(body)))
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(body, crcTable))
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf[start:start+8], crcTable))
	return append(buf, body...)
}

// scan reads the record at the start of b, which sits at offset off of its
// segment. In the last segment (tail) a record may be the wreck of a write
// a crash interrupted: torn is then true and the caller cuts the file
// there. Anything else that fails is corruption, described by reason.
//
// A torn write shows as a record cut short (the file ends inside it), or,
// since a disk may persist the sectors of one unsynced write in any order,
// as a record with a sector of zeros in it or only zeros after it. A
// record that is whole, has no zero sector and fails its checksum is a
// flipped bit, not a crash.
func scan(b []byte, off int64, tail bool) (body []byte, n int, torn bool, reason string) {
	if len(b) < headerSize {
		if tail {
			return nil, 0, true, ""
		}
		return nil, 0, false, "short header"
	}
	if crc32.Checksum(b[:8], crcTable) != binary.BigEndian.Uint32(b[8:]) {
		if tail && zeroHeader(b[:headerSize], off) {
			return nil, 0, true, ""
		}
		return nil, 0, false, "header checksum mismatch"
	}
	size := binary.BigEndian.Uint32(b)
	if size > MaxRecord {
		return nil, 0, false, fmt.Sprintf("length %d over the limit", size)
	}
	n = headerSize + int(size)
	if n > len(b) {
		if tail {
			return nil, 0, true, ""
		}
		return nil, 0, false, "record runs past the end of the segment"
	}
	body = b[headerSize:n]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[4:]) {
		if tail && (hasZeroSector(b[:n], off) || (len(b) > n && allZero(b[n:]))) {
			return nil, 0, true, ""
		}
		return nil, 0, false, "checksum mismatch"
	}
	return body, n, false, ""
}

func allZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

// zeroHeader reports whether a header (at file offset off) holds zeros
// where a sector of it was never written: all of it, or the part before
// or after a sector boundary inside it.
func zeroHeader(h []byte, off int64) bool {
	if allZero(h) {
		return true
	}
	p := (sectorSize - off%sectorSize) % sectorSize
	return p > 0 && p < int64(len(h)) && (allZero(h[:p]) || allZero(h[p:]))
}

// hasZeroSector reports whether rec (at file offset off) contains a whole
// sector of zeros, or ends in a zeroed piece that starts at a sector
// boundary: a write whose sectors did not all reach the disk. No
// acknowledged write can follow such a hole, since its fsync would have
// made the hole's sector durable first.
func hasZeroSector(rec []byte, off int64) bool {
	start := (sectorSize - off%sectorSize) % sectorSize
	for i := start; i < int64(len(rec)); i += sectorSize {
		if allZero(rec[i:min(i+sectorSize, int64(len(rec)))]) {
			return true
		}
	}
	return false
}
