package maelstrom

import (
	"testing"
	"time"
)

// Stages graded side by side may start in the same millisecond: each run
// still gets a directory of its own.
func TestMakeRunDirNeverShares(t *testing.T) {
	store := t.TempDir()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seen := map[string]bool{}
	for range 3 {
		dir, err := makeRunDir(store, "echo", at)
		if err != nil {
			t.Fatal(err)
		}
		if seen[dir] {
			t.Fatalf("%s handed out twice", dir)
		}
		seen[dir] = true
	}
	if !seen[runDir(store, "echo", at.Add(2*time.Millisecond))] {
		t.Errorf("the third run should take the second free millisecond; got %v", seen)
	}
}
