package maelstrom

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
)

// invalidCheckersMain is `maelstrom invalid-checkers RESULTS.json`: it
// prints, one per line, the checkers that judged a stored run invalid, so
// that scripts/grade-track.sh can demand that a teaching counter-example
// is rejected for the right reason (stages.tsv's invalid:<checker>).
func invalidCheckersMain(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: maelstrom invalid-checkers RESULTS.json")
		return 254
	}
	raw, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "maelstrom: %v\n", err)
		return 255
	}
	var res struct {
		Results []struct {
			Checker string           `json:"checker"`
			Valid   checker.Validity `json:"valid"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		fmt.Fprintf(stderr, "maelstrom: %s: %v\n", args[0], err)
		return 255
	}
	for _, r := range res.Results {
		if r.Valid == checker.Invalid {
			fmt.Fprintln(stdout, r.Checker)
		}
	}
	return 0
}
