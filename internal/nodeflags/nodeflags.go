// Package nodeflags parses a node's command-line arguments the one way
// every track's node does. A node's stdout is the protocol, so the flag set
// prints nothing; a bad flag or a stray argument becomes an error that
// names the node and carries its usage line, which the runtime reports on
// stderr before the node exits.
package nodeflags

import (
	"flag"
	"fmt"
	"io"
)

// New returns an empty flag set for the node called name that prints
// nothing and returns its errors.
func New(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// Parse parses args into fs and refuses positional arguments: nodes take
// flags only. Errors read "name: what went wrong (usage)".
func Parse(fs *flag.FlagSet, args []string, usage string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w (%s)", fs.Name(), err, usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q (%s)", fs.Name(), fs.Args(), usage)
	}
	return nil
}
