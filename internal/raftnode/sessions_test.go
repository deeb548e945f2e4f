package raftnode

import (
	"encoding/json"
	"testing"
)

func TestSessionsApplyOncePerRequest(t *testing.T) {
	var s Sessions
	applied := 0
	apply := func(client string, seq uint64) string {
		return string(s.Apply(client, seq, func() any { applied++; return map[string]int{"n": applied} }))
	}
	first := apply("c1", 5)
	if again := apply("c1", 5); again != first || applied != 1 {
		t.Fatalf("a retried request was applied again: %s then %s, %d applications", first, again, applied)
	}
	if got := apply("c2", 5); got == first || applied != 2 {
		t.Fatalf("another client's request with the same number was not applied: %s", got)
	}
	apply("c1", 6)
	if stale := apply("c1", 5); stale != `{"stale":true}` || applied != 3 {
		t.Fatalf("a late duplicate of an older request: %s after %d applications, want stale and 3", stale, applied)
	}
	// Sessions survive a snapshot.
	raw, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	var restored Sessions
	if err := json.Unmarshal(raw, &restored); err != nil {
		t.Fatal(err)
	}
	if got := string(restored.Apply("c1", 6, func() any { t.Fatal("applied again after restore"); return nil })); got != `{"n":3}` {
		t.Fatalf("after restore: %s", got)
	}
}
