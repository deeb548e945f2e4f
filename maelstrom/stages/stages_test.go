package stages

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
)

func TestParse(t *testing.T) {
	in := `# comment
echo   valid   yes  -w echo --node-count 1 --time-limit 10

naive  invalid:counter,stats no   -w g-counter --rate 100 -- --stage naive --x
`
	got, err := Parse(strings.NewReader(in), "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d stages", len(got))
	}
	if !got[0].ExpectPass || !got[0].CI || len(got[0].NodeArgs) != 0 || strings.Join(got[0].GraderArgs, " ") != "-w echo --node-count 1 --time-limit 10" {
		t.Fatalf("stage 0: %+v", got[0])
	}
	if strings.Join(got[1].InvalidBy, "+") != "counter+stats" || got[0].InvalidBy != nil {
		t.Fatalf("InvalidBy: %v %v", got[0].InvalidBy, got[1].InvalidBy)
	}
	if got[1].ExpectPass || got[1].CI || strings.Join(got[1].NodeArgs, " ") != "--stage naive --x" || strings.Join(got[1].GraderArgs, " ") != "-w g-counter --rate 100" {
		t.Fatalf("stage 1: %+v", got[1])
	}
	if _, err := Find(got, "nope"); err == nil || !strings.Contains(err.Error(), "echo, naive") {
		t.Fatalf("Find error: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "a valid", "a maybe yes -w echo", "a invalid: no -w echo", "a valid:x no -w echo", "a valid sometimes -w echo", "a valid yes -w echo\na valid no -w echo"} {
		if _, err := Parse(strings.NewReader(in), "t"); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}

func TestJudge(t *testing.T) {
	valid := Stage{Name: "v", ExpectPass: true}
	anyReason := Stage{Name: "i"}
	byCounter := Stage{Name: "c", InvalidBy: []string{"counter"}}
	res := func(name string, v checker.Validity) []checker.Result {
		return []checker.Result{{Checker: "stats", Valid: checker.Valid}, {Checker: name, Valid: v}}
	}
	cases := []struct {
		st    Stage
		crash string
		valid checker.Validity
		rs    []checker.Result
		ok    bool
		why   string
	}{
		{valid, "", checker.Valid, nil, true, ""},
		{valid, "", checker.Unknown, nil, false, "expected valid, got unknown"},
		{valid, "node n0 exited", checker.Valid, nil, false, "crashed: node n0 exited"},
		{anyReason, "", checker.Invalid, res("set-full", checker.Invalid), true, ""},
		{anyReason, "", checker.Valid, nil, false, "teaching counter-example"},
		{byCounter, "", checker.Invalid, res("counter", checker.Invalid), true, ""},
		{byCounter, "", checker.Invalid, res("availability", checker.Invalid), false, "expected invalid by counter, but invalid by availability"},
	}
	for i, c := range cases {
		ok, why := c.st.Judge(c.crash, c.valid, c.rs)
		if ok != c.ok || !strings.Contains(why, c.why) || (c.ok && why != "") {
			t.Errorf("case %d (%s): Judge = %v, %q; want %v, %q", i, c.st.Name, ok, why, c.ok, c.why)
		}
	}
}
