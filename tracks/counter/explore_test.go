package counter

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func TestExplore(t *testing.T) {
	all, _ := stages.Load("stages.tsv")
	n, _ := strconv.Atoi(os.Getenv("SEEDS"))
	for _, st := range all {
		if os.Getenv("STAGE") != "" && st.Name != os.Getenv("STAGE") {
			continue
		}
		for seed := 1; seed <= n; seed++ {
			s := st
			s.GraderArgs = append(append([]string{}, st.GraderArgs...), "--seed", strconv.Itoa(seed))
			rep := gradetest.Grade(t, s, prog)
			ok, why := gradetest.Verdict(s, rep)
			fmt.Printf("%s seed %d: ok=%v %s msgs/op %.2f\n", st.Name, seed, ok, why, rep.MsgsPerOp)
			if os.Getenv("SUMMARY") != "" && seed == 1 {
				fmt.Println(rep.Summary())
			}
		}
	}
}
