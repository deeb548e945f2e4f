package maelstrom

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// A node that answers 0 for a key nobody wrote (challenge 6 solutions
// often do): as Elle, the grader takes such reads as the initial state
// and warns, in every model; --strict-initial-reads keeps them garbage.
func TestTxnZeroForUnwrittenKeys(t *testing.T) {
	for _, model := range []string{"read-uncommitted", "read-committed", "serializable"} {
		args := []string{"-w", "txn-rw-register", "--node-count", "1", "--time-limit", "10", "--rate", "50",
			"--consistency-models", model}
		rep := grade(t, testnodes.TxnZeroDefault(), args...)
		wantVerdict(t, rep, checker.Valid, "WARNINGS", "taken as the key's initial state", "should read as null", "--strict-initial-reads")
		res, _ := rep.Result("txn")
		d, ok := res.Details.(checker.TxnDetails)
		require.True(t, ok, "txn details %T", res.Details)
		require.Positive(t, d.InitialReads, model)
		require.Zero(t, d.Counts["garbage-read"], model)

		rep = grade(t, testnodes.TxnZeroDefault(), append(args, "--strict-initial-reads")...)
		wantVerdict(t, rep, checker.Invalid, "garbage-read", "but no transaction wrote 0")
	}
	// A node answering null stays clean, with no warning.
	rep := grade(t, testnodes.TxnSingle(), "-w", "txn-rw-register", "--node-count", "1", "--time-limit", "10", "--rate", "50")
	wantVerdict(t, rep, checker.Valid)
	require.Empty(t, rep.Warnings)
}
