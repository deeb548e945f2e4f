// Package enginebench holds only benchmarks: the indexes track's engines
// side by side with github.com/google/btree, go.etcd.io/bbolt and
// github.com/cockroachdb/pebble, in one `go test -bench` run. It is a
// package of its own so that the track's tests do not build those
// libraries.
package enginebench
