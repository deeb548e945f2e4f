package flags

import (
	"context"
	"fmt"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
)

func subjects(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("client-%d", i)
	}
	return out
}

func TestRolloutIsStickyAndProportional(t *testing.T) {
	s := NewStore()
	subs := subjects(10000)
	in := map[string]bool{}
	for _, pct := range []float64{1, 10, 25, 50, 100} {
		s.Set("v2", pct)
		n := 0
		for _, sub := range subs {
			on := s.On("v2", sub)
			if in[sub] && !on {
				t.Fatalf("%s left the rollout when it grew to %v%%", sub, pct)
			}
			if on {
				in[sub] = true
				n++
			}
		}
		if got := float64(n) / 100; got < pct-1.5 || got > pct+1.5 {
			t.Errorf("%v%% rollout turned on %.2f%% of subjects", pct, got)
		}
	}
	// Another flag orders subjects differently.
	s.Set("v3", 10)
	s.Set("v2", 10)
	both := 0
	for _, sub := range subs {
		if s.On("v3", sub) && s.On("v2", sub) {
			both++
		}
	}
	if both > 300 {
		t.Errorf("two 10%% rollouts share %d of 10000 subjects: buckets do not depend on the flag", both)
	}
}

func TestKillSwitch(t *testing.T) {
	s := NewStore()
	s.Set("canary", 100)
	s.Kill("canary")
	for _, sub := range subjects(100) {
		if s.On("canary", sub) {
			t.Fatalf("killed flag on for %s", sub)
		}
	}
	s.Revive("canary")
	if !s.On("canary", "x") {
		t.Fatal("revived 100% flag off")
	}
	if s.On("nosuch", "x") {
		t.Fatal("unknown flag on")
	}
}

// TestOpenFeatureClient reads the flags through the OpenFeature SDK's own
// client, as application code would.
func TestOpenFeatureClient(t *testing.T) {
	s := NewStore()
	s.Set("v2", 30)
	if err := openfeature.SetNamedProviderAndWait("migrator-flags-test", Provider{S: s}); err != nil {
		t.Fatal(err)
	}
	c := openfeature.NewClient("migrator-flags-test")
	ctx := context.Background()
	on := 0
	for _, sub := range subjects(1000) {
		d, err := c.BooleanValueDetails(ctx, "v2", false, openfeature.NewEvaluationContext(sub, nil))
		if err != nil {
			t.Fatal(err)
		}
		if d.Value != s.On("v2", sub) || d.Reason != openfeature.SplitReason {
			t.Fatalf("%s: OpenFeature says %v (%s), store says %v", sub, d.Value, d.Reason, s.On("v2", sub))
		}
		if d.Value {
			on++
		}
	}
	if on < 250 || on > 350 {
		t.Errorf("30%% rollout: %d of 1000 on", on)
	}
	s.Kill("v2")
	d, err := c.BooleanValueDetails(ctx, "v2", true, openfeature.NewEvaluationContext("client-1", nil))
	if err != nil || d.Value || d.Reason != openfeature.DisabledReason {
		t.Fatalf("killed: %v %s %v", d.Value, d.Reason, err)
	}
	if v, err := c.BooleanValue(ctx, "nosuch", true, openfeature.NewEvaluationContext("client-1", nil)); err == nil || !v {
		t.Fatalf("unknown flag: %v, %v; want the default and an error", v, err)
	}
	s.Revive("v2")
	if v, err := c.BooleanValue(ctx, "v2", true, openfeature.EvaluationContext{}); err == nil || !v {
		t.Fatalf("no targeting key: %v, %v; want the default and an error", v, err)
	}
	if _, err := c.StringValue(ctx, "v2", "x", openfeature.NewEvaluationContext("client-1", nil)); err == nil {
		t.Fatal("string evaluation of a boolean flag: no error")
	}
}
