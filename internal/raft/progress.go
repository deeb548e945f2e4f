package raft

// progressState is how the leader currently replicates to one follower.
type progressState uint8

const (
	// probe: the leader does not know where the follower's log matches and
	// sends one append at a time (per heartbeat) until it finds out.
	probe progressState = iota
	// replicate: the logs match up to match; the leader streams appends
	// optimistically, up to MaxInflight unacknowledged messages.
	replicate
	// snapshotting: the follower needs entries the leader has compacted; a
	// snapshot is on its way and nothing else is sent until it is answered.
	snapshotting
)

var progressStateNames = [...]string{"probe", "replicate", "snapshot"}

func (s progressState) String() string { return progressStateNames[s] }

type inflight struct{ last, tick uint64 }

// progress is the leader's view of one peer.
type progress struct {
	match, next uint64
	state       progressState

	probeSent    bool       // probe: an append is outstanding
	inflight     []inflight // replicate: unacknowledged appends, ascending
	snapIndex    uint64     // snapshotting: index of the snapshot sent
	snapSentTick uint64     // snapshotting: when, to retry a lost snapshot

	recentActive bool   // heard from since the last check-quorum round
	ackedSeq     uint64 // highest heartbeat Seq echoed back

	// The peer says it is repairing damaged storage: its acknowledgements
	// count toward no quorum, and it is repaired once it matches the
	// leader's log up to repairTarget (the leader's last index when it
	// learned of the repair).
	repairing    bool
	repairTarget uint64
}

func (pr *progress) becomeProbe() {
	// After a snapshot the follower is known to hold at least its index.
	if pr.state == snapshotting {
		pr.next = max(pr.match, pr.snapIndex) + 1
	} else {
		pr.next = pr.match + 1
	}
	pr.state, pr.probeSent, pr.inflight, pr.snapIndex = probe, false, nil, 0
}

func (pr *progress) becomeReplicate() {
	pr.state, pr.probeSent, pr.inflight = replicate, false, nil
	pr.next = pr.match + 1
}

func (pr *progress) becomeSnapshot(index, now uint64) {
	pr.state, pr.probeSent, pr.inflight = snapshotting, false, nil
	pr.snapIndex, pr.snapSentTick = index, now
}

// maybeUpdate records an acknowledgement of index; false if it is stale.
func (pr *progress) maybeUpdate(index uint64) bool {
	updated := false
	if index > pr.match {
		pr.match = index
		updated = true
		pr.probeSent = false
	}
	pr.next = max(pr.next, index+1)
	// Acknowledgements are cumulative: everything sent up to index arrived.
	i := 0
	for i < len(pr.inflight) && pr.inflight[i].last <= index {
		i++
	}
	pr.inflight = pr.inflight[i:]
	return updated
}

// maybeDecrTo handles a rejection of an append whose previous index was
// rejected; hint is the highest index at which the logs may match. It
// returns false for a stale rejection (one answering an older message).
func (pr *progress) maybeDecrTo(rejected, hint uint64) bool {
	if pr.state == replicate {
		if rejected <= pr.match {
			return false
		}
		pr.next = pr.match + 1
		return true
	}
	if pr.next-1 != rejected {
		return false
	}
	next := max(min(rejected, hint+1), pr.match+1)
	pr.probeSent = false
	if next == pr.next {
		// The follower rejects entries it once acknowledged (it lost its
		// disk). Resending at once would loop with no delay; probe again
		// at the next heartbeat instead.
		return false
	}
	pr.next = next
	return true
}

func (pr *progress) isPaused(maxInflight int) bool {
	switch pr.state {
	case probe:
		return pr.probeSent
	case replicate:
		return len(pr.inflight) >= maxInflight
	default:
		return true
	}
}
