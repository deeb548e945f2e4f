package stages

import (
	"strings"
	"testing"
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
