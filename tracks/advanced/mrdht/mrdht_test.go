package mrdht

import "testing"

func TestParseArgs(t *testing.T) {
	if o, err := ParseArgs(nil); err != nil || o.Replicas != 3 || o.Anywhere {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"--replicas", "0"}, {"--schedule", "nearby"}, {"--locality-wait", "-1s"}, {"extra"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
