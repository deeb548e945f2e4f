package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestUvarintMatchesEncodingBinary(t *testing.T) {
	vals := []uint64{0, 1, 127, 128, 255, 300, 16383, 16384, 1<<32 - 1, 1 << 35, 1<<63 - 1, 1 << 63, math.MaxUint64}
	for _, v := range vals {
		ours := AppendUvarint(nil, v)
		std := binary.AppendUvarint(nil, v)
		if string(ours) != string(std) {
			t.Fatalf("%d: ours %x, encoding/binary %x", v, ours, std)
		}
		if SizeUvarint(v) != len(ours) {
			t.Fatalf("%d: SizeUvarint %d, encoded %d", v, SizeUvarint(v), len(ours))
		}
		got, n, err := ConsumeUvarint(append(ours, 0xAA))
		if err != nil || got != v || n != len(ours) {
			t.Fatalf("%d: decoded %d (%d bytes, %v)", v, got, n, err)
		}
	}
}

func TestUvarintErrors(t *testing.T) {
	if _, _, err := ConsumeUvarint([]byte{0x80, 0x80}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: got %v", err)
	}
	if _, _, err := ConsumeUvarint(nil); !errors.Is(err, ErrTruncated) {
		t.Fatalf("empty: got %v", err)
	}
	eleven := []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}
	if _, _, err := ConsumeUvarint(eleven); !errors.Is(err, ErrOverflow) {
		t.Fatalf("eleven bytes: got %v", err)
	}
	tenthTooBig := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}
	if _, _, err := ConsumeUvarint(tenthTooBig); !errors.Is(err, ErrOverflow) {
		t.Fatalf("65 bits: got %v", err)
	}
}

func TestZigZag(t *testing.T) {
	for v, want := range map[int64]uint64{0: 0, -1: 1, 1: 2, -2: 3, math.MaxInt64: math.MaxUint64 - 1, math.MinInt64: math.MaxUint64} {
		if got := ZigZag(v); got != want {
			t.Fatalf("ZigZag(%d) = %d, want %d", v, got, want)
		}
		if UnZigZag(want) != v {
			t.Fatalf("UnZigZag(%d) = %d, want %d", want, UnZigZag(want), v)
		}
	}
}

func sampleV2() OrderV2 {
	return OrderV2{
		OrderV1:  OrderV1{ID: 42, Customer: "ada", Quantity: -3, Price: 9.75, Tags: []string{"a", "bb"}},
		Note:     "leave at door",
		Priority: -7,
		Ship:     &Address{Street: "1 Main St", City: "Lyon"},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sampleV2()
	var out OrderV2
	if err := out.Decode(in.Append(nil)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("got %+v, want %+v", out, in)
	}
}

// A newer sender, an older receiver: the fields v1 knows arrive, the rest
// is skipped.
func TestNewMessageOldDecoder(t *testing.T) {
	v2 := sampleV2()
	var v1 OrderV1
	if err := v1.Decode(v2.Append(nil)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v1, v2.OrderV1) {
		t.Fatalf("v1 decoder got %+v, want %+v", v1, v2.OrderV1)
	}
}

// An older sender, a newer receiver: new fields keep their zero values.
func TestOldMessageNewDecoder(t *testing.T) {
	v1 := sampleV2().OrderV1
	var v2 OrderV2
	if err := v2.Decode(v1.Append(nil)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v2.OrderV1, v1) || v2.Note != "" || v2.Priority != 0 || v2.Ship != nil {
		t.Fatalf("v2 decoder got %+v", v2)
	}
}

func TestSkipsEveryWireType(t *testing.T) {
	var b []byte
	b = AppendFixed32Field(b, 100, 7)
	b = AppendFixed64Field(b, 101, 8)
	b = AppendBytesField(b, 102, []byte("zzz"))
	b = AppendUvarintField(b, 103, 1<<40)
	b = AppendUvarintField(b, 1, 5)
	var m OrderV1
	if err := m.Decode(b); err != nil || m.ID != 5 {
		t.Fatalf("got %+v, %v", m, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := sampleV2().Append(nil)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated value", good[:len(good)-1], ErrTruncated},
		{"field zero", []byte{0x00, 0x01}, ErrBadTag},
		{"group wire type", []byte{0x0b}, ErrBadTag},
		{"length beyond input", []byte{0x12, 0x05, 'a'}, ErrTruncated},
		{"huge length", append([]byte{0x12}, AppendUvarint(nil, math.MaxUint64)...), ErrTruncated},
		{"wrong type", AppendStringField(nil, 1, "not a varint"), ErrWrongType},
		{"truncated fixed64", []byte{0x21, 1, 2, 3}, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m OrderV2
			err := m.Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecoderDoesNotAllocate(t *testing.T) {
	b := sampleV2().Append(nil)
	allocs := testing.AllocsPerRun(100, func() {
		var d Decoder
		d.Reset(b)
		for d.Next() {
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	})
	if allocs != 0 {
		t.Fatalf("skipping every field allocated %.1f times", allocs)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(sampleV2().Append(nil))
	f.Add([]byte{0x12, 0x05, 'a'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x0b})
	f.Add(AppendFixed64Field(nil, 3, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m OrderV2
		if err := m.Decode(data); err != nil {
			return
		}
		// Whatever decoded must fit in what came in, and re-encode/decode to
		// the same value (known fields only).
		var total int
		for _, s := range m.Tags {
			total += len(s)
		}
		if total+len(m.Customer)+len(m.Note) > len(data) {
			t.Fatalf("decoded %d bytes of strings from %d bytes of input", total, len(data))
		}
		var again OrderV2
		if err := again.Decode(m.Append(nil)); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(normalise(m), normalise(again)) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
	})
}

// normalise makes NaN prices comparable and empty tag lists equal to nil.
func normalise(m OrderV2) OrderV2 {
	if m.Price != m.Price {
		m.Price = 0
	}
	if len(m.Tags) == 0 {
		m.Tags = nil
	}
	return m
}
