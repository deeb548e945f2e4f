package checker

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// errReply completes the last invocation with an error reply of code.
func (b *builder) errReply(p int, node, f string, code int, name string, ms int) *builder {
	return b.ok(p, node, f, map[string]any{"code": code, "text": name}, ms)
}

func goodErrorsHistory() *builder {
	b := &builder{}
	b.call(history.OK, 0, "n0", ErrorsEcho, "a", "a", 0, 1)
	b.inv(0, "n0", ErrorsUnknown, "frobnicate", 2).errReply(0, "n0", ErrorsUnknown, 10, "not-supported", 3)
	b.inv(0, "n0", ErrorsMalformed, `{"type":"echo"}`, 4).errReply(0, "n0", ErrorsMalformed, 12, "malformed-request", 5)
	line := map[string]any{"line": "not json", "echo": "after 1"}
	b.call(history.OK, 0, "n0", ErrorsBadLine, line, line, 6, 7)
	return b
}

func TestProtocolErrorsValid(t *testing.T) {
	res := ProtocolErrors(goodErrorsHistory().h, nil)
	if res.Valid != Valid {
		t.Fatalf("%s: %s", res.Valid, res.Summary)
	}
	if res := ProtocolErrors((&builder{}).call(history.OK, 0, "n0", ErrorsEcho, "a", "a", 0, 1).h, nil); res.Valid != Unknown {
		t.Fatalf("nothing tried, yet %s", res.Valid)
	}
}

func TestProtocolErrorsCatches(t *testing.T) {
	cases := []struct {
		name string
		h    func(b *builder)
		want []string
	}{
		{"unknown answered as success", func(b *builder) {
			b.call(history.OK, 1, "n1", ErrorsUnknown, "frobnicate", map[string]any{"reply": `{"type":"frobnicate_ok"}`}, 10, 11)
		}, []string{"node n1", `unknown type "frobnicate"`, "frobnicate_ok", "0.011s", "not an error"}},
		{"wrong code", func(b *builder) {
			b.inv(1, "n1", ErrorsUnknown, "frobnicate", 10).errReply(1, "n1", ErrorsUnknown, 13, "crash", 12)
		}, []string{"node n1", "error 13 (crash)", "error 10"}},
		{"unknown not answered", func(b *builder) {
			b.call(history.Info, 1, "n1", ErrorsUnknown, "frobnicate", nil, 10, 5010)
		}, []string{"did not answer", "frobnicate", "0.010s"}},
		{"malformed accepted", func(b *builder) {
			b.call(history.OK, 1, "n1", ErrorsMalformed, `{"type":"echo"}`, map[string]any{"reply": `{"type":"echo_ok","echo":null}`}, 10, 11)
		}, []string{"must be refused", "echo_ok"}},
		{"silent after bad line", func(b *builder) {
			b.call(history.Info, 1, "n1", ErrorsBadLine, map[string]any{"line": "{oops", "echo": "x"}, nil, 10, 5010)
		}, []string{`"{oops"`, "did not answer the next echo"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := goodErrorsHistory()
			c.h(b)
			res := ProtocolErrors(b.h, nil)
			if res.Valid != Invalid {
				t.Fatalf("%s: %s", res.Valid, res.Summary)
			}
			for _, w := range c.want {
				if !strings.Contains(res.Violations[0].Detail, w) {
					t.Errorf("detail lacks %q: %s", w, res.Violations[0].Detail)
				}
			}
		})
	}
}

func TestProtocolErrorsCrashNamesTheCause(t *testing.T) {
	b := goodErrorsHistory()
	b.inv(1, "n0", ErrorsUnknown, "frobnicate", 100)
	res := ProtocolErrors(b.h, &NodeCrash{Node: "n0", Time: msT(101), ExitStatus: "exit status 2", Stderr: []string{"panic: unknown type"}})
	if res.Valid != Invalid {
		t.Fatalf("%s: %s", res.Valid, res.Summary)
	}
	v := res.Violations[0]
	for _, w := range []string{"node n0 crashed at 0.101s", "exit status 2", `unknown type "frobnicate"`, "sent at 0.100s", "panic: unknown type"} {
		if !strings.Contains(v.Detail, w) {
			t.Errorf("detail lacks %q: %s", w, v.Detail)
		}
	}
	if v.What != "crash" || v.Node != "n0" {
		t.Fatalf("violation %+v", v)
	}
}
