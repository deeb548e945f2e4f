package store

import (
	"encoding/json"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, args := range [][]string{{"--read", "fast"}, {"--bogus"}, {"extra"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q) accepted", args)
		}
	}
	o, err := ParseArgs([]string{"--read", "lease"})
	if err != nil || !o.Lease || !o.Raft.LeaseRead || !o.Raft.CheckQuorum {
		t.Fatalf("ParseArgs(--read lease): %+v, %v", o, err)
	}
}

func TestKVCommands(t *testing.T) {
	s := NewKV()
	run := func(c Command) Outcome {
		data, _ := json.Marshal(c)
		var o Outcome
		if err := json.Unmarshal(s.Apply(0, data).(json.RawMessage), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := run(Command{Client: "c1", Seq: 1, Op: "cas", Key: "1", From: json.RawMessage("1"), To: json.RawMessage("2")}); o.Code != 20 {
		t.Fatalf("cas on a missing key: %+v, want code 20", o)
	}
	run(Command{Client: "c1", Seq: 2, Op: "write", Key: "1", Value: json.RawMessage("3")})
	if o := run(Command{Client: "c1", Seq: 3, Op: "cas", Key: "1", From: json.RawMessage("1"), To: json.RawMessage("2")}); o.Code != 22 {
		t.Fatalf("cas with the wrong from: %+v, want code 22", o)
	}
	if o := run(Command{Client: "c2", Seq: 1, Op: "cas", Key: "1", From: json.RawMessage("3"), To: json.RawMessage("4")}); o.Code != 0 {
		t.Fatalf("cas: %+v", o)
	}
	// A late duplicate of c1's write must not overwrite the newer value.
	run(Command{Client: "c1", Seq: 2, Op: "write", Key: "1", Value: json.RawMessage("3")})
	if v := string(s.Get("1")); v != "4" {
		t.Fatalf("key 1 is %s after a duplicate write, want 4", v)
	}
	if v := string(s.Get("9")); v != "null" {
		t.Fatalf("missing key reads %s, want null", v)
	}
}
