// Package report renders one grader run as a single self-contained HTML
// page (report.html in the run's store directory), so that a learner can
// look at what happened instead of reading JSON.
//
// The page holds the verdict with the first violation of every failing
// checker, a Lamport diagram of every message (inline SVG, zoomable, with
// fault intervals shaded and the operations behind violations
// highlighted), latency and throughput charts, and a filterable excerpt of
// the history. It needs no network: styles, scripts and graphics are
// inline, and the page still reads without scripts.
//
// The package defines its own input types so that it does not depend on the
// runner's internals: the runner maps its network journal, fault schedule,
// history and checker results onto Input and calls Write or WriteFile.
//
// The tests check the page's structure (the SVG parts parse as XML: one
// lane per participant, one arrow per delivered message, escaping, caps);
// scripts/check-report-render.sh renders sample reports in headless
// Chromium to check that a browser draws them and that the script runs.
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// Message is one message the network carried. Times are since the start of
// the run; Received is meaningless when Dropped.
type Message struct {
	ID        int64
	Src, Dest string
	Type      string // the body's type; taken from Body when empty
	Body      json.RawMessage
	Sent      time.Duration
	Received  time.Duration
	Dropped   bool
}

// Interval is a stretch of the run to shade, such as a partition with its
// grudge as Label, or a killed or paused node.
type Interval struct {
	Start, End time.Duration
	Label      string
}

// Input is everything one report shows. Zero limits pick the defaults.
type Input struct {
	Title    string
	Workload string
	Nodes    []string // server nodes, e.g. n0 n1 n2
	Clients  []string // client ids on the wire, e.g. c0 c1
	History  history.History
	Messages []Message
	Faults   []Interval
	Verdict  checker.Validity
	Results  []checker.Result
	Duration time.Duration

	// MaxMessages caps the messages drawn in the diagram (default
	// DefaultMaxMessages); the page says how many were left out.
	MaxMessages int
	// MaxOps caps the history table (default DefaultMaxOps): the first and
	// the last half are shown, plus every operation a violation names.
	MaxOps int
	// WindowStart and WindowEnd restrict the diagram to messages sent in
	// that window; a zero WindowEnd means the end of the run. Large runs
	// use it to draw the interesting part in full.
	WindowStart, WindowEnd time.Duration
}

// Defaults for the Input limits.
const (
	DefaultMaxMessages = 10000
	DefaultMaxOps      = 2000
)

// Write renders in as one HTML document.
func Write(w io.Writer, in Input) error {
	p := build(in)
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := page.Execute(bw, p); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteFile renders in into the file at path, replacing it.
func WriteFile(path string, in Input) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	if err := Write(f, in); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close report: %w", err)
	}
	return nil
}
