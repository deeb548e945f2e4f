package rawjson

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `.5`, `1.5e`, `-01`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `nullnull`, `[1 2]`, `[1,]`, `[,1]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`,
	`"\u00e9"`, `"\u00g0"`, `"\x"`, `"\/"`, `"a` + "\x01" + `"`, `"` + "\xff\xfe" + `"`, `"\`, `"\u12`, ` [ { "a" : [ true , null ] } ] `,
	`{"src":"n1","dest":"c2","body":{"type":"read_ok","messages":[1,2,3],"in_reply_to":4}}`, `[1]]`, `{}}`, "[\t1\r\n]", "\x00",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat("}", 10000), strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat("}", 10001),
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, in := range validSeeds {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%.60q) = %v, json.Valid says %v", in, got, want)
		}
	}
	// Random strings over JSON's alphabet, and mutations of valid JSON.
	const alphabet = `{}[],:"\ -+.0123456789eEtrufalsn/bu` + "\t\n\x01\xff"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b []byte
		if rng.IntN(2) == 0 {
			for range rng.IntN(12) {
				b = append(b, alphabet[rng.IntN(len(alphabet))])
			}
		} else {
			b = []byte(validSeeds[rng.IntN(len(validSeeds)-4)])
			for range 1 + rng.IntN(3) {
				if len(b) == 0 {
					break
				}
				switch p := rng.IntN(len(b)); rng.IntN(3) {
				case 0:
					b[p] = alphabet[rng.IntN(len(alphabet))]
				case 1:
					b = append(b[:p], b[p+1:]...)
				default:
					b = append(b[:p], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[p:]...)...)
				}
			}
		}
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	line := []byte(`{"src":"n1","dest":"c2","body":{"type":"read_ok","messages":[` + strings.Repeat("12345,", 2000) + `1],"in_reply_to":4}}`)
	for _, v := range []struct {
		name  string
		valid func([]byte) bool
	}{{"rawjson", Valid}, {"encoding-json", json.Valid}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for range b.N {
				if !v.valid(line) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
