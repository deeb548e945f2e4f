package gorilla

// bitWriter appends bits, most significant first.
type bitWriter struct {
	buf   []byte
	nbits int // bits used in the last byte (0: start a new byte)
}

func (w *bitWriter) writeBit(b bool) {
	if w.nbits == 0 {
		w.buf = append(w.buf, 0)
		w.nbits = 8
	}
	w.nbits--
	if b {
		w.buf[len(w.buf)-1] |= 1 << w.nbits
	}
}

// writeBits writes the n low bits of v, most significant first.
func (w *bitWriter) writeBits(v uint64, n int) {
	for n > 0 {
		if w.nbits == 0 {
			w.buf = append(w.buf, 0)
			w.nbits = 8
		}
		take := min(n, w.nbits)
		chunk := byte(v>>(n-take)) & byte(1<<take-1)
		w.nbits -= take
		w.buf[len(w.buf)-1] |= chunk << w.nbits
		n -= take
	}
}

// bitReader reads what bitWriter wrote.
type bitReader struct {
	buf []byte
	pos int // bit position
}

func (r *bitReader) readBit() (bool, bool) {
	if r.pos >= 8*len(r.buf) {
		return false, false
	}
	b := r.buf[r.pos/8]>>(7-r.pos%8)&1 == 1
	r.pos++
	return b, true
}

func (r *bitReader) readBits(n int) (uint64, bool) {
	if r.pos+n > 8*len(r.buf) {
		return 0, false
	}
	var v uint64
	for n > 0 {
		off := r.pos % 8
		avail := 8 - off
		take := min(n, avail)
		chunk := uint64(r.buf[r.pos/8]>>(avail-take)) & (1<<take - 1)
		v = v<<take | chunk
		r.pos += take
		n -= take
	}
	return v, true
}
