package raftnode

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
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

type answer struct {
	Code  int    `json:"code,omitempty"`
	Text  string `json:"text,omitempty"`
	Stale bool   `json:"stale,omitempty"`
	Value int    `json:"value,omitempty"`
}

func (a *answer) Failure() error { return Failure(a.Code, a.Text, a.Stale) }

type fixedLog struct {
	raw json.RawMessage
	err error
}

func (l fixedLog) Submit(context.Context, []byte) (json.RawMessage, error) { return l.raw, l.err }

func TestSubmitFor(t *testing.T) {
	for _, tc := range []struct {
		log   fixedLog
		code  int // 0: success
		value int
	}{
		{fixedLog{raw: json.RawMessage(`{"value":7}`)}, 0, 7},
		{fixedLog{raw: json.RawMessage(`{"code":22,"text":"expected 1, found 2"}`)}, node.PreconditionFailed, 0},
		{fixedLog{raw: json.RawMessage(`{"stale":true}`)}, node.Abort, 0},
		{fixedLog{err: ErrFailed}, node.Crash, 0},
	} {
		var a answer
		err := SubmitFor(context.Background(), tc.log, nil, &a)
		var rpc *node.RPCError
		switch {
		case tc.code == 0 && (err != nil || a.Value != tc.value):
			t.Errorf("%s: got %v and value %d, want success with %d", tc.log.raw, err, a.Value, tc.value)
		case tc.code != 0 && (!errors.As(err, &rpc) || rpc.Code != tc.code):
			t.Errorf("%s / %v: got %v, want error %d", tc.log.raw, tc.log.err, err, tc.code)
		}
	}
	if err := SubmitFor(context.Background(), fixedLog{raw: json.RawMessage(`[`)}, nil, &answer{}); err == nil {
		t.Error("an undecodable answer was taken for success")
	}
}
