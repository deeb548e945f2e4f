// Package cron parses cron expressions and computes their next fire time.
//
// An expression has six fields, "second minute hour day-of-month month
// day-of-week", or five (no seconds: second 0). Each field is a list of
// "*", "v", "a-b", with an optional "/step" ("*/5", "10-40/10"), or "?"
// (same as "*") in the day fields. Day-of-week runs 0-6 from Sunday (7 is
// Sunday too). As in Vixie cron, when both day fields are restricted a day
// matches if either does; when one of them is an unstepped "*" (or "?"),
// both must.
// Next works field by field, from month down to second, so a rare
// expression (the 29th of February) costs a few dozen steps, not a scan of
// every second.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed expression: one bit per allowed value of each field.
type Schedule struct {
	second, minute, hour, dom, month, dow uint64
	domStar, dowStar                      bool
}

type bounds struct {
	name     string
	min, max int
}

var fields = []bounds{{"second", 0, 59}, {"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

// Parse reads a five- or six-field expression.
func Parse(spec string) (*Schedule, error) {
	f := strings.Fields(spec)
	switch len(f) {
	case 5:
		f = append([]string{"0"}, f...)
	case 6:
	default:
		return nil, fmt.Errorf("cron: %q has %d fields, want 5 or 6", spec, len(f))
	}
	var bits [6]uint64
	var star [6]bool
	for i, b := range fields {
		v, s, err := parseField(f[i], b)
		if err != nil {
			return nil, fmt.Errorf("cron: %q: %w", spec, err)
		}
		bits[i], star[i] = v, s
	}
	if bits[5]&(1<<7) != 0 { // 7 is Sunday
		bits[5] |= 1
	}
	return &Schedule{second: bits[0], minute: bits[1], hour: bits[2], dom: bits[3], month: bits[4], dow: bits[5],
		domStar: star[3], dowStar: star[5]}, nil
}

func parseField(field string, b bounds) (uint64, bool, error) {
	var bits uint64
	star := false
	for _, part := range strings.Split(field, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			s, err := strconv.Atoi(stepStr)
			if err != nil || s <= 0 {
				return 0, false, fmt.Errorf("%s: bad step %q", b.name, stepStr)
			}
			step = s
		}
		lo, hi := b.min, b.max
		switch {
		case rng == "*" || rng == "?":
			// Only an unstepped star leaves the field unrestricted: "*/2"
			// in a day field restricts it.
			star = star || step == 1
			if b.name == "day of week" {
				hi = 6
			}
		case strings.Contains(rng, "-"):
			a, z, _ := strings.Cut(rng, "-")
			var err1, err2 error
			lo, err1 = strconv.Atoi(a)
			hi, err2 = strconv.Atoi(z)
			if err1 != nil || err2 != nil {
				return 0, false, fmt.Errorf("%s: bad range %q", b.name, rng)
			}
		default:
			v, err := strconv.Atoi(rng)
			if err != nil {
				return 0, false, fmt.Errorf("%s: bad value %q", b.name, rng)
			}
			lo, hi = v, v
			if hasStep {
				hi = b.max
				if b.name == "day of week" {
					hi = 6 // "5/2" runs to Saturday, not to the second Sunday
				}
			}
		}
		if lo < b.min || hi > b.max || lo > hi {
			return 0, false, fmt.Errorf("%s: %q is outside %d-%d", b.name, part, b.min, b.max)
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, star, nil
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

func (s *Schedule) dayMatches(t time.Time) bool {
	dom, dow := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// Next returns the first fire time strictly after t (whole seconds, in t's
// location), or the zero time if there is none within five years.
func (s *Schedule) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case !has(s.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case !has(s.hour, t.Hour()):
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case !has(s.minute, t.Minute()):
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()+1, 0, 0, loc)
		case !has(s.second, t.Second()):
			t = t.Add(time.Second)
		default:
			return t
		}
	}
	return time.Time{}
}
