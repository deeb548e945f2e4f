package node

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/distsys-curriculum/distsys/internal/program"
)

// Program turns a setup function (register handlers and tasks) into a
// program.Program: the grader runs it in-process, Main runs it as a
// process.
func Program(setup func(*Node) error) program.Program {
	return func(ctx context.Context, pio program.IO) error {
		n := New(pio)
		if err := setup(n); err != nil {
			return fmt.Errorf("node setup: %w", err)
		}
		return n.Run(ctx)
	}
}

// Main runs setup's node on the process's standard streams until EOF,
// SIGTERM or SIGINT, and exits 1 with the error on stderr if it fails.
func Main(setup func(*Node) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	err := Program(setup)(ctx, program.IO{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Args:   os.Args[1:],
		Env:    env,
	})
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName(), err)
		os.Exit(1)
	}
}

func progName() string {
	if len(os.Args) == 0 {
		return "node"
	}
	name := os.Args[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return name
}
