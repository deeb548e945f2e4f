package services

import (
	"encoding/json"
	"sync"
)

// apply evaluates a KV request against one state of the store, read
// through get. It returns the reply and, when the request changes the
// state, the key's new value. ok is false for a type the KV services do
// not know. allowCreate is false for lww-kv, which has no
// create_if_not_exists.
func apply(r kvRequest, get func(key string) (string, bool), allowCreate bool) (reply json.RawMessage, write *string, ok bool) {
	switch r.typ {
	case "read":
		v, found := get(r.key)
		if !found {
			return errMissing(r.msgID), nil, true
		}
		return replyValue(r.msgID, v), nil, true
	case "write":
		v := r.value
		return replyOK("write_ok", r.msgID), &v, true
	case "cas":
		cur, found := get(r.key)
		switch {
		case !found && allowCreate && r.create:
			// Creating ignores from: there is nothing to compare it to.
			v := r.to
			return replyOK("cas_ok", r.msgID), &v, true
		case !found:
			return errMissing(r.msgID), nil, true
		case cur != r.from:
			return errMismatch(r.msgID, cur, r.from), nil, true
		}
		v := r.to
		return replyOK("cas_ok", r.msgID), &v, true
	}
	return nil, nil, false
}

// LinKV is lin-kv: one map behind one lock, so every operation takes
// effect atomically at a single instant and the store is linearizable.
type LinKV struct {
	mu sync.Mutex
	m  map[string]string
}

// NewLinKV returns an empty lin-kv.
func NewLinKV() *LinKV { return &LinKV{m: make(map[string]string)} }

// Handle implements Service.
func (s *LinKV) Handle(_ string, body json.RawMessage) (json.RawMessage, bool) {
	r, ok := parseKV(body)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reply, write, ok := apply(r, func(k string) (string, bool) { v, ok := s.m[k]; return v, ok }, true)
	if write != nil {
		s.m[r.key] = *write
	}
	return reply, ok
}

// LinTSO is lin-tso: a linearizable timestamp oracle handing out
// 0, 1, 2, ... one per ts request.
type LinTSO struct {
	mu   sync.Mutex
	next uint64
}

// NewLinTSO returns an oracle whose first timestamp is 0.
func NewLinTSO() *LinTSO { return &LinTSO{} }

// Handle implements Service.
func (s *LinTSO) Handle(_ string, body json.RawMessage) (json.RawMessage, bool) {
	var r request
	if err := json.Unmarshal(body, &r); err != nil || r.Type != "ts" {
		return nil, false
	}
	s.mu.Lock()
	ts := s.next
	s.next++
	s.mu.Unlock()
	return mustMarshal(okReply{Type: "ts_ok", InReplyTo: inReplyTo(r.MsgID), TS: &ts}), true
}
