package idgen

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// mark is an integer persisted in one file of the data directory. It is
// written before the value it covers is used, so after a crash the file
// always bounds everything that was issued. An empty path keeps it in
// memory only.
type mark struct {
	fs    storage.FS
	path  string
	value int64
}

// loadMark reads the mark in dir/name, 0 when the file does not exist.
func loadMark(fsys storage.FS, dir, name string) (*mark, error) {
	if dir == "" {
		return &mark{}, nil
	}
	m := &mark{fs: fsys, path: filepath.Join(dir, name)}
	b, err := storage.ReadFile(fsys, m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idgen: %w", err)
	}
	if m.value, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil {
		return nil, fmt.Errorf("idgen: corrupt %s: %w", m.path, err)
	}
	return m, nil
}

// store durably replaces the mark with v: write a temporary file, sync it,
// rename it over the old one and sync the directory, so a crash leaves
// either the old mark or the new one, never a torn one.
func (m *mark) store(v int64) error {
	if m.path == "" {
		m.value = v
		return nil
	}
	if err := storage.WriteFileAtomic(m.fs, m.path, []byte(strconv.FormatInt(v, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("idgen: write %s: %w", m.path, err)
	}
	m.value = v
	return nil
}
