package filesystem

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// namespace is the master's replicated state: files, their chunks and
// each chunk's version. Every change is a Raft log entry (the operation
// log) and Raft's snapshots of this state are the checkpoints. Where the
// chunks are is not here: the master learns it from the chunk servers'
// heartbeats, as GFS does, so it cannot drift from the disks.
type namespace struct {
	Files      map[string][]uint64   `json:"files"`
	Chunks     map[uint64]*chunkMeta `json:"chunks"`
	NextHandle uint64                `json:"next_handle"`
	Sessions   raftnode.Sessions     `json:"sessions"`
}

// chunkMeta is a chunk's file, its version, and the chunk servers that
// hold that version: the servers that took the version bump (and so
// every acknowledged mutation since), and those a clone added later. A
// server outside the set may report the same version (its answer to the
// bump was lost) but may have missed mutations: only members are read
// and written.
type chunkMeta struct {
	Path     string   `json:"path"`
	Version  uint64   `json:"version"`
	Replicas []string `json:"replicas"`
}

func newNamespace() *namespace {
	return &namespace{Files: map[string][]uint64{}, Chunks: map[uint64]*chunkMeta{}, NextHandle: 1}
}

// command is one operation-log entry. Client commands (create, delete)
// carry the client's id and request number for de-duplication; the
// master's own (add-chunk, set-version) are idempotent.
type command struct {
	Op       string   `json:"op"`
	Client   string   `json:"client,omitempty"`
	Seq      uint64   `json:"seq,omitempty"`
	Path     string   `json:"path,omitempty"`
	Index    int      `json:"index,omitempty"`
	Handle   uint64   `json:"handle,omitempty"`
	Version  uint64   `json:"version,omitempty"`
	Replicas []string `json:"replicas,omitempty"`
}

type outcome struct {
	Code    int      `json:"code,omitempty"`
	Text    string   `json:"text,omitempty"`
	Handles []uint64 `json:"handles,omitempty"`
	Stale   bool     `json:"stale,omitempty"`
}

func (o *outcome) Failure() error { return raftnode.Failure(o.Code, o.Text, o.Stale) }

func (ns *namespace) Apply(_ uint64, data []byte) any {
	var c command
	if err := json.Unmarshal(data, &c); err != nil {
		return outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
	}
	if c.Client != "" {
		return ns.Sessions.Apply(c.Client, c.Seq, func() any { return ns.exec(c) })
	}
	return ns.exec(c)
}

func (ns *namespace) exec(c command) outcome {
	switch c.Op {
	case "create":
		if _, ok := ns.Files[c.Path]; ok {
			return outcome{Code: node.KeyAlreadyExists, Text: "file " + c.Path + " exists"}
		}
		ns.Files[c.Path] = []uint64{}
	case "delete":
		hs, ok := ns.Files[c.Path]
		if !ok {
			return outcome{Code: node.KeyDoesNotExist, Text: "no file " + c.Path}
		}
		// The chunks become orphans: the next heartbeat of each server
		// holding one tells it to delete it (garbage collection).
		for _, h := range hs {
			delete(ns.Chunks, h)
		}
		delete(ns.Files, c.Path)
	case "add-chunk":
		// Index is the number of chunks the requester saw: a chunk is
		// added only if no other request added one meanwhile.
		hs, ok := ns.Files[c.Path]
		if !ok {
			return outcome{Code: node.KeyDoesNotExist, Text: "no file " + c.Path}
		}
		if len(hs) == c.Index {
			h := ns.NextHandle
			ns.NextHandle++
			ns.Chunks[h] = &chunkMeta{Path: c.Path, Version: 1}
			ns.Files[c.Path] = append(hs, h)
		}
		return outcome{Handles: slices.Clone(ns.Files[c.Path])}
	case "set-version":
		// A version bump (lease grant, repair) or a new chunk's placement.
		if m := ns.Chunks[c.Handle]; m != nil && (c.Version > m.Version || (c.Version == m.Version && len(m.Replicas) == 0)) {
			m.Version, m.Replicas = c.Version, slices.Clone(c.Replicas)
		}
	case "add-replica":
		// A clone finished: the new server holds the version too.
		if m := ns.Chunks[c.Handle]; m != nil && c.Version == m.Version {
			for _, s := range c.Replicas {
				if !slices.Contains(m.Replicas, s) {
					m.Replicas = append(m.Replicas, s)
				}
			}
			sort.Strings(m.Replicas)
		}
	default:
		return outcome{Code: node.MalformedRequest, Text: "unknown op " + c.Op}
	}
	return outcome{}
}

func (ns *namespace) list(prefix string) []string {
	out := []string{}
	for p := range ns.Files {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// garbage reports whether a chunk a server holds should go: its file was
// deleted (the handle was issued and is no longer known), its version is
// older than the master's (it missed mutations while down), or it has
// the version without being one of its replicas (a bump whose answer was
// lost). A newer version than the master's is a bump not yet logged and
// stays; so does a copy being made (busy).
func (ns *namespace) garbage(server string, ci ChunkInfo, busy bool) bool {
	m := ns.Chunks[ci.Handle]
	if m == nil {
		return ci.Handle < ns.NextHandle
	}
	if len(m.Replicas) == 0 {
		return false // being placed: its servers are not logged yet
	}
	return ci.Version < m.Version || (ci.Version == m.Version && !busy && !slices.Contains(m.Replicas, server))
}

func (ns *namespace) Snapshot() ([]byte, error) { return json.Marshal(ns) }

func (ns *namespace) Restore(data []byte) error {
	fresh := newNamespace()
	if err := json.Unmarshal(data, fresh); err != nil {
		return err
	}
	*ns = *fresh
	return nil
}
