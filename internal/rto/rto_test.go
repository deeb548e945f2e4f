package rto

import "testing"

func TestTimeout(t *testing.T) {
	var e Estimator
	if e.Timeout() != 0 || e.Samples() != 0 {
		t.Fatalf("no samples: timeout %v after %d samples, want 0", e.Timeout(), e.Samples())
	}
	e.Sample(-1)
	if e.Samples() != 0 {
		t.Fatal("a negative round trip was counted")
	}
	e.Sample(100)
	if got := e.Timeout(); got != 300 {
		t.Fatalf("first sample 100: timeout %v, want 100 + 4*50 = 300", got)
	}
	for range 50 {
		e.Sample(100)
	}
	if got := e.Timeout(); got < 100 || got > 110 {
		t.Fatalf("steady round trips of 100: timeout %v, want about 100", got)
	}
	for i := range 200 {
		e.Sample(float64(50 + 100*(i%2)))
	}
	if got := e.Timeout(); got < 250 {
		t.Fatalf("round trips of 50 and 150: timeout %v, want near srtt + 4*rttvar = 300", got)
	}
	if e.Samples() != 251 {
		t.Fatalf("%d samples counted, want 251", e.Samples())
	}
}
