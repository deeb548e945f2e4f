package netsim

// SetDown marks an endpoint dead (a killed node) or alive again. Messages
// to a dead endpoint stay in the journal as sent and never received, the
// way a dropped message appears, and count in Stats.Dropped; its queue is
// discarded message by message as it comes due. The endpoint stays
// registered so that senders see a lossy network, not an error.
func (n *Net) SetDown(id string, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down == nil {
		n.down = map[string]bool{}
	}
	if down {
		n.down[id] = true
	} else {
		delete(n.down, id)
	}
}

// Down reports whether id is marked dead.
func (n *Net) Down(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.down[id]
}
