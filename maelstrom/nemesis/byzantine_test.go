package nemesis

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

func tamperBodies() []json.RawMessage {
	var out []json.RawMessage
	for i := 0; i < 40; i++ {
		out = append(out, json.RawMessage(fmt.Sprintf(
			`{"type":"append","from":"n1","term":%d,"entries":[{"index":%d,"data":%q}],"sig":"c2ln"}`,
			i/10, i, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"key":1,"value":%d}`, i))))))
	}
	return out
}

func applyAll(t *Tamper, lieDest func(i int) string) [][]Forward {
	var out [][]Forward
	for i, b := range tamperBodies() {
		out = append(out, t.Apply("n1", lieDest(i), b))
	}
	return out
}

func TestTamperLiesAndIsDeterministicPerSeed(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4"}
	dest := func(i int) string { return nodes[1+i%3] }
	a := applyAll(NewTamper([]string{"n1"}, nodes, Lies, 7), dest)
	b := applyAll(NewTamper([]string{"n1"}, nodes, Lies, 7), dest)
	c := applyAll(NewTamper([]string{"n1"}, nodes, Lies, 8), dest)
	same := func(x, y [][]Forward) bool {
		for i := range x {
			if len(x[i]) != len(y[i]) {
				return false
			}
			for j := range x[i] {
				if x[i][j].Src != y[i][j].Src || !bytes.Equal(x[i][j].Body, y[i][j].Body) {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("one seed told different lies")
	}
	if same(a, c) {
		t.Fatal("two seeds told the same lies")
	}
	bodies := tamperBodies()
	changed, dropped, forged := 0, 0, 0
	for i, fs := range a {
		if len(fs) == 0 {
			dropped++
		}
		for _, f := range fs {
			if f.Src != "n1" {
				forged++
				if bytes.Contains(f.Body, []byte(`"from":"n1"`)) {
					t.Errorf("forged body still names n1: %s", f.Body)
				}
			}
			if !bytes.Equal(f.Body, bodies[i]) {
				changed++
			}
		}
	}
	if changed == 0 || dropped == 0 || forged == 0 {
		t.Fatalf("40 messages: %d changed, %d dropped, %d forged; want some of each", changed, dropped, forged)
	}
}

func TestMutateReachesThePayloadAndResigns(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	tm := NewTamper([]string{"n1"}, []string{"n1", "n2"}, []string{LieResign}, 1)
	tm.SetKeys(map[string]ed25519.PrivateKey{"n1": priv})
	body := tamperBodies()[3]
	out := tm.Apply("n1", "n2", body)
	if len(out) != 1 || bytes.Equal(out[0].Body, body) {
		t.Fatalf("resign did not change the body: %s", out)
	}
	var m map[string]any
	if err := decode(out[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	// The deepest field is inside the base64 command of the entry.
	data := m["entries"].([]any)[0].(map[string]any)["data"].(string)
	inner, _ := base64.StdEncoding.DecodeString(data)
	if bytes.Equal(inner, []byte(`{"key":1,"value":3}`)) {
		t.Errorf("the command inside the entry is unchanged: %s", inner)
	}
	sig, _ := base64.StdEncoding.DecodeString(m["sig"].(string))
	delete(m, "sig")
	signed, _ := json.Marshal(m)
	if !ed25519.Verify(pub, signed, sig) {
		t.Error("the re-signed body does not verify with the liar's key")
	}
	// Two liars relaying one message (only their names differ) tell the
	// same lie about it.
	other := bytes.Replace(body, []byte(`"from":"n1"`), []byte(`"from":"n3"`), 1)
	tm2 := NewTamper([]string{"n3"}, []string{"n1", "n2", "n3"}, []string{LieMutate}, 1)
	tm1 := NewTamper([]string{"n1"}, []string{"n1", "n2", "n3"}, []string{LieMutate}, 1)
	x, y := tm1.Apply("n1", "n2", body), tm2.Apply("n3", "n2", other)
	if !bytes.Equal(bytes.Replace(x[0].Body, []byte(`"n1"`), []byte(`"n3"`), 1), y[0].Body) {
		t.Errorf("two liars told different lies about one message:\n%s\n%s", x[0].Body, y[0].Body)
	}
}

func TestEquivocationDiffersByRecipient(t *testing.T) {
	tm := NewTamper([]string{"n1"}, []string{"n1", "n2", "n3", "n4"}, []string{LieEquivocate}, 3)
	differ := 0
	for _, b := range tamperBodies() {
		x, y := tm.Apply("n1", "n2", b), tm.Apply("n1", "n3", b)
		if bytes.Equal(x[0].Body, b) || bytes.Equal(y[0].Body, b) {
			t.Fatalf("equivocation left a body unchanged: %s", b)
		}
		if !bytes.Equal(x[0].Body, y[0].Body) {
			differ++
		}
	}
	if differ < 20 {
		t.Errorf("only %d of 40 messages differed between two recipients", differ)
	}
}

func TestParseLies(t *testing.T) {
	if l, err := ParseLies("forge, silence"); err != nil || len(l) != 2 {
		t.Fatalf("ParseLies = %v, %v", l, err)
	}
	if _, err := ParseLies("forge,flattery"); err == nil {
		t.Fatal("an unknown lie was accepted")
	}
}

// tamperedOnce applies lie to body once, as n1 to n2.
func tamperedOnce(t *testing.T, lie string, seed uint64, body string) map[string]any {
	t.Helper()
	out := NewTamper([]string{"n1"}, []string{"n1", "n2"}, []string{lie}, seed).Apply("n1", "n2", json.RawMessage(body))
	if len(out) != 1 {
		t.Fatalf("%s sent %d messages, want 1", lie, len(out))
	}
	var m map[string]any
	if err := decode(out[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTamperChangesThePayloadOnly(t *testing.T) {
	for i, body := range tamperBodies() {
		m := tamperedOnce(t, LieTamper, uint64(i), string(body))
		if m["term"] != json.Number(fmt.Sprint(i/10)) {
			t.Fatalf("tamper changed the top-level term: %v", m)
		}
		e := m["entries"].([]any)[0].(map[string]any)
		if e["index"] != json.Number(fmt.Sprint(i)) {
			t.Fatalf("tamper changed an entry's index: %v", e)
		}
		if m["sig"] != "c2ln" {
			t.Fatalf("tamper re-signed: %v", m)
		}
		inner, _ := base64.StdEncoding.DecodeString(e["data"].(string))
		var cmd map[string]any
		if err := decode(inner, &cmd); err != nil {
			t.Fatalf("the command no longer decodes: %s", inner)
		}
		if (cmd["key"] != json.Number("1")) == (cmd["value"] != json.Number(fmt.Sprint(i))) {
			t.Fatalf("message %d: want one number of the command changed, got %s", i, inner)
		}
	}
	// A result nested in a reply is payload; its type is not.
	m := tamperedOnce(t, LieTamper, 1, `{"type":"fwd_ok","in_reply_to":4,"result":{"type":"read_ok","value":3}}`)
	if r := m["result"].(map[string]any); r["value"] == json.Number("3") || r["type"] != "read_ok" || m["in_reply_to"] != json.Number("4") {
		t.Fatalf("tampered reply: %v", m)
	}
	// Nothing to tamper with: top-level fields only, or positions in an
	// array's objects (an empty log entry).
	for _, body := range []string{
		`{"type":"heartbeat","term":3,"commit":9}`,
		`{"type":"append","term":3,"index":4,"entries":[{"term":3,"index":5}]}`,
		`{"type":"prepare","view":1,"seq":2,"digest":"ab","sig":"c2ln"}`,
	} {
		out := NewTamper([]string{"n1"}, []string{"n1", "n2"}, []string{LieTamper, LieTamperResign}, 1).Apply("n1", "n2", json.RawMessage(body))
		if len(out) != 1 || string(out[0].Body) != body {
			t.Errorf("tamper changed a body without payload: %s -> %s", body, out)
		}
	}
}

func TestTamperIsDeterministicPerSeedAndContent(t *testing.T) {
	bodies := tamperBodies()
	run := func(seed uint64, liar string) []string {
		tm := NewTamper([]string{liar}, []string{"n1", "n2", "n3"}, []string{LieTamper}, seed)
		var out []string
		for _, b := range bodies {
			b = bytes.Replace(b, []byte(`"from":"n1"`), []byte(`"from":"`+liar+`"`), 1)
			f := tm.Apply(liar, "n2", b)
			out = append(out, string(bytes.Replace(f[0].Body, []byte(`"`+liar+`"`), []byte(`"n1"`), 1)))
		}
		return out
	}
	a, b, c, other := run(5, "n1"), run(5, "n1"), run(6, "n1"), run(5, "n3")
	if !slices.Equal(a, b) {
		t.Fatal("one seed told different lies")
	}
	if slices.Equal(a, c) {
		t.Fatal("two seeds told the same lies")
	}
	if !slices.Equal(a, other) {
		t.Fatal("two liars told different lies about one message")
	}
}

func TestTamperResignVerifies(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	tm := NewTamper([]string{"n1"}, []string{"n1", "n2"}, []string{LieTamperResign}, 1)
	tm.SetKeys(map[string]ed25519.PrivateKey{"n1": priv})
	body := json.RawMessage(`{"type":"pbft","kind":"reply","from":"n1","ts":7,"result":{"type":"read_ok","value":2},"sig":"c2ln"}`)
	out := tm.Apply("n1", "n2", body)
	var m map[string]any
	if err := decode(out[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	if m["result"].(map[string]any)["value"] == json.Number("2") || m["ts"] != json.Number("7") {
		t.Fatalf("tamper-resign: %s", out[0].Body)
	}
	sig, _ := base64.StdEncoding.DecodeString(m["sig"].(string))
	delete(m, "sig")
	signed, _ := json.Marshal(m)
	if !ed25519.Verify(pub, signed, sig) {
		t.Error("the re-signed body does not verify with the liar's key")
	}
}
