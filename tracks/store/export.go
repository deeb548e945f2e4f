package store

import "encoding/json"

// The sharder track keeps one store state machine per shard and moves it,
// session table and all, between Raft groups. These names are its way in.

// KV is the store's replicated state machine: the map and its session
// table. Its Apply takes a JSON-encoded Command and returns an Outcome.
type KV = kv

// Command is one write or cas for KV.Apply.
type Command = command

// Outcome is KV.Apply's result.
type Outcome = outcome

// NewKV returns an empty map with an empty session table.
func NewKV() *KV { return newKV() }

// Get returns key's value, or JSON null for a missing key.
func (s *kv) Get(key string) json.RawMessage { return s.get(key) }

// Canonical makes a key's JSON a map key: compact, so that 1 and " 1" agree.
func Canonical(raw json.RawMessage) string { return canonical(raw) }
