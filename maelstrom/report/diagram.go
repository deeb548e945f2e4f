package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"
)

// Diagram geometry in pixels. The page's script reads the same values from
// the svg element's data attributes when it lays the diagram out again.
const (
	laneWidth  = 116
	axisWidth  = 78
	diagTop    = 14
	diagBottom = 40
	headHeight = 30
	// labelRunes is Maelstrom's label length.
	labelRunes = 48
	// titleBytes caps the hover text: a read of a large set would
	// otherwise repeat kilobytes per message.
	titleBytes = 4000
	// dropStub is how far, as a fraction of the way to its destination,
	// a dropped message's stub reaches.
	dropStub = 0.3
	dropDrop = 12 // and how far down, in pixels
	// maxInitialHeight bounds the time-scaled diagram before any zoom:
	// tall enough that a large run is not a smear, small enough for a
	// browser to lay out quickly.
	maxInitialHeight = 120000
)

// focus is an operation a violation names: its client's messages during
// the operation are highlighted, and a marker sits at the violation's time.
type focus struct {
	client     string
	start, end time.Duration
	hasSpan    bool
	at         time.Duration
	what       string
}

// diagram is the rendered Lamport diagram.
type diagram struct {
	Heads       template.HTML // lane names, kept in view while scrolling
	SVG         template.HTML
	Lanes       int
	Shown       int // messages drawn
	Capped      int // messages in the window beyond the cap
	OutOfWindow int // messages sent outside the window
	Window      string
	Height      int
}

// msgKind colours a message: client traffic, server traffic, or an error
// reply, which matters more than who sent it.
func msgKind(m Message, typ string, kinds map[string]laneKind) string {
	if typ == "error" {
		return "err"
	}
	if kinds[m.Src] == clientLane || kinds[m.Dest] == clientLane {
		return "cli"
	}
	return "srv"
}

// describe returns a message's body type and its one-line label: the type
// and the rest of the body without the bookkeeping fields, or for an error
// its text.
func describe(m Message) (string, string) {
	var body map[string]json.RawMessage
	_ = json.Unmarshal(m.Body, &body) // a malformed body still gets drawn, unlabelled
	typ := m.Type
	if typ == "" {
		_ = json.Unmarshal(body["type"], &typ)
	}
	if typ == "error" {
		var text string
		_ = json.Unmarshal(body["text"], &text)
		if text == "" {
			text = "code " + string(body["code"])
		}
		return typ, truncate("error: "+text, labelRunes)
	}
	var sb strings.Builder
	sb.WriteString(typ)
	for _, k := range sortedKeys(body) {
		switch k {
		case "type", "msg_id", "in_reply_to":
			continue
		}
		sb.WriteByte(' ')
		sb.WriteString(k)
		sb.WriteByte('=')
		var c bytes.Buffer
		if json.Compact(&c, body[k]) == nil {
			sb.Write(c.Bytes())
		} else {
			sb.Write(body[k])
		}
		if sb.Len() > 4*labelRunes {
			break
		}
	}
	return typ, truncate(sb.String(), labelRunes)
}

// fullJSON is the hover text: the whole message as it went over the wire.
func fullJSON(m Message) string {
	body := m.Body
	if !json.Valid(body) {
		bs, _ := json.Marshal(string(m.Body))
		body = bs
	}
	bs, err := json.Marshal(struct {
		ID   int64           `json:"id"`
		Src  string          `json:"src"`
		Dest string          `json:"dest"`
		Body json.RawMessage `json:"body"`
	}{m.ID, m.Src, m.Dest, body})
	if err != nil {
		return string(m.Body)
	}
	s := string(bs)
	if len(s) > titleBytes {
		s = strings.ToValidUTF8(s[:titleBytes], "") + "…"
	}
	return s
}

