package checker

import (
	"fmt"
	"testing"
)

func TestTxnZZDebugPrint(t *testing.T) {
	for _, r := range []Result{Txn(g0Append(), "list-append", nil), Txn(staleRead("rw-register"), "rw-register", nil), Txn(gSingle(), "list-append", []string{"read-committed"})} {
		b, _ := r.MarshalIndent()
		fmt.Println(string(b)[:min(len(b), 3000)])
	}
}
