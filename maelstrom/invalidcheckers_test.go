package maelstrom

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestInvalidCheckersCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	body := `{"valid":"invalid","results":[{"checker":"counter","valid":"invalid"},{"checker":"stats","valid":"valid"},{"checker":"protocol","valid":"invalid"}]}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main(t.Context(), []string{"invalid-checkers", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := out.String(); got != "counter\nprotocol\n" {
		t.Fatalf("output %q, want counter and protocol", got)
	}
	if code := Main(t.Context(), []string{"invalid-checkers"}, &out, &errOut); code != 254 {
		t.Fatalf("without a file: exit %d, want 254", code)
	}
}
