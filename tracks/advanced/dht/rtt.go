package dht

import "time"

// estimator is one smoothed round-trip time, computed as TCP computes it
// (RFC 6298): srtt follows the samples with gain 1/8, rttvar their mean
// deviation with gain 1/4, and the retransmission timeout is
// srtt + 4*rttvar, which on a network whose delays vary lies well past
// the bulk of the round trips, not at their mean.
type estimator struct {
	srtt, rttvar time.Duration
	n            int
}

func (e *estimator) sample(r time.Duration) {
	if r < 0 {
		return
	}
	if e.n == 0 {
		e.srtt, e.rttvar = r, r/2
	} else {
		d := e.srtt - r
		if d < 0 {
			d = -d
		}
		e.rttvar += (d - e.rttvar) / 4
		e.srtt += (r - e.srtt) / 8
	}
	e.n++
}

func (e *estimator) rto() time.Duration { return e.srtt + 4*e.rttvar }

// rtts keeps one estimator per peer and one over every peer: a peer
// this node has heard from only a few times is judged by the network's
// figure (all peers share one network), one never heard from by the
// configured timeout alone.
type rtts struct {
	peers map[string]*estimator
	all   estimator
}

// peerSamples is how many round trips a peer's own estimate needs
// before it is trusted over the network's.
const peerSamples = 4

func (r *rtts) sample(peer string, d time.Duration) {
	e := r.peers[peer]
	if e == nil {
		e = &estimator{}
		r.peers[peer] = e
	}
	e.sample(d)
	r.all.sample(d)
}

// rto is the retransmission timeout for peer; 0 when nothing has been
// measured yet.
func (r *rtts) rto(peer string) time.Duration {
	if e := r.peers[peer]; e != nil && e.n >= peerSamples {
		return e.rto()
	}
	if r.all.n > 0 {
		return r.all.rto()
	}
	return 0
}
