package eventstore

import "encoding/json"

// Snapshots keeps an aggregate's state (the fold of its stream) every
// Every versions, so that loading a stream at any version folds at most
// Every-1 events from the nearest snapshot instead of the whole stream.
// They are derived from the log: Observe each record in log order, and
// after a restore rebuild them by observing the log again.
type Snapshots[S any] struct {
	Every int
	Fold  func(S, json.RawMessage) S
	byStr map[string]*snapStream[S]
}

type snapStream[S any] struct {
	saved   []S // saved[i]: the state at version i*Every
	current S
	version int64
}

// NewSnapshots returns snapshots every `every` versions of the fold.
func NewSnapshots[S any](every int, fold func(S, json.RawMessage) S) *Snapshots[S] {
	return &Snapshots[S]{Every: max(every, 1), Fold: fold, byStr: map[string]*snapStream[S]{}}
}

func (sn *Snapshots[S]) stream(name string) *snapStream[S] {
	st := sn.byStr[name]
	if st == nil {
		var zero S
		st = &snapStream[S]{saved: []S{zero}}
		sn.byStr[name] = st
	}
	return st
}

// Observe folds a newly stored record into its stream's current state.
func (sn *Snapshots[S]) Observe(r Record) {
	st := sn.stream(r.Stream)
	st.current = sn.Fold(st.current, r.Event)
	st.version = r.Version
	if r.Version%int64(sn.Every) == 0 {
		st.saved = append(st.saved, st.current)
	}
}

// Reset forgets every snapshot (before observing a restored log).
func (sn *Snapshots[S]) Reset() { sn.byStr = map[string]*snapStream[S]{} }

// State returns a stream's state at a version no later than the current
// one: the nearest snapshot at or before it, with the events after it
// folded in from the store. It also returns how many events it folded.
func (sn *Snapshots[S]) State(s *Store, name string, version int64) (S, int) {
	st := sn.stream(name)
	if version >= st.version {
		return st.current, 0
	}
	i := version / int64(sn.Every)
	state := st.saved[i]
	folded := 0
	for v := i*int64(sn.Every) + 1; v <= version; v++ {
		state = sn.Fold(state, s.Event(name, v))
		folded++
	}
	return state, folded
}