// window selects and orders the messages to draw, without touching the
// caller's slice.
func window(in Input, limit int) (shown []Message, capped, outside int) {
	end := in.WindowEnd
	if end <= 0 {
		end = time.Duration(math.MaxInt64)
	}
	for _, m := range in.Messages {
		if m.Sent < in.WindowStart || m.Sent > end {
			outside++
			continue
		}
		shown = append(shown, m)
	}
	slices.SortStableFunc(shown, func(a, b Message) int { return cmp.Compare(a.Sent, b.Sent) })
	if len(shown) > limit {
		capped = len(shown) - limit
		shown = shown[:limit]
	}
	return shown, capped, outside
}

// delivered reports whether m has a receive end to draw.
func delivered(m Message) bool { return !m.Dropped && m.Received >= m.Sent }

// pxPerMicro picks the initial time scale: the median gap between sends
// gets about one label's height, within a total height a browser copes
// with.
func pxPerMicro(msgs []Message, t0, t1 int64) float64 {
	span := float64(t1 - t0)
	if span <= 0 {
		return 1
	}
	var gaps []int64
	for i := 1; i < len(msgs); i++ {
		if g := micros(msgs[i].Sent) - micros(msgs[i-1].Sent); g > 0 {
			gaps = append(gaps, g)
		}
	}
	px := 600 / span
	if len(gaps) > 0 {
		slices.Sort(gaps)
		px = 14 / float64(gaps[len(gaps)/2])
	}
	return min(max(px, 400/span), maxInitialHeight/span)
}

