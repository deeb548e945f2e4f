package storage

import (
	"path/filepath"
	"testing"
)

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "state")
	for _, want := range []string{"first", "second, longer"} {
		if err := WriteFileAtomic(OS, name, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(OS, name)
		if err != nil || string(got) != want {
			t.Fatalf("ReadFile = %q, %v; want %q", got, err, want)
		}
	}
	if ok, err := Exists(OS, name+".tmp"); ok || err != nil {
		t.Fatalf("temporary file left behind (exists=%v, err=%v)", ok, err)
	}
	if ok, err := Exists(OS, filepath.Join(dir, "missing")); ok || err != nil {
		t.Fatalf("Exists(missing) = %v, %v", ok, err)
	}
}
