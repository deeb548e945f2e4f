// Command testnode runs one of the grader's test nodes as a process, for
// the grader's process-mode tests: testnode echo|crash|noinit|broadcast|errors.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

func main() {
	kinds := map[string]program.Program{
		"echo":      testnodes.Echo(false),
		"crash":     testnodes.EchoCrash(),
		"noinit":    testnodes.NoInit(),
		"broadcast": testnodes.Broadcast(false, false),
		"errors":    testnodes.Errors(),
	}
	kind := "echo"
	if len(os.Args) > 1 {
		kind = os.Args[1]
	}
	prog, ok := kinds[kind]
	if !ok {
		fmt.Fprintf(os.Stderr, "testnode: unknown kind %q\n", kind)
		os.Exit(2)
	}
	env := map[string]string{program.EnvDataDir: os.Getenv(program.EnvDataDir)}
	if err := prog(context.Background(), program.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Args: os.Args[1:], Env: env}); err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		os.Exit(2)
	}
}
