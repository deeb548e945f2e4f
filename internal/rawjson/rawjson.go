// Package rawjson reads the top level of JSON messages without decoding
// them. The grader's hot paths (routing a node's line, matching a reply,
// reading a broadcast's value list) and the node runtime's (routing on a
// body's header) need a few fields out of bodies that may carry thousands
// of values, and encoding/json would scan and copy all of them several
// times.
//
// Every function is a fast path for the common, plain shape: it reports
// ok=false on anything unusual (escaped keys, numbers that are not plain
// integers, ...) so that the caller can fall back to encoding/json and
// keep its exact behaviour and error messages.
package rawjson

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
)

var comma = []byte{','}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] (a quote)
// and whether it contains a backslash; -1 if it is unterminated.
func skipString(b []byte, i int) (int, bool) {
	escaped := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index after the value starting at b[i], or -1. It
// only tracks strings and nesting, so b must be valid JSON.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		j, _ := skipString(b, i)
		return j
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				j, _ := skipString(b, i)
				if j < 0 {
					return -1
				}
				i = j - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch c := b[i]; {
			case c == ',' || c == '}' || c == ']' || isSpace(c):
				return i
			}
		}
		return i
	}
}

// Object calls fn for each top-level member of the JSON object b, in
// order, with the key's raw bytes (without quotes) and the value's raw
// bytes, until fn returns false. b must be valid JSON (checked by the
// caller, e.g. with Valid, or produced by the grader). It reports false
// if b is not an object or a key contains an escape or a non-ASCII byte
// (which encoding/json might alter), in which case the caller should fall
// back to encoding/json.
func Object(b []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		end, escaped := skipString(b, i)
		if end < 0 || escaped {
			return false
		}
		key := b[i+1 : end-1]
		if !ascii(key) {
			return false // encoding/json would replace invalid UTF-8
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return false
		}
		// Capped, so that appending to a value cannot overwrite b.
		if !fn(key, b[i:vend:vend]) {
			return true
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
	return false
}

// String returns the contents of a JSON string without escapes.
func String(v []byte) (string, bool) {
	if !plainString(v) {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

// Name is String with the conversion left to name (nil: string(b)), so
// that a caller can return known ids without allocating.
func Name(v []byte, name func([]byte) string) (string, bool) {
	if name == nil {
		return String(v)
	}
	if !plainString(v) {
		return "", false
	}
	return name(v[1 : len(v)-1]), true
}

func plainString(v []byte) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	// Escapes, and bytes that encoding/json might replace (invalid
	// UTF-8), are left to it.
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// Int parses a plain JSON integer (no fraction, no exponent) that fits an
// int64.
func Int(v []byte) (int64, bool) {
	if !plainInt(v) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// plainInt reports whether v is -?(0|[1-9][0-9]*).
func plainInt(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 || (v[0] == '0' && len(v) > 1) {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Ints appends the integers of the JSON array v to dst. It accepts only an
// array of plain integers that fit an int64 (whitespace allowed); for
// anything else (null, floats, strings, ...) it reports false.
func Ints(v []byte, dst []int64) ([]int64, bool) {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		return dst, false
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return dst, skipSpace(v, i+1) == len(v)
	}
	dst = slices.Grow(dst, bytes.Count(v[i:], comma)+1)
	for i < len(v) {
		start := i
		neg := v[i] == '-'
		if neg {
			i++
		}
		digits := i
		var n uint64
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			n = n*10 + uint64(v[i]-'0')
			i++
		}
		nd := i - digits
		// At most 18 digits cannot overflow; longer numbers take the
		// careful path.
		switch {
		case nd == 0 || (v[digits] == '0' && nd > 1):
			return dst, false
		case nd <= 18:
			if neg {
				dst = append(dst, -int64(n))
			} else {
				dst = append(dst, int64(n))
			}
		default:
			x, ok := Int(v[start:i])
			if !ok {
				return dst, false
			}
			dst = append(dst, x)
		}
		i = skipSpace(v, i)
		if i >= len(v) {
			return dst, false
		}
		if v[i] == ']' {
			return dst, skipSpace(v, i+1) == len(v)
		}
		if v[i] != ',' {
			return dst, false
		}
		i = skipSpace(v, i+1)
	}
	return dst, false
}

// AppendInts appends vs as a JSON array.
func AppendInts(dst []byte, vs []int64) []byte {
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, v, 10)
	}
	return append(dst, ']')
}

// Envelope reads a line a node printed when it has the plain shape
// {"src":"..","dest":"..","body":{..}} (an "id" member allowed and
// ignored; keys exactly these, strings without escapes). It validates the
// whole line in one pass. body aliases line. name, if not nil, turns src
// and dest into strings (e.g. returning a known id without allocating).
func Envelope(line []byte, name func([]byte) string) (src, dest string, body []byte, ok bool) {
	if !Valid(line) {
		return "", "", nil, false
	}
	var haveSrc, haveDest, bad bool
	plain := Object(line, func(k, v []byte) bool {
		switch string(k) {
		case "src":
			src, haveSrc = Name(v, name)
			bad = !haveSrc
		case "dest":
			dest, haveDest = Name(v, name)
			bad = !haveDest
		case "body":
			body = v
			bad = v[0] != '{'
		case "id":
		default:
			bad = true
		}
		return !bad
	})
	if !plain || bad || !haveSrc || !haveDest || body == nil {
		return "", "", nil, false
	}
	return src, dest, body, true
}

// Members decodes a JSON object into a map of raw members as
// json.Unmarshal into map[string]json.RawMessage would, validating b in
// one pass and without copying the values (they alias b). It reports
// false, leaving m alone, when b is not a valid plain object.
func Members(b []byte) (map[string]json.RawMessage, bool) {
	if !Valid(b) {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	if !Object(b, func(k, v []byte) bool { m[string(k)] = v; return true }) {
		return nil, false
	}
	return m, true
}

// AppendString appends s as a JSON string, byte for byte what
// encoding/json would write. Node ids and message types are plain ASCII,
// so the fast path copies them; anything else goes through encoding/json.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
