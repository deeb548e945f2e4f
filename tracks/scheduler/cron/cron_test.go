package cron

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// genField draws one field: *, */n, v, a-b, a-b/n, or a list of those.
func genField(r *rand.Rand, lo, hi int, day bool) string {
	one := func() string {
		a := lo + r.IntN(hi-lo+1)
		b := a + r.IntN(hi-a+1)
		switch r.IntN(6) {
		case 0:
			if day && r.IntN(2) == 0 {
				return "?"
			}
			return "*"
		case 1:
			return fmt.Sprintf("*/%d", 1+r.IntN(hi-lo+1))
		case 2:
			return fmt.Sprint(a)
		case 3:
			return fmt.Sprintf("%d-%d", a, b)
		case 4:
			return fmt.Sprintf("%d-%d/%d", a, b, 1+r.IntN(5))
		default:
			return fmt.Sprintf("%d/%d", a, 1+r.IntN(10))
		}
	}
	s := one()
	for r.IntN(4) == 0 {
		if x := one(); x != "*" && x != "?" && s != "*" && s != "?" {
			s += "," + x
		}
	}
	return s
}

// TestAgreesWithRobfig: for generated expressions and start times, our
// next fire times equal github.com/robfig/cron/v3's (five in a row).
func TestAgreesWithRobfig(t *testing.T) {
	p := robfig.NewParser(robfig.Second | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow)
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		spec := fmt.Sprintf("%s %s %s %s %s %s", genField(r, 0, 59, false), genField(r, 0, 59, false), genField(r, 0, 23, false),
			genField(r, 1, 31, true), genField(r, 1, 12, false), genField(r, 0, 6, true))
		ours, err := Parse(spec)
		theirs, err2 := p.Parse(spec)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("%q: we say %v, robfig says %v", spec, err, err2)
		}
		if err != nil {
			continue
		}
		at := time.Date(2020+r.IntN(8), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)
		for k := 0; k < 5; k++ {
			a, b := ours.Next(at), theirs.Next(at)
			if !a.Equal(b) {
				t.Fatalf("%q after %v: ours %v, robfig %v", spec, at, a, b)
			}
			if a.IsZero() {
				break
			}
			at = a
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{"", "* * * *", "60 * * * * *", "* * 24 * * *", "* * * 0 * *", "*/0 * * * * *", "5-3 * * * * *", "x * * * *"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
	s, err := Parse("*/15 * * * *") // five fields: second 0
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 2, 28, 23, 59, 59, 0, time.UTC)
	if got, want := s.Next(at), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Next(%v) = %v, want %v", at, got, want)
	}
}

// TestSundayAsSeven pins down the one difference from robfig/cron that we
// keep on purpose: 7 in day-of-week is Sunday here (as in Vixie cron) and
// an error there.
func TestSundayAsSeven(t *testing.T) {
	ours, err := Parse("0 0 12 * * 7")
	if err != nil {
		t.Fatal(err)
	}
	sat := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC) // a Saturday
	if got, want := ours.Next(sat), time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Next(%v) = %v, want Sunday %v", sat, got, want)
	}
	p := robfig.NewParser(robfig.Second | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow)
	if _, err := p.Parse("0 0 12 * * 7"); err == nil {
		t.Fatal("robfig/cron accepts 7 in day-of-week now: the lesson's note on the difference is out of date")
	}
}
