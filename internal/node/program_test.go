package node

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/program"
)

func TestProgramRunsSetupThenServes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in, out := program.NewPipe(), program.NewPipe()
		prog := Program(func(n *Node) error {
			if n.DataDir() != "/data/n1" || n.Args()[0] != "--stage" {
				t.Errorf("DataDir %q Args %v", n.DataDir(), n.Args())
			}
			echoSetup(n)
			return nil
		})
		done := make(chan error, 1)
		go func() {
			done <- prog(context.Background(), program.IO{
				Stdin: in, Stdout: out, Stderr: program.NewPipe(),
				Args: []string{"--stage", "echo"},
				Env:  map[string]string{program.EnvDataDir: "/data/n1"},
			})
		}()
		in.Write([]byte(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n"))
		in.Write([]byte(`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"x"}}` + "\n"))
		in.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		for _, want := range []string{`"type":"init_ok"`, `"echo":"x"`} {
			line, _ := r.ReadString('\n')
			if !strings.Contains(line, want) {
				t.Fatalf("want %s in %q", want, line)
			}
		}
	})
}

func TestProgramSetupError(t *testing.T) {
	err := Program(func(*Node) error { return errors.New("bad flag") })(context.Background(), testIO())
	if err == nil || !strings.Contains(err.Error(), "bad flag") {
		t.Fatalf("got %v", err)
	}
}

func TestInitHookErrorIsReturnedInsteadOfInitOK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, func(n *Node) {
			n.OnInit(func() error { return errors.New("cannot open data dir") })
		})
		h.send("c0", `{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}`)
		if m := h.recv(); m.Body["type"] != "error" || m.Body["code"] != float64(Crash) {
			t.Fatalf("got %s", m.raw)
		}
		h.finish()
	})
}
