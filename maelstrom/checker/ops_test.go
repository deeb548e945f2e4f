package checker

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAsInt64(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int64
		ok   bool
	}{
		{int64(-3), -3, true},
		{7, 7, true},
		{int32(8), 8, true},
		{i64(9), 9, true},
		{(*int64)(nil), 0, false},
		{2.0, 2, true},
		{2.5, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{float64(math.MinInt64), math.MinInt64, true},
		{math.Ldexp(1, 63), 0, false}, // 2^63 would wrap to MinInt64
		{json.Number("12"), 12, true},
		{json.Number("1.5"), 0, false},
		{"12", 0, false},
		{nil, 0, false},
	} {
		got, ok := asInt64(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("asInt64(%#v) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
