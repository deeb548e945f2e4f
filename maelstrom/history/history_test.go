package history_test

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// Every code the node runtime can send has the name Maelstrom gives it:
// the runtime's CamelCase name in kebab case.
func TestErrorNameCoversTheRuntimesCodes(t *testing.T) {
	codes := []int{node.Timeout, node.NodeNotFound, node.NotSupported, node.TemporarilyUnavailable,
		node.MalformedRequest, node.Crash, node.Abort, node.KeyDoesNotExist, node.KeyAlreadyExists,
		node.PreconditionFailed, node.TxnConflict}
	for _, code := range codes {
		name, ok := history.ErrorName(code)
		if !ok {
			t.Errorf("code %d (%s) has no name", code, node.ErrorCodeText(code))
			continue
		}
		if want := kebab(node.ErrorCodeText(code)); name != want {
			t.Errorf("code %d: name %q, want %q", code, name, want)
		}
	}
	for _, code := range []int{-1, 2, 15, 1000} {
		if name, ok := history.ErrorName(code); ok {
			t.Errorf("code %d is not Maelstrom's, yet named %q", code, name)
		}
	}
}

func kebab(camel string) string {
	var b strings.Builder
	for i, r := range camel {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
