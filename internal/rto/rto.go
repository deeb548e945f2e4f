// Package rto estimates how long to wait for an answer, as TCP estimates
// its retransmission timeout (RFC 6298): srtt follows the round-trip
// samples with gain 1/8, rttvar their mean deviation with gain 1/4, and
// the timeout is srtt + 4*rttvar, which on a network whose delays vary
// lies well past the bulk of the round trips, not at their mean.
//
// Samples are plain numbers in the caller's unit (seconds, protocol
// ticks), so the estimator serves cores that run on a clock and cores
// that count ticks alike. The curriculum's Chord nodes time their peers
// with it, and its PBFT replicas their requests.
package rto

import "math"

// Estimator is one smoothed round-trip time. The zero value has no
// samples.
type Estimator struct {
	srtt, rttvar float64
	n            int
}

// Sample adds one round trip; negative ones are ignored.
func (e *Estimator) Sample(x float64) {
	if x < 0 {
		return
	}
	if e.n == 0 {
		e.srtt, e.rttvar = x, x/2
	} else {
		e.rttvar += (math.Abs(e.srtt-x) - e.rttvar) / 4
		e.srtt += (x - e.srtt) / 8
	}
	e.n++
}

// Samples returns how many round trips were added.
func (e *Estimator) Samples() int { return e.n }

// Timeout returns srtt + 4*rttvar, 0 before the first sample.
func (e *Estimator) Timeout() float64 { return e.srtt + 4*e.rttvar }
