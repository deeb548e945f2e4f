// Package index is the searcher's inverted index: immutable segments whose
// postings are delta + varint encoded, a shard that buffers writes and
// makes them searchable at each refresh (near-real-time, as Lucene's
// reopen), deletes as per-segment bitsets, merges, and BM25 ranking with
// corpus statistics that the caller passes in, so that a sharded search
// can score every shard with the statistics of the whole corpus.
//
// It does no I/O and reads no clock: the node (package searcher) owns the
// translog, the refresh timer and the network.
package index

import (
	"encoding/binary"
	"slices"
)

// Doc is a document to index: its id and its analyzed terms, in order.
type Doc struct {
	ID     int64
	Text   string // kept, as Lucene keeps stored fields, for merges and replay
	Tokens []string
}

// termInfo locates one term's postings in a segment.
type termInfo struct {
	df       uint32 // documents of the segment containing the term
	off, end uint32 // postings bytes
}

// segment is an immutable inverted index over a batch of documents.
// Local document numbers are positions in ids. A term's postings list,
// for each document containing it in ascending local order:
//
//	uvarint(doc - previous doc)  uvarint(tf)  tf × uvarint(position - previous position)
//
// Small gaps take one byte: the delta + varint compression of every
// search engine since the 1990s.
type segment struct {
	ids      []int64
	lens     []uint32
	texts    []string
	terms    map[string]termInfo
	postings []byte
	tokens   int64
}

type posting struct {
	doc uint32
	pos []uint32
}

func buildSegment(docs []Doc) *segment {
	s := &segment{terms: map[string]termInfo{}}
	inv := map[string][]posting{}
	var order []string
	for local, d := range docs {
		s.ids = append(s.ids, d.ID)
		s.lens = append(s.lens, uint32(len(d.Tokens)))
		s.texts = append(s.texts, d.Text)
		s.tokens += int64(len(d.Tokens))
		for p, t := range d.Tokens {
			ps := inv[t]
			if n := len(ps); n > 0 && ps[n-1].doc == uint32(local) {
				ps[n-1].pos = append(ps[n-1].pos, uint32(p))
				continue
			}
			if ps == nil {
				order = append(order, t)
			}
			inv[t] = append(ps, posting{doc: uint32(local), pos: []uint32{uint32(p)}})
		}
	}
	slices.Sort(order)
	for _, t := range order {
		off := len(s.postings)
		prev := uint32(0)
		for _, p := range inv[t] {
			s.postings = binary.AppendUvarint(s.postings, uint64(p.doc-prev))
			prev = p.doc
			s.postings = binary.AppendUvarint(s.postings, uint64(len(p.pos)))
			pp := uint32(0)
			for _, x := range p.pos {
				s.postings = binary.AppendUvarint(s.postings, uint64(x-pp))
				pp = x
			}
		}
		s.terms[t] = termInfo{df: uint32(len(inv[t])), off: uint32(off), end: uint32(len(s.postings))}
	}
	return s
}

// Bytes is the segment's size as it would be written out: postings, the
// term dictionary (term bytes, df and offsets), the document table and
// the stored texts.
func (s *segment) bytes() int64 {
	n := int64(len(s.postings)) + int64(len(s.ids))*12
	for t := range s.terms {
		n += int64(len(t)) + 12
	}
	for _, t := range s.texts {
		n += int64(len(t))
	}
	return n
}

// cursor walks one term's postings in a segment.
type cursor struct {
	buf    []byte
	i      int
	doc    uint32
	tf     uint32
	posAt  int // where the current document's positions start in buf
	done   bool
	primed bool
}

func (s *segment) cursor(term string) *cursor {
	ti, ok := s.terms[term]
	if !ok {
		return nil
	}
	return &cursor{buf: s.postings[ti.off:ti.end]}
}

// next moves to the next document; false at the end.
func (c *cursor) next() bool {
	if c.primed {
		// skip the current document's positions
		for range c.tf {
			_, n := binary.Uvarint(c.buf[c.i:])
			c.i += n
		}
	}
	if c.i >= len(c.buf) {
		c.done = true
		return false
	}
	d, n := binary.Uvarint(c.buf[c.i:])
	c.i += n
	tf, n := binary.Uvarint(c.buf[c.i:])
	c.i += n
	if c.primed {
		c.doc += uint32(d)
	} else {
		c.doc = uint32(d)
		c.primed = true
	}
	c.tf = uint32(tf)
	c.posAt = c.i
	return true
}

// advance moves to the first document ≥ target.
func (c *cursor) advance(target uint32) bool {
	for !c.primed || c.doc < target {
		if !c.next() {
			return false
		}
	}
	return true
}

// positions decodes the current document's positions into dst.
func (c *cursor) positions(dst []uint32) []uint32 {
	dst = dst[:0]
	i, p := c.posAt, uint32(0)
	for range c.tf {
		x, n := binary.Uvarint(c.buf[i:])
		i += n
		p += uint32(x)
		dst = append(dst, p)
	}
	return dst
}
