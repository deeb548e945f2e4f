package lsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// memLog is what the LSM tree needs from a write-ahead log: append a
// record, make what was appended durable, and replay it after a crash.
// It is an interface so that the tree can run on the shared segmented
// write-ahead log as well as on the single-file log below.
type memLog interface {
	Append(rec []byte) error
	Sync() error
	Close() error
	// Size is the bytes appended, framing included.
	Size() int64
}

// fileLog is a write-ahead log in one file: records framed as
// crc32c(4) len(4) payload. Replay stops at a torn tail and truncates it;
// a bad record followed by more data is corruption.
type fileLog struct {
	f    storage.File
	size int64
}

func openFileLog(fsys storage.FS, name string, replay func(rec []byte) error) (*fileLog, error) {
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	l := &fileLog{f: f}
	if err := l.replay(name, replay); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

func (l *fileLog) replay(name string, fn func([]byte) error) error {
	b, err := io.ReadAll(l.f)
	if err != nil {
		return err
	}
	off := 0
	for off < len(b) {
		rest := b[off:]
		bad := ""
		var n int
		switch {
		case len(rest) < 8:
			bad = "short header"
		default:
			n = int(binary.LittleEndian.Uint32(rest[4:]))
			if n > len(rest)-8 {
				bad = "record runs past the end of the file"
			} else if crc32.Checksum(rest[8:8+n], castagnoli) != binary.LittleEndian.Uint32(rest) {
				bad = "checksum mismatch"
				if off+8+n < len(b) {
					return fmt.Errorf("%w: %s at offset %d: %s", engine.ErrCorrupt, name, off, bad)
				}
			}
		}
		if bad != "" {
			// A torn last write: the record was never acknowledged.
			if err := l.f.Truncate(int64(off)); err != nil {
				return err
			}
			break
		}
		if err := fn(rest[8 : 8+n]); err != nil {
			return err
		}
		off += 8 + n
	}
	l.size = int64(off)
	_, err = l.f.Seek(l.size, io.SeekStart)
	return err
}

func (l *fileLog) Append(rec []byte) error {
	if l.f == nil {
		return errors.New("lsm: log closed")
	}
	buf := make([]byte, 8, 8+len(rec))
	binary.LittleEndian.PutUint32(buf, crc32.Checksum(rec, castagnoli))
	binary.LittleEndian.PutUint32(buf[4:], uint32(len(rec)))
	buf = append(buf, rec...)
	if _, err := l.f.Write(buf); err != nil {
		return err
	}
	l.size += int64(len(buf))
	return nil
}

func (l *fileLog) Sync() error  { return l.f.Sync() }
func (l *fileLog) Size() int64  { return l.size }
func (l *fileLog) Close() error { return l.f.Close() }
