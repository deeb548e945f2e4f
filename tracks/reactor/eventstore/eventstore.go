// Package eventstore is the reactor track's event store, as a pure data
// structure: streams of events with optimistic concurrency (an append
// names the version it expects each stream to be at), reads by stream
// and from a position in the global log, "as of" lookups by version and
// by time, and aggregate snapshots (Snapshots) that spare a load from
// folding a long stream from its start.
//
// It does no I/O and reads no clock: the node (package reactor)
// replicates every append through Raft and applies it here on every
// replica in log order, so every replica holds the same streams with the
// same versions and positions. Events are opaque JSON to the store,
// except for two fields it reads: "id" (a client's unique name for the
// event) and "at" (the client's timestamp, for as-of-time queries).
package eventstore

import (
	"encoding/json"
	"fmt"
)

// Record is a stored event: its stream, its version in the stream
// (counting from 1) and its position in the global log (from 1).
type Record struct {
	Stream   string          `json:"stream"`
	Version  int64           `json:"version"`
	Position int64           `json:"position"`
	Event    json.RawMessage `json:"event"`
}

// Write is one stream's part of an append: its events go at versions
// Expected+1, Expected+2, ... (Expected 0: the stream must be new).
type Write struct {
	Stream   string            `json:"stream"`
	Expected int64             `json:"expected_version"`
	Events   []json.RawMessage `json:"events"`
}

// ConflictError refuses an append: a stream was not at the version the
// writer expected, so the writer decided on a state that is gone.
type ConflictError struct {
	Stream           string
	Expected, Actual int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %s is at version %d, not at the expected version %d", e.Stream, e.Actual, e.Expected)
}

// Store holds every stream. The zero value is not usable: call New.
type Store struct {
	log     []Record
	streams map[string]*stream
	// IgnoreExpected appends at the end of each stream whatever version
	// the writer expected: the track's counter-example, a store that
	// loses updates.
	IgnoreExpected bool
}

// stream indexes one stream's records in the log, with their
// timestamps for as-of-time lookups.
type stream struct {
	positions []int64
	at        []int64
}

// New returns an empty store.
func New() *Store { return &Store{streams: map[string]*stream{}} }

// Version is a stream's current version: its number of events.
func (s *Store) Version(name string) int64 {
	if st := s.streams[name]; st != nil {
		return int64(len(st.positions))
	}
	return 0
}

// End is the position of the last event in the log (0 when empty).
func (s *Store) End() int64 { return int64(len(s.log)) }

// Append adds every write's events, or none: if any stream is not at its
// expected version it returns a *ConflictError and changes nothing. It
// returns each stream's new version and the position of the last event.
// An append with several writes (a transfer between two accounts) is
// atomic because it is one entry of the replicated log.
func (s *Store) Append(writes []Write) (versions []int64, position int64, err error) {
	if !s.IgnoreExpected {
		for _, w := range writes {
			if v := s.Version(w.Stream); v != w.Expected {
				return nil, 0, &ConflictError{Stream: w.Stream, Expected: w.Expected, Actual: v}
			}
		}
	}
	seen := map[string]bool{}
	for _, w := range writes {
		if seen[w.Stream] {
			return nil, 0, fmt.Errorf("stream %s written twice in one append", w.Stream)
		}
		seen[w.Stream] = true
		for _, e := range w.Events {
			if !json.Valid(e) {
				return nil, 0, fmt.Errorf("event %q is not JSON", e)
			}
		}
	}
	for _, w := range writes {
		for _, e := range w.Events {
			s.add(w.Stream, e)
		}
		versions = append(versions, s.Version(w.Stream))
	}
	return versions, s.End(), nil
}

func (s *Store) add(name string, e json.RawMessage) {
	st := s.streams[name]
	if st == nil {
		st = &stream{}
		s.streams[name] = st
	}
	r := Record{Stream: name, Version: int64(len(st.positions)) + 1, Position: s.End() + 1, Event: e}
	s.log = append(s.log, r)
	st.positions = append(st.positions, r.Position)
	st.at = append(st.at, timestamp(e))
}

// timestamp reads an event's "at" (0 when it has none).
func timestamp(e json.RawMessage) int64 {
	var v struct {
		At int64 `json:"at"`
	}
	_ = json.Unmarshal(e, &v)
	return v.At
}

// ReadStream returns at most max events of a stream from version from on.
func (s *Store) ReadStream(name string, from int64, max int) []Record {
	out := []Record{}
	st := s.streams[name]
	if st == nil {
		return out
	}
	for v := max64(from, 1); v <= int64(len(st.positions)) && len(out) < max; v++ {
		out = append(out, s.log[st.positions[v-1]-1])
	}
	return out
}

// ReadAll returns at most max events of the global log from position from
// on: a catch-up subscription reads from its checkpoint with it.
func (s *Store) ReadAll(from int64, max int) []Record {
	out := []Record{}
	for p := max64(from, 1); p <= s.End() && len(out) < max; p++ {
		out = append(out, s.log[p-1])
	}
	return out
}

// VersionAt is the version of a stream as of time t: the longest prefix
// of the stream whose events are all stamped at or before t.
func (s *Store) VersionAt(name string, t int64) int64 {
	st := s.streams[name]
	if st == nil {
		return 0
	}
	for i, at := range st.at {
		if at > t {
			return int64(i)
		}
	}
	return int64(len(st.at))
}

// Event returns a stream's event at a version (from 1).
func (s *Store) Event(name string, version int64) json.RawMessage {
	return s.log[s.streams[name].positions[version-1]-1].Event
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// MarshalJSON encodes the store as its log (the streams are indexes
// rebuilt from it): the replicated state machine's snapshot.
func (s *Store) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Log []Record `json:"log"`
	}{s.log})
}

// UnmarshalJSON restores a store from MarshalJSON's encoding.
func (s *Store) UnmarshalJSON(data []byte) error {
	var v struct {
		Log []Record `json:"log"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	fresh := New()
	fresh.IgnoreExpected = s.IgnoreExpected
	for i, r := range v.Log {
		if r.Position != int64(i+1) || r.Version != fresh.Version(r.Stream)+1 {
			return fmt.Errorf("eventstore: snapshot record %d is %s v%d at position %d: out of sequence", i, r.Stream, r.Version, r.Position)
		}
		fresh.add(r.Stream, r.Event)
	}
	*s = *fresh
	return nil
}
