package services

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// canonical rewrites a JSON value so that two values are equal in
// Maelstrom's sense (Clojure value equality on the parsed JSON) exactly
// when their canonical strings are equal. Absent JSON reads as null.
func canonical(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "null", nil
	}
	if s, ok := canonicalScalar(raw); ok {
		return s, nil
	}
	return canonicalSlow(raw)
}

// canonicalScalar handles the common keys and values — plain strings and
// integers — without a decoder, producing exactly what canonicalSlow
// would.
func canonicalScalar(raw []byte) (string, bool) {
	switch c := raw[0]; {
	case c == '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return "", false
		}
		for _, b := range raw[1 : len(raw)-1] {
			// Anything json.Marshal would escape takes the slow path.
			if b < 0x20 || b > 0x7e || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
				return "", false
			}
		}
		return string(raw), true
	case c == '-' || (c >= '0' && c <= '9'):
		digits := raw
		if c == '-' {
			digits = raw[1:]
		}
		if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) {
			return "", false
		}
		for _, b := range digits {
			if b < '0' || b > '9' {
				return "", false
			}
		}
		n, err := canonicalNumber(string(raw))
		return n, err == nil
	}
	return "", false
}

func canonicalSlow(raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("trailing data after JSON value")
	}
	var b strings.Builder
	if err := writeCanonical(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeCanonical(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		s, _ := json.Marshal(v) // a Go string always marshals
		b.Write(s)
	case json.Number:
		n, err := canonicalNumber(string(v))
		if err != nil {
			return err
		}
		b.WriteString(n)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			ks, _ := json.Marshal(k)
			b.Write(ks)
			b.WriteByte(':')
			if err := writeCanonical(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

// canonicalNumber keeps integers and floats apart, as the JSON parser
// Maelstrom uses does: an integer literal stays an exact (arbitrary
// precision) integer, anything with a fraction or exponent is a double.
func canonicalNumber(lit string) (string, error) {
	if !strings.ContainsAny(lit, ".eE") {
		if strings.TrimLeft(lit, "-0") == "" {
			return "0", nil
		}
		return lit, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return "", fmt.Errorf("number %s: %w", lit, err)
	}
	if f == 0 {
		f = 0 // -0.0 equals 0.0 as a double
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s, nil
}
