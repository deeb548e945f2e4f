package wal

import (
	"strconv"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// BenchmarkAppend measures appends/s of 100-byte records on the real disk
// (a temporary directory) for each policy, from one appender and from 16
// concurrent ones (where group commit shares fsyncs). Run with
//
//	go test -run '^$' -bench BenchmarkAppend -benchtime 2000x ./internal/wal/
func BenchmarkAppend(b *testing.B) {
	rec := make([]byte, 100)
	for _, p := range []Policy{SyncEvery, SyncGroup, SyncNone} {
		for _, par := range []int{1, 16} {
			b.Run(p.String()+"/appenders="+strconv.Itoa(par), func(b *testing.B) {
				l, err := Open(storage.OS, b.TempDir(), Options{Sync: p})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				b.SetBytes(int64(len(rec)))
				b.ResetTimer()
				if par == 1 {
					for b.Loop() {
						if _, err := l.Append(rec); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism(par)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := l.Append(rec); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				st := l.Stats()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
				b.ReportMetric(st.RecordsPerFsync(), "records/fsync")
			})
		}
	}
}
