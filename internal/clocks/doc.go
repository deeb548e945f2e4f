// Package clocks provides logical and hybrid clocks for nodes that have no
// shared notion of time: Lamport clocks, vector clocks and hybrid logical
// clocks (HLC).
//
// The timekeeper track teaches them in that order, and later tracks
// (coordinator, reactor, tracer, ...) stamp events with them. Every type is
// pure — no I/O, no goroutines, no reading of the system clock: physical
// time reaches an HLC through a program.Clock, which the grader's clock
// nemesis skews — and safe for concurrent use, since a node's handlers run
// concurrently.
package clocks
