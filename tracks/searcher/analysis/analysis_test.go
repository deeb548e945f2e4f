package analysis

import (
	"slices"
	"testing"
)

func TestTokens(t *testing.T) {
	for text, want := range map[string][]string{
		"The quick, brown FOX.": {"the", "quick", "brown", "fox"},
		"  co-op\nx2; Ünïcode ": {"co", "op", "x2", "ünïcode"},
		"":                      nil,
		"...":                   nil,
	} {
		if got := Tokens(nil, text); !slices.Equal(got, want) {
			t.Errorf("Tokens(%q) = %q, want %q", text, got, want)
		}
	}
}
