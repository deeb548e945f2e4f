package tracectx

import (
	"strings"
	"testing"
)

func TestParseFormatRoundTrip(t *testing.T) {
	const h = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	c, err := Parse(h)
	if err != nil {
		t.Fatal(err)
	}
	if c.TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || c.SpanID.String() != "00f067aa0ba902b7" || !c.Sampled() {
		t.Fatalf("parsed %+v", c)
	}
	if got := c.Format(); got != h {
		t.Fatalf("Format = %q, want %q", got, h)
	}
}

func TestParseRejects(t *testing.T) {
	bad := map[string]error{
		"": ErrFormat,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0":    ErrFormat,
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":   ErrFormat, // upper case
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01":   ErrZeroID,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01":   ErrZeroID,
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":   ErrVersion,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x": ErrFormat, // 00 has no extra fields
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":   ErrFormat,
		"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":   ErrFormat,
	}
	for h, want := range bad {
		if _, err := Parse(h); err != want {
			t.Errorf("Parse(%q) = %v, want %v", h, err, want)
		}
	}
}

func TestFutureVersionKeepsKnownFields(t *testing.T) {
	c, err := Parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
	if err != nil || !c.Sampled() {
		t.Fatalf("future version: %+v %v", c, err)
	}
}

func TestChildKeepsTraceAndDecision(t *testing.T) {
	root := Context{TraceID: NewTraceID(), SpanID: NewSpanID()}
	id := NewSpanID()
	ch := root.Child(id)
	if ch.TraceID != root.TraceID || ch.SpanID != id || ch.Sampled() {
		t.Fatalf("child %+v of %+v", ch, root)
	}
}

// FuzzParse: anything Parse accepts formats back to a header Parse reads
// the same, and Parse never panics.
func FuzzParse(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-zz")
	f.Add(strings.Repeat("0", 55))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(c.Format())
		if err != nil || again != c {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", s, c, c.Format(), again, err)
		}
	})
}
