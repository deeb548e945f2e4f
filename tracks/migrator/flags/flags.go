// Package flags is the migrator track's feature flags: boolean flags
// rolled out to a percentage of subjects, sticky (a subject in the
// rollout stays in it as the percentage grows, because its bucket is a
// hash of flag and subject, not a coin toss), with a kill switch that
// turns a flag off for everyone at once. Provider exposes the flags
// through OpenFeature (github.com/open-feature/go-sdk), so that code
// written against the OpenFeature client reads them unchanged.
package flags

import (
	"hash/fnv"
	"sync"
)

// Buckets is the resolution of a rollout: percentages have two decimals.
const Buckets = 10000

// Flag is one flag's rollout.
type Flag struct {
	Percent float64 // 0-100: share of subjects for whom the flag is on
	Killed  bool    // kill switch: off for everyone, whatever Percent says
}

// Store holds the flags; safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	flags map[string]Flag
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{flags: map[string]Flag{}} }

// Set creates or replaces a flag's rollout; the percentage is clamped to
// 0-100.
func (s *Store) Set(name string, percent float64) {
	percent = min(max(percent, 0), 100)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flags[name]
	f.Percent = percent
	s.flags[name] = f
}

// Kill turns the flag off for everyone until Revive.
func (s *Store) Kill(name string) { s.setKilled(name, true) }

// Revive lifts the kill switch; the rollout is what it was.
func (s *Store) Revive(name string) { s.setKilled(name, false) }

func (s *Store) setKilled(name string, k bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flags[name]
	f.Killed = k
	s.flags[name] = f
}

// Get returns a flag and whether it exists.
func (s *Store) Get(name string) (Flag, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flags[name]
	return f, ok
}

// Bucket is the subject's fixed place, 0 to Buckets-1, in the flag's
// rollout. Hashing the flag's name with the subject gives each flag its
// own order of subjects, so that the first 10% of one rollout are not the
// first 10% of every rollout.
func Bucket(flag, subject string) int {
	h := fnv.New32a()
	h.Write([]byte(flag))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	return int(h.Sum32() % Buckets)
}

// On reports whether the flag is on for a subject: false for an unknown or
// killed flag.
func (s *Store) On(name, subject string) bool {
	f, ok := s.Get(name)
	return ok && f.on(name, subject)
}

func (f Flag) on(name, subject string) bool {
	return !f.Killed && float64(Bucket(name, subject)) < f.Percent*Buckets/100
}
