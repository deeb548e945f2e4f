package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Usage is the help of `maelstrom serve`.
const Usage = `usage: maelstrom serve [--store DIR] [--port N]

Serves the runs in DIR (store) over HTTP on localhost: an index of runs,
newest first, filterable by workload and verdict, with links to each run's
report.html and results.json; /index.json is the same index as JSON.
--port 0 picks a free port. Stops on Ctrl-C.
`

// Main is `maelstrom serve`; it returns the exit code. It listens on the
// loopback interface only: the store holds node logs, not for a network.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	store := fs.String("store", "store", "")
	port := fs.Int("port", 8080, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, Usage)
			return 0
		}
		fmt.Fprintf(stderr, "maelstrom serve: %v\n%s", err, Usage)
		return 254
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, Usage)
		return 254
	}
	if st, err := os.Stat(*store); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "maelstrom serve: %s is not a directory (run maelstrom test first, or give --store)\n", *store)
		return 254
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(stderr, "maelstrom serve: %v\n", err)
		return 255
	}
	srv := &http.Server{Handler: Handler(*store), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "serving %s at http://%s/\n", *store, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "maelstrom serve: %v\n", err)
		return 255
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		return 0
	}
}
