package raft

import "fmt"

// Handler receives the parts of a Ready that leave the core; nil fields
// are skipped. It lets every node share one correct Ready loop (Drain)
// instead of re-implementing its ordering.
type Handler struct {
	// State is called when role, term or leader change.
	State func(SoftState)
	// Send sends a message to m.To. It must not block for long; dropping
	// is fine (Raft retries).
	Send func(m Message)
	// Restore replaces the state machine with a snapshot's data.
	Restore func(s Snapshot) error
	// Apply applies a committed entry (no-ops included: skip EntryNoop).
	Apply func(e Entry) error
	// Read delivers a ReadIndex answer.
	Read func(rs ReadState)
}

// Drain carries out every pending Ready in the required order: persist
// to storage (if not nil), send, restore, apply, answer reads, Advance. It
// stops at the first error; the node should then stop, since its state
// machine or disk can no longer be trusted.
func (r *Raft) Drain(storage Storage, h Handler) error {
	for r.HasReady() {
		rd := r.Ready()
		if rd.SoftState != nil && h.State != nil {
			h.State(*rd.SoftState)
		}
		if u := rd.Update(); storage != nil && !u.IsEmpty() {
			if err := storage.Save(u); err != nil {
				return fmt.Errorf("raft: persist: %w", err)
			}
		}
		if h.Send != nil {
			for _, m := range rd.Messages {
				h.Send(m)
			}
		}
		if rd.Snapshot != nil && h.Restore != nil {
			if err := h.Restore(*rd.Snapshot); err != nil {
				return fmt.Errorf("raft: restore snapshot %d: %w", rd.Snapshot.Meta.Index, err)
			}
		}
		if h.Apply != nil {
			for _, e := range rd.CommittedEntries {
				if err := h.Apply(e); err != nil {
					return fmt.Errorf("raft: apply %d: %w", e.Index, err)
				}
			}
		}
		if h.Read != nil {
			for _, rs := range rd.ReadStates {
				h.Read(rs)
			}
		}
		r.Advance(rd)
	}
	return nil
}
