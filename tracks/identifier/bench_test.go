package identifier

import (
	"testing"
)

// BenchmarkGenerate measures ids per second through a whole node: request
// decoding, the strategy, the reply on the wire, one request at a time.
// internal/idgen's BenchmarkNext measures the strategies alone.
func BenchmarkGenerate(b *testing.B) {
	for _, strategy := range Strategies() {
		b.Run(strategy, func(b *testing.B) {
			s := startNode(b, b.TempDir(), "--strategy", strategy)
			s.init()
			i := 2
			for b.Loop() {
				s.generate(i)
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ids/s")
		})
	}
}
