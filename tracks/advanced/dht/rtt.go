package dht

import (
	"time"

	"github.com/distsys-curriculum/distsys/internal/rto"
)

// rtts keeps one round-trip estimator per peer and one over every peer: a
// peer this node has heard from only a few times is judged by the
// network's figure (all peers share one network), one never heard from by
// the configured timeout alone.
type rtts struct {
	peers map[string]*rto.Estimator
	all   rto.Estimator
}

// peerSamples is how many round trips a peer's own estimate needs
// before it is trusted over the network's.
const peerSamples = 4

func (r *rtts) sample(peer string, d time.Duration) {
	e := r.peers[peer]
	if e == nil {
		e = &rto.Estimator{}
		r.peers[peer] = e
	}
	e.Sample(d.Seconds())
	r.all.Sample(d.Seconds())
}

// rto is the retransmission timeout for peer (srtt + 4*rttvar, see
// internal/rto); 0 when nothing has been measured yet.
func (r *rtts) rto(peer string) time.Duration {
	e := r.peers[peer]
	if e == nil || e.Samples() < peerSamples {
		e = &r.all
	}
	return time.Duration(e.Timeout() * float64(time.Second))
}
