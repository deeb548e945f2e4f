package counter

import (
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	c, err := ParseArgs(nil)
	if err != nil || c.Stage != DefaultStage || c.GossipInterval != DefaultGossipInterval || c.FullState {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = ParseArgs([]string{"--stage", "g-set", "--gossip-interval", "250ms", "--gossip", "full"})
	if err != nil || c.Stage != "g-set" || c.GossipInterval != 250*time.Millisecond || !c.FullState {
		t.Fatalf("explicit: %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		{"--stage", "nope"},
		{"--gossip", "sometimes"},
		{"--gossip-interval", "0s"},
		{"--frobnicate"},
		{"extra"},
	} {
		if _, err := ParseArgs(bad); err == nil || !strings.Contains(err.Error(), "counter:") {
			t.Errorf("ParseArgs(%q) = %v, want a counter: error", bad, err)
		}
	}
}
