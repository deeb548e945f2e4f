package raft

import (
	"errors"
	"fmt"
)

// Role is a node's part in the protocol at a given moment.
type Role uint8

// The roles. PreCandidate is the probing phase of pre-vote: the node asks
// whether it could win before it bumps its term.
const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

var roleNames = [...]string{"follower", "pre-candidate", "candidate", "leader"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", r)
}

// MarshalText makes roles readable in JSON (status replies, logs).
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (r *Role) UnmarshalText(b []byte) error {
	for i, n := range roleNames {
		if n == string(b) {
			*r = Role(i)
			return nil
		}
	}
	return fmt.Errorf("raft: unknown role %q", b)
}

// EntryType tells the application whether an entry carries its data.
type EntryType uint8

const (
	// EntryNormal carries a proposal's data.
	EntryNormal EntryType = iota
	// EntryNoop is the empty entry a new leader appends so that it can
	// commit something in its own term (and thereby everything before it).
	// Applications skip it.
	EntryNoop
)

// Entry is one log entry.
type Entry struct {
	Term  uint64    `json:"term"`
	Index uint64    `json:"index"`
	Type  EntryType `json:"type,omitempty"`
	Data  []byte    `json:"data,omitempty"`
}

// HardState is what a node must persist before it sends any message that
// depends on it: a vote may be cast once per term, and a commit index is
// kept so that a restarted node can re-apply without waiting for a leader.
//
// Repairing marks a node whose storage was found damaged (raftdisk sets
// it when it opens a corrupted directory): it kept only what verified, so
// it may have forgotten votes, terms and acknowledged entries. Until its
// peers have repaired it, it neither votes nor campaigns and its
// acknowledgements count toward no quorum (see the package README).
type HardState struct {
	Term      uint64 `json:"term"`
	Vote      string `json:"vote,omitempty"`
	Commit    uint64 `json:"commit"`
	Repairing bool   `json:"repairing,omitempty"`
}

// IsEmpty reports whether hs is the zero HardState (used in Ready for "unchanged").
func (hs HardState) IsEmpty() bool { return hs == HardState{} }

// SnapshotMeta locates a snapshot in the log.
type SnapshotMeta struct {
	Index uint64   `json:"index"`
	Term  uint64   `json:"term"`
	Peers []string `json:"peers,omitempty"`
}

// Snapshot is the application's state as of Meta.Index. Data is opaque to
// Raft: the application makes it (Compact) and restores from it (Ready.Snapshot).
type Snapshot struct {
	Meta SnapshotMeta `json:"meta"`
	Data []byte       `json:"data,omitempty"`
}

// MessageType names a Raft message. The names are valid Maelstrom body
// types, so a node can put a Message in a Maelstrom body as it is.
type MessageType string

// The messages between peers.
const (
	MsgVote          MessageType = "raft_vote"
	MsgVoteResp      MessageType = "raft_vote_resp"
	MsgPreVote       MessageType = "raft_prevote"
	MsgPreVoteResp   MessageType = "raft_prevote_resp"
	MsgApp           MessageType = "raft_append"
	MsgAppResp       MessageType = "raft_append_resp"
	MsgHeartbeat     MessageType = "raft_heartbeat"
	MsgHeartbeatResp MessageType = "raft_heartbeat_resp"
	MsgSnap          MessageType = "raft_snapshot"
	MsgReadIndex     MessageType = "raft_read_index"
	MsgReadIndexResp MessageType = "raft_read_index_resp"
	MsgTimeoutNow    MessageType = "raft_timeout_now"
	// MsgRepairQuery asks a peer for its current term, on behalf of a
	// node repairing damaged storage; MsgRepairQueryResp answers with it.
	MsgRepairQuery     MessageType = "raft_repair_query"
	MsgRepairQueryResp MessageType = "raft_repair_query_resp"
)

