package orchestrator

import (
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"--score", "spread", "--capacity", "ignore", "--kubelet", "edge", "--node-ttl", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Score != "spread" || !o.IgnoreCapacity || !o.EdgeKubelet || o.NodeTTL != 3*time.Second {
		t.Fatalf("%+v", o)
	}
	if p := o.profile(); len(p.Filters) != 0 {
		t.Fatalf("--capacity ignore keeps the fit filter")
	}
	d, _ := ParseArgs(nil)
	if p := d.profile(); len(p.Filters) != 1 || d.IgnoreCapacity || d.EdgeKubelet {
		t.Fatalf("defaults: %+v", d)
	}
	for _, bad := range [][]string{{"--score", "random"}, {"--capacity", "maybe"}, {"--kubelet", "x"}, {"--node-ttl", "0s"}, {"extra"}, {"--nope"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPodName(t *testing.T) {
	for key, want := range map[string]string{
		"/pods/d1/0000000007":  "d1-7",
		"/pods/web/0000000120": "web-120",
		"/pods/d2/x":           "d2-x",
	} {
		if got := podName(key); got != want {
			t.Errorf("podName(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestEncodeSortsKeys: values are written as the service's answers show
// them, so that a compare-and-set from a value read back matches.
func TestEncodeSortsKeys(t *testing.T) {
	got := string(encode(Pod{Deployment: "d1", CPU: 250, Node: "n2"}))
	if want := `{"cpu":250,"deployment":"d1","node":"n2"}`; got != want {
		t.Fatalf("encode = %s, want %s", got, want)
	}
}
