package watcher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

// eventWindow is how many recent events every replica keeps for watches
// that start in the past; a watch from before the window is refused.
const eventWindow = 4096

// command is one log entry, with its client's id and request number for
// de-duplication (as in the store track).
type command struct {
	Client     string          `json:"client,omitempty"`
	Seq        uint64          `json:"seq,omitempty"`
	Op         string          `json:"op"` // put, cas, delete, grant, keepalive, revoke, expire
	Key        string          `json:"key,omitempty"`
	Value      json.RawMessage `json:"value,omitempty"`
	From       json.RawMessage `json:"from,omitempty"`
	To         json.RawMessage `json:"to,omitempty"`
	Lease      int64           `json:"lease,omitempty"`
	TTL        int64           `json:"ttl,omitempty"`
	Sequential bool            `json:"sequential,omitempty"`
	// Create makes a put fail (error 21) when the key exists.
	Create bool `json:"create,omitempty"`
	// Renewed, in an expire, is the log index of the lease's last renewal
	// the leader had applied when it decided: a renewal after it cancels
	// the expiry.
	Renewed uint64 `json:"renewed,omitempty"`
}

// outcome is a command's result: code 0 for success, else a Maelstrom
// error code.
type outcome struct {
	Code  int    `json:"code,omitempty"`
	Text  string `json:"text,omitempty"`
	Stale bool   `json:"stale,omitempty"`
	Rev   int64  `json:"rev,omitempty"`
	Key   string `json:"key,omitempty"`
	Lease int64  `json:"lease,omitempty"`
}

func (o *outcome) Failure() error { return raftnode.Failure(o.Code, o.Text, o.Stale) }

// entry is a live key: its value, how many times it was written since it
// was created, the revisions of its creation and last change, its lease.
type entry struct {
	Value     json.RawMessage `json:"value"`
	Version   int64           `json:"version"`
	CreateRev int64           `json:"create_rev"`
	ModRev    int64           `json:"mod_rev"`
	Lease     int64           `json:"lease,omitempty"`
}

// lease is a session: its time-to-live, the log index of its grant or
// last keepalive, and the keys that die with it.
type lease struct {
	TTL     int64           `json:"ttl"` // milliseconds
	Renewed uint64          `json:"renewed"`
	Keys    map[string]bool `json:"keys"`
}

// machine is the replicated state: keys, leases and the recent events,
// all a function of the log. seen (when each lease last showed a sign of
// life on this replica, by this replica's clock) is not: it is reset to
// "now" after a restore, which can only make a lease live longer. The
// driver calls Apply with its lock held; notify is closed and replaced
// after every change so that waiting watches wake up.
type machine struct {
	Rev       int64             `json:"rev"`
	Keys      map[string]*entry `json:"keys"`
	Leases    map[int64]*lease  `json:"leases"`
	NextLease int64             `json:"next_lease"`
	SeqNext   map[string]int64  `json:"seq_next"`
	Events    []client.Event    `json:"events"`
	Sessions  raftnode.Sessions `json:"sessions"`

	now    func() time.Time
	seen   map[int64]time.Time
	notify chan struct{}
}

func newMachine(now func() time.Time) *machine {
	return &machine{Keys: map[string]*entry{}, Leases: map[int64]*lease{}, SeqNext: map[string]int64{},
		now: now, seen: map[int64]time.Time{}, notify: make(chan struct{})}
}

func (m *machine) Apply(index uint64, data []byte) any {
	var c command
	if err := json.Unmarshal(data, &c); err != nil {
		return outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
	}
	before := m.Rev
	var res json.RawMessage
	if c.Client == "" {
		// The leader's own commands (expire) need no de-duplication.
		res, _ = json.Marshal(m.exec(index, c))
	} else {
		res = m.Sessions.Apply(c.Client, c.Seq, func() any { return m.exec(index, c) })
	}
	if m.Rev != before {
		close(m.notify)
		m.notify = make(chan struct{})
	}
	return res
}

func (m *machine) exec(index uint64, c command) outcome {
	switch c.Op {
	case "put":
		key := c.Key
		if c.Lease != 0 && m.Leases[c.Lease] == nil {
			return outcome{Code: node.KeyDoesNotExist, Text: fmt.Sprintf("lease %d not found (expired?)", c.Lease)}
		}
		if c.Sequential {
			m.SeqNext[key]++
			key = fmt.Sprintf("%s%010d", key, m.SeqNext[key])
		}
		if c.Create && m.Keys[key] != nil {
			return outcome{Code: node.KeyAlreadyExists, Text: "key " + key + " exists"}
		}
		m.put(key, c.Value, c.Lease)
		return outcome{Rev: m.Rev, Key: key}
	case "cas":
		e := m.Keys[c.Key]
		if e == nil {
			return outcome{Code: node.KeyDoesNotExist, Text: "key " + c.Key + " does not exist"}
		}
		if canonical(e.Value) != canonical(c.From) {
			return outcome{Code: node.PreconditionFailed, Text: fmt.Sprintf("expected %s, had %s", c.From, e.Value)}
		}
		m.put(c.Key, c.To, e.Lease)
		return outcome{Rev: m.Rev, Key: c.Key}
	case "delete":
		if m.Keys[c.Key] == nil {
			return outcome{Code: node.KeyDoesNotExist, Text: "key " + c.Key + " does not exist"}
		}
		m.del(c.Key)
		return outcome{Rev: m.Rev, Key: c.Key}
	case "grant":
		m.NextLease++
		m.Leases[m.NextLease] = &lease{TTL: c.TTL, Renewed: index, Keys: map[string]bool{}}
		m.seen[m.NextLease] = m.now()
		return outcome{Lease: m.NextLease, Rev: m.Rev}
	case "keepalive":
		if m.Leases[c.Lease] == nil {
			return outcome{Code: node.KeyDoesNotExist, Text: fmt.Sprintf("lease %d not found (expired?)", c.Lease)}
		}
		m.Leases[c.Lease].Renewed = index
		m.seen[c.Lease] = m.now()
		return outcome{Lease: c.Lease, Rev: m.Rev}
	case "revoke", "expire":
		l := m.Leases[c.Lease]
		if l == nil {
			if c.Op == "expire" {
				return outcome{Rev: m.Rev}
			}
			return outcome{Code: node.KeyDoesNotExist, Text: fmt.Sprintf("lease %d not found (expired?)", c.Lease)}
		}
		if c.Op == "expire" && l.Renewed != c.Renewed {
			// Renewed after the leader decided (or the leader had not
			// applied the last renewal yet): the client is alive.
			return outcome{Rev: m.Rev}
		}
		keys := make([]string, 0, len(l.Keys))
		for k := range l.Keys {
			keys = append(keys, k)
		}
		sort.Strings(keys) // every replica deletes in the same order
		for _, k := range keys {
			m.del(k)
		}
		delete(m.Leases, c.Lease)
		delete(m.seen, c.Lease)
		return outcome{Rev: m.Rev}
	}
	return outcome{Code: node.MalformedRequest, Text: "unknown op " + c.Op}
}

