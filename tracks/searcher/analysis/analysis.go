// Package analysis turns text into the terms the searcher indexes and
// queries with: tokenize (a token is a maximal run of letters and digits)
// and normalize (lower case). Documents and queries go through the same
// analysis, or a query for "Fox" would never find "fox,".
package analysis

import (
	"unicode"
	"unicode/utf8"
)

// Tokens appends the analyzed terms of text to dst, in order, and
// returns it. ASCII text, the common case, is lower-cased in place of a
// copy of the whole string.
func Tokens(dst []string, text string) []string {
	if dst == nil {
		dst = make([]string, 0, len(text)/6+1)
	}
	start := -1
	lower := true
	flush := func(end int) {
		tok := text[start:end]
		if !lower {
			tok = toLower(tok)
		}
		dst = append(dst, tok)
		start, lower = -1, true
	}
	for i := 0; i < len(text); {
		c := text[i]
		var r rune
		size := 1
		if c < utf8.RuneSelf {
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		if isWord(r) {
			if start < 0 {
				start = i
			}
			if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
				lower = false
			}
		} else if start >= 0 {
			flush(i)
		}
		i += size
	}
	if start >= 0 {
		flush(len(text))
	}
	return dst
}

func isWord(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func toLower(s string) string {
	b := make([]rune, 0, len(s))
	for _, r := range s {
		b = append(b, unicode.ToLower(r))
	}
	return string(b)
}
