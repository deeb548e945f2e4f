package wire

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// The same message encoded three ways: our wire package, encoding/json, and
// the Protocol Buffers wire format assembled by hand with protowire (there is
// no generated code: no protoc).

func benchOrder() OrderV1 {
	return OrderV1{
		ID: 918273645, Customer: "ada lovelace", Quantity: -12, Price: 1234.5,
		Tags: []string{"express", "gift", "fragile", "eu-west"},
	}
}

func appendProto(b []byte, m *OrderV1) []byte {
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, m.ID)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, m.Customer)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(m.Quantity))
	b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(m.Price))
	for _, t := range m.Tags {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendString(b, t)
	}
	return b
}

func decodeProto(b []byte, m *OrderV1) error {
	*m = OrderV1{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.ID, n = protowire.ConsumeVarint(b)
		case num == 2 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			m.Customer = string(v)
		case num == 3 && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			m.Quantity = protowire.DecodeZigZag(v)
		case num == 4 && typ == protowire.Fixed64Type:
			var v uint64
			v, n = protowire.ConsumeFixed64(b)
			m.Price = math.Float64frombits(v)
		case num == 5 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			m.Tags = append(m.Tags, string(v))
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// The benchmark compares like with like only if both encodings are the same
// bytes; they are, because our layout is the protobuf layout.
func TestSameBytesAsProtowire(t *testing.T) {
	m := benchOrder()
	ours, theirs := m.Append(nil), appendProto(nil, &m)
	if string(ours) != string(theirs) {
		t.Fatalf("ours %x\nprotowire %x", ours, theirs)
	}
	var back OrderV1
	if err := decodeProto(ours, &back); err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("protowire decoded %+v, %v", back, err)
	}
}

func BenchmarkCodec(b *testing.B) {
	m := benchOrder()
	ourBytes := m.Append(nil)
	jsonBytes, _ := json.Marshal(&m)
	b.Run("encode/wire", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		b.SetBytes(int64(len(ourBytes)))
		for b.Loop() {
			buf = m.Append(buf[:0])
		}
	})
	b.Run("encode/protowire", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		b.SetBytes(int64(len(ourBytes)))
		for b.Loop() {
			buf = appendProto(buf[:0], &m)
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(jsonBytes)))
		for b.Loop() {
			if _, err := json.Marshal(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/wire", func(b *testing.B) {
		var out OrderV1
		b.ReportAllocs()
		b.SetBytes(int64(len(ourBytes)))
		for b.Loop() {
			if err := out.Decode(ourBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/protowire", func(b *testing.B) {
		var out OrderV1
		b.ReportAllocs()
		b.SetBytes(int64(len(ourBytes)))
		for b.Loop() {
			if err := decodeProto(ourBytes, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		var out OrderV1
		b.ReportAllocs()
		b.SetBytes(int64(len(jsonBytes)))
		for b.Loop() {
			out = OrderV1{}
			if err := json.Unmarshal(jsonBytes, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
