package idgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mark is an integer persisted in one file of the data directory. It is
// written before the value it covers is used, so after a crash the file
// always bounds everything that was issued. An empty path keeps it in
// memory only.
type mark struct {
	path  string
	value int64
}

// loadMark reads the mark in dir/name, 0 when the file does not exist.
func loadMark(dir, name string) (*mark, error) {
	if dir == "" {
		return &mark{}, nil
	}
	m := &mark{path: filepath.Join(dir, name)}
	b, err := os.ReadFile(m.path)
	if os.IsNotExist(err) {
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
	tmp := m.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("idgen: %w", err)
	}
	_, werr := f.WriteString(strconv.FormatInt(v, 10) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := firstErr(werr, serr, cerr); err != nil {
		return fmt.Errorf("idgen: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return fmt.Errorf("idgen: %w", err)
	}
	if d, err := os.Open(filepath.Dir(m.path)); err == nil {
		// Best effort: some filesystems refuse to sync a directory.
		_ = d.Sync()
		d.Close()
	}
	m.value = v
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