func buildDiagram(in Input, foci []focus) diagram {
	limit := in.MaxMessages
	if limit <= 0 {
		limit = DefaultMaxMessages
	}
	msgs, capped, outside := window(in, limit)
	ls := lanes(in.Nodes, in.Clients, msgs)
	index := make(map[string]int, len(ls))
	kinds := make(map[string]laneKind, len(ls))
	for i, l := range ls {
		index[l.name] = i
		kinds[l.name] = l.kind
	}

	// The drawn span: the window, or the run, stretched to cover every
	// drawn event.
	t0 := micros(in.WindowStart)
	t1 := micros(in.Duration)
	if in.WindowEnd > 0 && micros(in.WindowEnd) < t1 {
		t1 = micros(in.WindowEnd)
	}
	for _, m := range msgs {
		t1 = max(t1, micros(m.Sent))
		if delivered(m) {
			t1 = max(t1, micros(m.Received))
		}
	}
	if t1 <= t0 {
		t1 = t0 + 1000
	}
	px := pxPerMicro(msgs, t0, t1)
	y := func(t int64) float64 { return diagTop + float64(t-t0)*px }
	x := func(i int) float64 { return axisWidth + float64(i)*laneWidth + laneWidth/2 }
	width := axisWidth + len(ls)*laneWidth + 20
	height := int(math.Ceil(y(t1))) + diagBottom

	d := diagram{Lanes: len(ls), Shown: len(msgs), Capped: capped, OutOfWindow: outside, Height: height}
	if in.WindowStart > 0 || in.WindowEnd > 0 {
		d.Window = seconds(time.Duration(t0)*time.Microsecond) + " – " + seconds(time.Duration(t1)*time.Microsecond)
	}

	var h svgBuf
	h.WriteString(`<svg id="lamport-heads" xmlns="http://www.w3.org/2000/svg"`)
	h.iattr("width", int64(width))
	h.iattr("height", headHeight)
	h.WriteString(`>`)
	for i, l := range ls {
		h.WriteString(`<text class="head `)
		h.WriteString(l.kind.class())
		h.WriteString(`"`)
		h.attr("x", x(i))
		h.attr("y", headHeight-9)
		h.sattr("data-p", l.name)
		h.WriteString(`>`)
		h.text(l.name)
		h.WriteString(`</text>`)
	}
	h.WriteString(`</svg>`)
	d.Heads = h.html()

	var b svgBuf
	b.Grow(600 * (len(msgs) + 16))
	b.WriteString(`<svg id="lamport" class="lamport" xmlns="http://www.w3.org/2000/svg"`)
	b.iattr("width", int64(width))
	b.iattr("height", int64(height))
	b.iattr("data-t0", t0)
	b.iattr("data-t1", t1)
	b.WriteString(` data-pxus="`)
	b.WriteString(strconvFloat(px))
	b.WriteString(`"`)
	b.iattr("data-left", axisWidth)
	b.iattr("data-lanew", laneWidth)
	b.iattr("data-top", diagTop)
	b.iattr("data-bottom", diagBottom)
	b.WriteString(`>`)
	b.WriteString(`<defs>`)
	for _, k := range []string{"cli", "srv", "err", "hl"} {
		b.WriteString(`<marker id="ah-` + k + `" class="ah ` + k + `" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker>`)
	}
	b.WriteString(`</defs>`)

	// Faults first so that everything else is drawn over the shading.
	b.WriteString(`<g class="faults">`)
	for _, f := range in.Faults {
		end := micros(f.End)
		if f.End <= f.Start {
			end = t1 // an interval still open when the run ended
		}
		s, e := max(micros(f.Start), t0), min(end, t1)
		b.WriteString(`<g class="fault"`)
		b.iattr("data-s", micros(f.Start))
		b.iattr("data-e", end)
		if e < s {
			b.WriteString(` style="display:none"`)
		}
		b.WriteString(`><rect class="fault"`)
		b.attr("x", axisWidth)
		b.attr("y", y(s))
		b.attr("width", float64(width-axisWidth))
		b.attr("height", max(0, y(e)-y(s)))
		b.WriteString(`><title>`)
		until := seconds(f.End)
		if f.End <= f.Start {
			until = "the end"
		}
		b.text(f.Label + " (" + seconds(f.Start) + " – " + until + ")")
		b.WriteString(`</title></rect><text class="fault-label"`)
		b.attr("x", float64(width-6))
		b.attr("y", y(s)+13)
		b.WriteString(`>`)
		b.text(truncate(f.Label, 80))
		b.WriteString(`</text></g>`)
	}
	b.WriteString(`</g>`)

	b.WriteString(`<g class="axis">`)
	step := niceStep(70 / px)
	for t := math.Ceil(float64(t0)/step) * step; t <= float64(t1); t += step {
		b.WriteString(`<line class="tick" x1="0"`)
		b.attr("x2", float64(width))
		b.attr("y1", y(int64(t)))
		b.attr("y2", y(int64(t)))
		b.WriteString(`/><text class="tick"`)
		b.attr("x", axisWidth-8)
		b.attr("y", y(int64(t))+4)
		b.WriteString(`>`)
		b.text(seconds(time.Duration(t) * time.Microsecond))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</g>`)

	b.WriteString(`<g class="lanes">`)
	for i, l := range ls {
		b.WriteString(`<line class="lane `)
		b.WriteString(l.kind.class())
		b.WriteString(`"`)
		b.sattr("data-p", l.name)
		b.attr("x1", x(i))
		b.attr("x2", x(i))
		b.attr("y1", 0)
		b.attr("y2", float64(height))
		b.WriteString(`/>`)
	}
	b.WriteString(`</g>`)

	// Violations: the operation's span on its client's lane, and a line
	// across the diagram at the moment the checker names.
	b.WriteString(`<g class="foci">`)
	for _, f := range foci {
		if i, ok := index[f.client]; ok && f.hasSpan {
			b.WriteString(`<rect class="opspan"`)
			b.iattr("data-s", micros(f.start))
			b.iattr("data-e", micros(f.end))
			b.attr("x", x(i)-5)
			b.attr("y", y(micros(f.start)))
			b.attr("width", 10)
			b.attr("height", max(2, y(micros(f.end))-y(micros(f.start))))
			b.WriteString(`><title>`)
			b.text(f.what)
			b.WriteString(`</title></rect>`)
		}
		b.WriteString(`<g class="vmark"`)
		b.iattr("data-s", micros(f.at))
		b.WriteString(`><line`)
		b.attr("x1", axisWidth)
		b.attr("x2", float64(width))
		b.attr("y1", y(micros(f.at)))
		b.attr("y2", y(micros(f.at)))
		b.WriteString(`/><text`)
		b.attr("x", axisWidth+4)
		b.attr("y", y(micros(f.at))-4)
		b.WriteString(`>`)
		b.text("⚠ " + truncate(f.what, 80))
		b.WriteString(`</text></g>`)
	}
	b.WriteString(`</g>`)

	b.WriteString(`<g class="msgs">`)
	for _, m := range msgs {
		typ, lbl := describe(m)
		a, bi := index[m.Src], index[m.Dest]
		x1, x2 := x(a), x(bi)
		if a == bi {
			x2 = x1 + laneWidth*0.4 // a message to oneself still needs a visible arrow
		}
		y1 := y(micros(m.Sent))
		class := msgKind(m, typ, kinds)
		hl := highlighted(m, foci)
		var y2 float64
		b.WriteString(`<g class="m `)
		b.WriteString(class)
		if hl {
			b.WriteString(` hl`)
		}
		if delivered(m) {
			y2 = y(micros(m.Received))
		} else {
			b.WriteString(` dropped`)
			x2 = x1 + (x2-x1)*dropStub
			y2 = y1 + dropDrop
		}
		b.WriteString(`"`)
		b.iattr("data-s", micros(m.Sent))
		if delivered(m) {
			b.iattr("data-r", micros(m.Received))
		}
		b.iattr("data-a", int64(a))
		b.iattr("data-b", int64(bi))
		if a == bi {
			b.WriteString(` data-self="1"`)
		}
		b.WriteString(`><line`)
		if delivered(m) {
			b.WriteString(` class="arrow"`)
			mk := class
			if hl {
				mk = "hl"
			}
			b.WriteString(` marker-end="url(#ah-` + mk + `)"`)
		} else {
			b.WriteString(` class="stub"`)
		}
		b.attr("x1", x1)
		b.attr("y1", y1)
		b.attr("x2", x2)
		b.attr("y2", y2)
		b.WriteString(`/>`)
		if !delivered(m) {
			b.WriteString(`<path class="x" d="M-4,-4L4,4M-4,4L4,-4" transform="translate(`)
			b.num(x2)
			b.WriteByte(',')
			b.num(y2)
			b.WriteString(`)"/>`)
		}
		mx, my := (x1+x2)/2, (y1+y2)/2
		angle := math.Atan2(y2-y1, x2-x1) * 180 / math.Pi
		if angle > 90 {
			angle -= 180
		}
		b.WriteString(`<text class="lbl"`)
		b.attr("x", mx)
		b.attr("y", my-3)
		b.WriteString(` transform="rotate(`)
		b.num(angle)
		b.WriteByte(' ')
		b.num(mx)
		b.WriteByte(' ')
		b.num(my)
		b.WriteString(`)">`)
		b.text(lbl)
		b.WriteString(`</text><title>`)
		b.text(fullJSON(m))
		switch {
		case m.Dropped:
			b.text(" — dropped")
		case !delivered(m):
			b.text(" — not delivered before the run ended")
		}
		b.WriteString(`</title></g>`)
	}
	b.WriteString(`</g><line class="cursor" x1="0" x2="0" y1="0" y2="0"/></svg>`)
	d.SVG = b.html()
	return d
}

// highlighted reports whether m belongs to an operation a violation names:
// sent to or from its client while the operation was open.
func highlighted(m Message, foci []focus) bool {
	for _, f := range foci {
		if !f.hasSpan || (m.Src != f.client && m.Dest != f.client) {
			continue
		}
		if m.Sent >= f.start && m.Sent <= f.end {
			return true
		}
	}
	return false
}