func (m *machine) put(key string, value json.RawMessage, leaseID int64) {
	m.Rev++
	e := m.Keys[key]
	if e == nil {
		e = &entry{CreateRev: m.Rev}
		m.Keys[key] = e
	}
	if e.Lease != leaseID {
		if l := m.Leases[e.Lease]; l != nil {
			delete(l.Keys, key)
		}
		if l := m.Leases[leaseID]; l != nil {
			l.Keys[key] = true
		}
	}
	e.Value, e.Lease, e.ModRev = value, leaseID, m.Rev
	e.Version++
	m.event(client.Event{Rev: m.Rev, Key: key, Type: "put", Value: value})
}

func (m *machine) del(key string) {
	e := m.Keys[key]
	if l := m.Leases[e.Lease]; l != nil {
		delete(l.Keys, key)
	}
	delete(m.Keys, key)
	m.Rev++
	m.event(client.Event{Rev: m.Rev, Key: key, Type: "delete"})
}

func (m *machine) event(ev client.Event) {
	m.Events = append(m.Events, ev)
	if len(m.Events) > eventWindow {
		m.Events = slices.Delete(m.Events, 0, len(m.Events)-eventWindow)
	}
}

// oldest is the lowest revision a watch may start from: every event from
// there on is still in the window.
func (m *machine) oldest() int64 {
	if len(m.Events) == 0 {
		return m.Rev + 1
	}
	return m.Events[0].Rev
}

// eventsFrom returns up to limit events at revisions >= rev that match,
// and the revision through which the answer is complete.
func (m *machine) eventsFrom(rev int64, limit int, match func(key string) bool) ([]client.Event, int64) {
	i := sort.Search(len(m.Events), func(i int) bool { return m.Events[i].Rev >= rev })
	var out []client.Event
	for ; i < len(m.Events); i++ {
		if match(m.Events[i].Key) {
			out = append(out, m.Events[i])
			if len(out) == limit {
				return out, m.Events[i].Rev
			}
		}
	}
	return out, m.Rev
}

// polled is the counter-example's view: each matching key's current state
// if it changed at rev or later, oldest change first, as a client that
// polls the keys would see them. Intermediate changes and deletions are
// invisible to it.
func (m *machine) polled(rev int64, match func(key string) bool) ([]client.Event, int64) {
	var out []client.Event
	for k, e := range m.Keys {
		if e.ModRev >= rev && match(k) {
			out = append(out, client.Event{Rev: e.ModRev, Key: k, Type: "put", Value: e.Value})
		}
	}
	slices.SortFunc(out, func(a, b client.Event) int { return int(a.Rev - b.Rev) })
	return out, m.Rev
}

// list returns the keys under prefix, sorted.
func (m *machine) list(prefix string) []client.KeyValue {
	out := []client.KeyValue{}
	for k, e := range m.Keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, client.KeyValue{Key: k, Value: e.Value, Version: e.Version, CreateRev: e.CreateRev, ModRev: e.ModRev, Lease: e.Lease})
		}
	}
	slices.SortFunc(out, func(a, b client.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// expired lists the leases whose last sign of life is older than their
// ttl, by this replica's clock, as expire commands.
func (m *machine) expired() []command {
	now := m.now()
	var out []command
	for id, l := range m.Leases {
		seen, ok := m.seen[id]
		if !ok {
			m.seen[id] = now
			continue
		}
		if now.Sub(seen) > time.Duration(l.TTL)*time.Millisecond {
			out = append(out, command{Op: "expire", Lease: id, Renewed: l.Renewed})
		}
	}
	slices.SortFunc(out, func(a, b command) int { return int(a.Lease - b.Lease) })
	return out
}

func (m *machine) Snapshot() ([]byte, error) { return json.Marshal(m) }

func (m *machine) Restore(data []byte) error {
	fresh := newMachine(m.now)
	if err := json.Unmarshal(data, fresh); err != nil {
		return err
	}
	for _, l := range fresh.Leases {
		if l.Keys == nil {
			l.Keys = map[string]bool{}
		}
	}
	// A restore is a change: wake the watches.
	close(m.notify)
	*m = *fresh
	return nil
}

// canonical makes a value's JSON comparable: compact and with object keys
// sorted, so that 1 and " 1" agree, and so do {"a":1,"b":2} and
// {"b":2,"a":1} (a client that read a value back and offers it as a
// compare-and-set's expected value must match what was written).
func canonical(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil {
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
