package securitor

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
	"github.com/distsys-curriculum/distsys/tracks/securitor/audit"
)

func writeLog(t *testing.T, fs storage.FS, entries []audit.Entry, tail string) {
	t.Helper()
	var b []byte
	for _, e := range entries {
		line, _ := json.Marshal(e)
		b = append(append(b, line...), '\n')
	}
	if err := storage.WriteFileAtomic(fs, filepath.Join("/d", auditFile), append(b, tail...), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sampleLog() []audit.Entry {
	l := &audit.Log{}
	l.Append(audit.Entry{Req: 1, Subject: "a", JTI: "t1", Op: "write", Key: "k", Decision: "allow"})
	l.Append(audit.Entry{Req: 2, Subject: "b", JTI: "t2", Op: "write", Key: "k", Decision: "deny: forbidden"})
	l.Append(audit.Entry{Req: 3, Subject: "c", JTI: "t3", Op: "read", Key: "k", Decision: "allow"})
	return l.Entries()
}

// TestRestoreDropsTornTail: a line cut short by a crash is dropped and
// the file truncated, so that the next append starts a clean line; the
// used jtis come back from the allowed entries only.
func TestRestoreDropsTornTail(t *testing.T) {
	fs := memfs.New()
	_ = fs.MkdirAll("/d", 0o755)
	writeLog(t, fs, sampleLog(), `{"seq":3,"req":4,"sub`)
	s := &Server{fs: fs, dir: "/d"}
	if err := s.openLog(); err != nil {
		t.Fatal(err)
	}
	if s.log.Len() != 3 || !s.used["t1"] || s.used["t2"] || !s.used["t3"] {
		t.Fatalf("restored %d entries, used %v", s.log.Len(), s.used)
	}
	if err := s.appendAudit(audit.Entry{Req: 5, Op: "read", Decision: "allow"}); err != nil {
		t.Fatal(err)
	}
	again := &Server{fs: fs, dir: "/d"}
	if err := again.openLog(); err != nil || again.log.Len() != 4 {
		t.Fatalf("after an append: %d entries, %v", again.log.Len(), err)
	}
}

func TestRestoreRefusesTamperedLog(t *testing.T) {
	fs := memfs.New()
	_ = fs.MkdirAll("/d", 0o755)
	es := sampleLog()
	es[1].Decision = "allow" // someone hides a refusal
	writeLog(t, fs, es, "")
	s := &Server{fs: fs, dir: "/d"}
	if err := s.openLog(); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("tampered log: %v", err)
	}
}

func TestParseArgs(t *testing.T) {
	c, err := ParseArgs([]string{"--verifier", "trust-alg", "--storage", "plaintext"})
	if err != nil || !c.TrustAlg || !c.Plaintext {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range [][]string{{"--verifier", "x"}, {"--storage", "x"}, {"extra"}, {"--leeway", "-1s"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, c := range []struct {
		role, op string
		want     bool
	}{{"reader", "read", true}, {"reader", "write", false}, {"writer", "write", true}, {"writer", "rotate", false},
		{"admin", "rotate", true}, {"admin", "write", false}, {"", "read", false}, {"root", "audit", false}} {
		if allowed(c.role, c.op) != c.want {
			t.Errorf("%s %s: want %v", c.role, c.op, c.want)
		}
	}
}