// Message is every message between Raft peers; which fields matter
// depends on Type:
//
//   - Vote/PreVote: Index and LogTerm are the candidate's last entry.
//   - App: Index/LogTerm locate the entry preceding Entries; Commit is the leader's commit index.
//   - AppResp: Index is the follower's last matching index, or, with Reject,
//     the rejected Index; RejectHint/LogTerm then point the leader at where
//     the logs may agree (one round trip per term, not per entry).
//   - Heartbeat: Commit as in App; Seq is echoed by the response and dates
//     the leader's contact with a quorum (read index, lease).
//   - Snap: Snapshot; answered with AppResp.
//   - Vote with Force: the election was asked for by the leader (TimeoutNow,
//     leadership transfer), so voters that still trust that leader vote anyway.
//   - ReadIndex: a follower forwards a read's Context to the leader;
//     ReadIndexResp returns it with the read's Index.
//   - Repair: on AppResp/HeartbeatResp, the sender is repairing damaged
//     storage (its acknowledgement counts toward no quorum); on Heartbeat,
//     the leader tells such a follower that its log now holds everything
//     the leader had when it learned of the repair, which ends it.
//   - RepairQuery/RepairQueryResp: Seq is the query's round, echoed back.
type Message struct {
	Type       MessageType `json:"type"`
	From       string      `json:"from"`
	To         string      `json:"to"`
	Term       uint64      `json:"term"`
	LogTerm    uint64      `json:"log_term,omitempty"`
	Index      uint64      `json:"index,omitempty"`
	Entries    []Entry     `json:"entries,omitempty"`
	Commit     uint64      `json:"commit,omitempty"`
	Reject     bool        `json:"reject,omitempty"`
	RejectHint uint64      `json:"reject_hint,omitempty"`
	Seq        uint64      `json:"seq,omitempty"`
	Snapshot   *Snapshot   `json:"snapshot,omitempty"`
	Context    []byte      `json:"context,omitempty"`
	Force      bool        `json:"force,omitempty"`
	Repair     bool        `json:"repair,omitempty"`
}

// SoftState is volatile state worth showing: who leads, in which term.
type SoftState struct {
	Role   Role   `json:"role"`
	Term   uint64 `json:"term"`
	Leader string `json:"leader,omitempty"`
}

// ReadState answers a ReadIndex call: once the application has applied up
// to Index, a read made now reflects every write acknowledged before the
// ReadIndex call. RequestCtx is the caller's token, returned unchanged.
type ReadState struct {
	Index      uint64 `json:"index"`
	RequestCtx []byte `json:"request_ctx,omitempty"`
}

// Ready is a batch of work for the application, which must handle it in
// this order:
//
//  1. persist Snapshot or Compacted, Entries and HardState (Update, Storage.Save);
//  2. send Messages;
//  3. restore the state machine from Snapshot if set, then apply CommittedEntries;
//  4. call Advance(rd).
//
// Persisting before sending is what makes votes and acknowledgements durable
// promises; a crash between steps loses nothing that a peer relied on.
type Ready struct {
	// SoftState is non-nil when role, term or leader changed.
	SoftState *SoftState
	// HardState is zero when unchanged.
	HardState HardState
	// Entries are to be appended to stable storage; an entry replaces any
	// stored entry at the same or a later index.
	Entries []Entry
	// Snapshot came from a leader (or from storage on restart): persist it
	// and restore the state machine from it.
	Snapshot *Snapshot
	// Compacted is a snapshot the application made with Compact: persist it
	// (discarding the log it covers); the state machine already reflects it.
	Compacted *Snapshot
	// CommittedEntries are to be applied, in order.
	CommittedEntries []Entry
	// Messages are to be sent after the durable part is on disk.
	Messages []Message
	// ReadStates answer ReadIndex calls.
	ReadStates []ReadState
}

// Update is the durable part of a Ready.
type Update struct {
	HardState HardState
	Entries   []Entry
	Snapshot  *Snapshot
}

// Update returns what rd asks to be persisted.
func (rd Ready) Update() Update {
	u := Update{HardState: rd.HardState, Entries: rd.Entries, Snapshot: rd.Snapshot}
	if u.Snapshot == nil {
		u.Snapshot = rd.Compacted
	}
	return u
}

// IsEmpty reports whether there is nothing to persist.
func (u Update) IsEmpty() bool {
	return u.HardState.IsEmpty() && len(u.Entries) == 0 && u.Snapshot == nil
}

// Errors callers branch on.
var (
	// ErrNotLeader is matched (errors.Is) by every *NotLeaderError.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrTransferring means a leadership transfer is in progress: retry
	// at the new leader.
	ErrTransferring = errors.New("raft: leadership transfer in progress")
	// ErrCompacted means the requested index is already inside a snapshot.
	ErrCompacted = errors.New("raft: index compacted")
	// ErrUnavailable means the requested index has not been applied yet.
	ErrUnavailable = errors.New("raft: index not yet applied")
)

// NotLeaderError is returned by Propose and ReadIndex on a node that is not
// the leader. Leader is the node's best guess of who is ("" if unknown),
// so that a client can be redirected.
type NotLeaderError struct {
	Leader string
	Term   uint64
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "raft: not the leader (leader unknown)"
	}
	return fmt.Sprintf("raft: not the leader (try %s)", e.Leader)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
