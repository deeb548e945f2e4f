package nodetest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
	"github.com/distsys-curriculum/distsys/internal/program"
)

func TestCloseHandsBackOutputAndLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := nodetest.Start(t, node.Program(func(*node.Node) error { return nil }), nil, nil)
		c.Send("c0", "n1", `{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}`)
		if line, err := c.ReadLine(); err != nil || !strings.Contains(line, `"init_ok"`) {
			t.Fatalf("ReadLine = %q, %v; want init_ok", line, err)
		}
		c.Line("not json")
		c.Send("c1", "n1", `{"type":"frobnicate","msg_id":2}`)
		synctest.Wait()
		unread, stderr, err := c.Close()
		if err != nil || !strings.Contains(unread, `"code":10`) || !strings.Contains(stderr, "skipping input line") {
			t.Fatalf("Close = %q, %q, %v; want the error 10 reply unread and the bad line logged", unread, stderr, err)
		}
	})
}

func TestKillCancelsTheProgram(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := nodetest.Start(t, func(ctx context.Context, _ program.IO) error {
			<-ctx.Done()
			return ctx.Err()
		}, nil, nil)
		if err := c.Kill(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Kill = %v, want context.Canceled", err)
		}
	})
}
