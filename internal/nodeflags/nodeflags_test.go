package nodeflags

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const usage = "usage: demo [--n N]"
	for _, tc := range []struct {
		args []string
		want string // "" for success, else a substring of the error
	}{
		{[]string{"--n", "3"}, ""},
		{nil, ""},
		{[]string{"--m", "3"}, "demo: flag provided but not defined: -m (usage: demo [--n N])"},
		{[]string{"--n", "x"}, `demo: invalid value "x" for flag -n`},
		{[]string{"--n", "3", "extra"}, `demo: unexpected arguments ["extra"] (usage: demo [--n N])`},
		{[]string{"-h"}, "demo: flag: help requested"},
	} {
		fs := New("demo")
		n := fs.Int("n", 1, "a number")
		err := Parse(fs, tc.args, usage)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Parse(%q) = %v, want success", tc.args, err)
		case tc.want == "" && len(tc.args) > 0 && *n != 3:
			t.Errorf("Parse(%q) set n = %d, want 3", tc.args, *n)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
