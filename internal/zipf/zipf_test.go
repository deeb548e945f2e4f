package zipf

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestProbabilitiesFollowThePowerLaw(t *testing.T) {
	z, err := New(1000, 1.0)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for k := range z.N() {
		sum += z.Prob(k)
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("probabilities sum to %v", sum)
	}
	// p(k)/p(0) = 1/(k+1)^s.
	for _, k := range []int{1, 9, 99, 999} {
		got := z.Prob(k) / z.Prob(0)
		want := math.Pow(float64(k+1), -1.0)
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("p(%d)/p(0) = %v, want %v", k, got, want)
		}
	}
}

func TestSamplesMatchProbabilities(t *testing.T) {
	for _, s := range []float64{0, 0.6, 0.99, 1.3} {
		z, err := New(50, s)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		const draws = 200000
		counts := make([]int, z.N())
		for range draws {
			k := z.Sample(r)
			if k < 0 || k >= z.N() {
				t.Fatalf("s=%v: rank %d out of range", s, k)
			}
			counts[k]++
		}
		// Chi-square against the exact distribution; 49 degrees of
		// freedom, 99.9th percentile ≈ 85.4.
		chi := 0.0
		for k, c := range counts {
			e := z.Prob(k) * draws
			chi += (float64(c) - e) * (float64(c) - e) / e
		}
		if chi > 85.4 {
			t.Errorf("s=%v: chi-square %.1f over 49 degrees of freedom: samples do not follow the distribution", s, chi)
		}
	}
}

func TestTraceIsDeterministicAndTopMass(t *testing.T) {
	z, _ := New(100, 1.1)
	a, b := z.Trace(7, 1000), z.Trace(7, 1000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("trace differs at %d", i)
		}
	}
	if z.TopMass(0) != 0 || z.TopMass(100) != 1 || math.Abs(z.TopMass(1)-z.Prob(0)) > 1e-12 {
		t.Fatalf("TopMass bounds wrong")
	}
}

func TestBadArguments(t *testing.T) {
	for _, c := range []struct {
		n int
		s float64
	}{{0, 1}, {10, -1}, {10, math.NaN()}, {10, math.Inf(1)}} {
		if _, err := New(c.n, c.s); err == nil {
			t.Errorf("New(%d, %v) accepted", c.n, c.s)
		}
	}
}
