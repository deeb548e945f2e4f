package maelstrom

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestMainExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"help"}, 0, "usage: maelstrom test"},
		{[]string{"test", "--help"}, 0, "--nemesis LIST"},
		{[]string{}, 254, "usage"},
		{[]string{"serve"}, 254, `unknown command "serve"`},
		{[]string{"test", "-w", "echo"}, 254, "expected --bin"},
		{[]string{"test", "-w", "echo", "--bin", "no/such/file"}, 254, "not an executable file"},
		{[]string{"test", "\u2013-bin", "x"}, 254, "en-dash"},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), c.args, &out, &errOut)
		if code != c.code || !strings.Contains(out.String()+errOut.String(), c.out) {
			t.Errorf("Main(%q) = %d, %q%q; want %d mentioning %q", c.args, code, out.String(), errOut.String(), c.code, c.out)
		}
	}
}
