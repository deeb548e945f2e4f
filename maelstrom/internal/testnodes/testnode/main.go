// Command testnode runs one of the grader's test nodes as a process, for
// the grader's process-mode tests: testnode echo|crash|noinit|broadcast|errors,
// or testnode hugeline N: N MiB of one line without a newline on stdout.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

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
	if kind == "hugeline" && len(os.Args) > 2 {
		hugeLine(os.Args[2])
		return
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

// hugeLine writes mib MiB of 'a' without a newline, then waits to be
// killed, as a node stuck printing a runaway value.
func hugeLine(mib string) {
	n, err := strconv.Atoi(mib)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnode: hugeline wants a number of MiB")
		os.Exit(2)
	}
	chunk := bytes.Repeat([]byte{'a'}, 1<<20)
	for range n {
		if _, err := os.Stdout.Write(chunk); err != nil {
			os.Exit(1) // the grader stopped reading: as it should
		}
	}
	time.Sleep(time.Minute)
}
