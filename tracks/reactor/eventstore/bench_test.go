package eventstore

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkLoad loads the current state of a 2000-event stream, at a
// random version, with aggregate snapshots every 16 versions and without
// any (every load folds the stream from version 1).
func BenchmarkLoad(b *testing.B) {
	type sum struct{ N, Total int64 }
	fold := func(s sum, raw json.RawMessage) sum {
		var e struct {
			Amount int64 `json:"amount"`
		}
		_ = json.Unmarshal(raw, &e)
		return sum{s.N + 1, s.Total + e.Amount}
	}
	for _, every := range []int{16, 1 << 30} {
		name := fmt.Sprintf("snapshot-every=%d", every)
		if every == 1<<30 {
			name = "no-snapshots"
		}
		b.Run(name, func(b *testing.B) {
			s := New()
			sn := NewSnapshots(every, fold)
			for i := range 2000 {
				_, pos, _ := s.Append([]Write{{Stream: "a", Expected: s.Version("a"),
					Events: []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"id":"%d","type":"deposited","amount":%d,"at":%d}`, i, i%100, i))}}})
				sn.Observe(s.ReadAll(pos, 1)[0])
			}
			for i := 0; b.Loop(); i++ {
				v := int64(i*7919) % 2000
				if st, _ := sn.State(s, "a", v); st.N != v {
					b.Fatalf("state at %d counts %d events", v, st.N)
				}
			}
		})
	}
}
