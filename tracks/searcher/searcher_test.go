package searcher

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
)

// reply sends body from c1 and returns the node's answer.
func reply(t *testing.T, c *nodetest.Conn, body string) map[string]any {
	t.Helper()
	c.Send("c1", "n0", body)
	line, err := c.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return m.Body
}

func start(t *testing.T, dir string) *nodetest.Conn {
	c := nodetest.Start(t, node.Program(Configure), []string{"--refresh", "5ms"}, map[string]string{"MAELSTROM_DATA_DIR": dir})
	if b := reply(t, c, `{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}`); b["type"] != "init_ok" {
		t.Fatalf("init: %v", b)
	}
	return c
}

// searchUntil repeats a search until it has want hits out of docs live
// documents (writes are a refresh away).
func searchUntil(t *testing.T, c *nodetest.Conn, body string, want int, docs float64) map[string]any {
	t.Helper()
	for range 200 {
		b := reply(t, c, body)
		if hits, _ := b["hits"].([]any); len(hits) == want && b["docs"] == docs {
			return b
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never had %d hits", body, want)
	return nil
}

func TestIndexSearchDeleteAndRestart(t *testing.T) {
	dir := t.TempDir()
	c := start(t, dir)
	for _, body := range []string{
		`{"type":"index","msg_id":2,"id":1,"text":"The QUICK brown fox."}`,
		`{"type":"index","msg_id":3,"id":2,"text":"a slow brown dog"}`,
		`{"type":"index","msg_id":4,"id":3,"text":"quick, quick!"}`,
		`{"type":"delete","msg_id":5,"id":2}`,
	} {
		if b := reply(t, c, body); !strings.HasSuffix(b["type"].(string), "_ok") {
			t.Fatalf("%s: %v", body, b)
		}
	}
	b := searchUntil(t, c, `{"type":"search","msg_id":6,"query":{"kind":"term","terms":["Quick"]},"k":10}`, 2, 2)
	hits := b["hits"].([]any)
	if first := hits[0].(map[string]any); first["id"] != 3.0 || b["tokens"] != 6.0 || b["partial"] != false {
		t.Fatalf("ranking %v: want document 3 (quick twice) first, 2 documents of 6 tokens", b)
	}
	searchUntil(t, c, `{"type":"search","msg_id":7,"query":{"kind":"phrase","terms":["brown","fox"]},"k":10}`, 1, 2)
	if err := c.Kill(); err != nil && !strings.Contains(err.Error(), "context canceled") {
		t.Logf("kill: %v", err)
	}
	// The translog brings back both documents and the delete.
	c = start(t, dir)
	b = searchUntil(t, c, `{"type":"search","msg_id":2,"query":{"kind":"or","terms":["dog","fox"]},"k":10}`, 1, 2)
	if hits := b["hits"].([]any); hits[0].(map[string]any)["id"] != 1.0 {
		t.Fatalf("after a restart: %v", b)
	}
}

func TestBadRequestsAreRefused(t *testing.T) {
	c := start(t, t.TempDir())
	for _, body := range []string{
		`{"type":"index","msg_id":2,"text":"no id"}`,
		`{"type":"delete","msg_id":3}`,
		`{"type":"search","msg_id":4,"query":{"kind":"fuzzy","terms":["x"]},"k":3}`,
		`{"type":"search","msg_id":5,"query":{"kind":"term","terms":["x"]}}`,
		`{"type":"index","msg_id":6,"id":"seven","text":"x"}`,
	} {
		if b := reply(t, c, body); b["type"] != "error" || b["code"] != 12.0 {
			t.Errorf("%s: %v, want error 12", body, b)
		}
	}
	if b := reply(t, c, `{"type":"reindex","msg_id":7}`); b["type"] != "error" || b["code"] != 10.0 {
		t.Errorf("unknown type: %v, want error 10", b)
	}
}
