package proto

import (
	"bytes"
	"errors"
	"io"
	"math"
	"testing"
)

// Byte vectors written by hand from the specification, not produced by
// any encoder: 150 is 0x96 0x01, field 1 varint 150 is 08 96 01, field 2
// bytes "testing" is 12 07 74 65 73 74 69 6e 67.
func TestVectorsFromTheSpecification(t *testing.T) {
	if got := AppendUvarint(nil, 150); !bytes.Equal(got, []byte{0x96, 0x01}) {
		t.Errorf("varint 150 = % x", got)
	}
	if got := AppendUvarint(nil, math.MaxUint64); len(got) != 10 || got[9] != 0x01 {
		t.Errorf("varint max = % x", got)
	}
	msg := []byte{0x08, 0x96, 0x01, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'}
	fs, err := ParseFields(msg)
	if err != nil || len(fs) != 2 || fs[0].Num != 1 || fs[0].Varint != 150 || fs[1].Num != 2 || string(fs[1].Bytes) != "testing" {
		t.Fatalf("ParseFields = %+v, %v", fs, err)
	}
	var re []byte
	for _, f := range fs {
		re = AppendField(re, f)
	}
	if !bytes.Equal(re, msg) {
		t.Errorf("re-encoded % x, want % x", re, msg)
	}
	for v, want := range map[int64]uint64{0: 0, -1: 1, 1: 2, -2: 3, math.MinInt64: math.MaxUint64} {
		if ZigZag(v) != want || UnZigZag(want) != v {
			t.Errorf("zigzag %d: %d", v, ZigZag(v))
		}
	}
	// A frame: 4-byte big-endian length.
	if got := AppendFrame(nil, []byte("hi")); !bytes.Equal(got, []byte{0, 0, 0, 2, 'h', 'i'}) {
		t.Errorf("frame = % x", got)
	}
}

func TestMalformedInput(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated varint":    {0x08, 0x96},
		"overlong varint":     {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		"bytes past the end":  {0x12, 0x05, 'a'},
		"field number 0":      {0x00, 0x01},
		"wire type 3":         {0x0b},
		"truncated fixed64":   {0x09, 1, 2, 3},
		"truncated fixed32":   {0x0d, 1, 2},
		"group end wire type": {0x0c},
	} {
		if fs, err := ParseFields(b); err == nil {
			t.Errorf("%s: parsed as %+v", name, fs)
		}
	}
	if _, err := ParseEnvelope([]byte{0x10, 0x01}); err == nil {
		t.Error("an envelope without a frame type parsed")
	}
	if _, err := ParseEnvelope([]byte{0x0a, 0x01, 0x01}); err == nil {
		t.Error("an envelope whose type is bytes parsed")
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 1, 0}), 255); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized frame: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 3, 'a'}), 255); err != io.ErrUnexpectedEOF {
		t.Errorf("frame cut short: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader(nil), 255); err != io.EOF {
		t.Errorf("clean end: %v", err)
	}
}

// Unknown fields of every wire type are skipped, wherever they are.
func TestEnvelopeSkipsUnknownFields(t *testing.T) {
	e := Envelope{Kind: Status, Stream: 300, Payload: []byte("reply"), Code: NotFound, Message: "no such method"}
	b := AppendField(nil, Field{Num: 99, Type: WireFixed32, Varint: 7})
	b = e.Append(b)
	b = AppendField(b, Field{Num: 8, Type: WireFixed64, Varint: 1 << 60})
	b = AppendField(b, Field{Num: 1000, Type: WireBytes, Bytes: []byte("future")})
	b = AppendField(b, Field{Num: 9, Type: WireVarint, Varint: 5})
	got, err := ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != e.Kind || got.Stream != e.Stream || string(got.Payload) != "reply" || got.Code != NotFound || got.Message != e.Message {
		t.Fatalf("got %+v, want %+v", got, e)
	}
}
