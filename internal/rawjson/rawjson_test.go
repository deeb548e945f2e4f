package rawjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestObjectMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : [1, {"b":"}]"}], "c":"x\"y" , "d":null,"e":true}`,
		`{"src":"n1","dest":"c2","body":{"type":"read_ok","messages":[1,2,3],"in_reply_to":4}}`,
		`{"a":{"b":{"c":[[],[{}]]}},"a":2}`, `{"s":"\\"}`,
	} {
		var want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got := map[string]json.RawMessage{}
		if !Object([]byte(in), func(k, v []byte) bool { got[string(k)] = v; return true }) {
			t.Fatalf("%s: not taken", in)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %d keys, want %d", in, len(got), len(want))
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Errorf("%s: key %s = %s, want %s", in, k, got[k], v)
			}
		}
	}
	for _, in := range []string{`[]`, `"x"`, `{"a\u0062":1}`, `{"a":1`, ``, `{"a":1 "b":2}`} {
		if Object([]byte(in), func(k, v []byte) bool { return true }) {
			t.Errorf("%s: fast path taken, want fallback", in)
		}
	}
}

func TestIntsMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{`[]`, ` [ ] `, `[0]`, `[1,2,-3]`, `[ 1 , 2 ]`, `[9223372036854775807,-9223372036854775808]`, `[123456789012345678]`} {
		var want []int64
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := Ints([]byte(in), nil)
		if !ok || (len(want) > 0 && !reflect.DeepEqual(got, want)) || len(got) != len(want) {
			t.Errorf("%s: got %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{`null`, `[1.0]`, `[1e3]`, `["1"]`, `[01]`, `[-]`, `[1,]`, `[1`, `[9223372036854775808]`, `[1] x`, `{}`} {
		if _, ok := Ints([]byte(in), nil); ok {
			t.Errorf("%s: fast path taken, want fallback", in)
		}
	}
}

func TestStringAndInt(t *testing.T) {
	if s, ok := String([]byte(`"n12"`)); !ok || s != "n12" {
		t.Errorf("String = %q %v", s, ok)
	}
	if _, ok := String([]byte(`"a\nb"`)); ok {
		t.Error("escaped string taken")
	}
	if v, ok := Int([]byte(`-42`)); !ok || v != -42 {
		t.Errorf("Int = %d %v", v, ok)
	}
	for _, in := range []string{`1.5`, `"1"`, `null`, `1e2`, `00`} {
		if _, ok := Int([]byte(in)); ok {
			t.Errorf("Int(%s) taken", in)
		}
	}
	if got := string(AppendInts(nil, []int64{1, -2, 3})); got != `[1,-2,3]` {
		t.Errorf("AppendInts = %s", got)
	}
}

func TestEnvelope(t *testing.T) {
	src, dest, body, ok := Envelope([]byte(`{"src":"n1","dest":"c2","body":{"type":"x","v":[1,{"a":"}"}]}}`), nil)
	if !ok || src != "n1" || dest != "c2" || string(body) != `{"type":"x","v":[1,{"a":"}"}]}` {
		t.Fatalf("Envelope = %q %q %s %v", src, dest, body, ok)
	}
	if _, _, _, ok := Envelope([]byte(`{"id":3,"dest":"c2","body":{},"src":"n1"}`), func(b []byte) string { return string(b) }); !ok {
		t.Error("id member or key order refused")
	}
	for _, in := range []string{
		`{"src":"n1","dest":"c2","body":{}} {}`, `{"src":"n1","dest":"c2","body":{}`, `{"SRC":"n1","dest":"c2","body":{}}`,
		`{"src":"n1","dest":"c2","body":{},"x":1}`, `{"src":"n1","dest":"c2","body":[]}`, `{"src":1,"dest":"c2","body":{}}`,
		`{"dest":"c2","body":{}}`, `{"src":"n\u0031","dest":"c2","body":{}}`, `{"src":"n1","dest":"c2"}`, `not json`,
	} {
		if _, _, _, ok := Envelope([]byte(in), nil); ok {
			t.Errorf("%s: fast path taken, want fallback", in)
		}
	}
}

// Bytes that encoding/json would replace (invalid UTF-8) are left to it.
func TestNonASCIILeftToEncodingJSON(t *testing.T) {
	if _, _, _, ok := Envelope([]byte("{\"src\":\"n\xff\",\"dest\":\"c2\",\"body\":{}}"), nil); ok {
		t.Error("invalid UTF-8 src taken")
	}
	if Object([]byte("{\"k\xff\":1}"), func(k, v []byte) bool { return true }) {
		t.Error("invalid UTF-8 key taken")
	}
	if _, ok := Members([]byte("{\"k\xff\":1}")); ok {
		t.Error("Members took an invalid UTF-8 key")
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "n0", "c12", "lin-kv", `a"b`, `a\b`, "tab\there", "<&>", "é", "\x00", "\u2028", "\xff"} {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	}
}
