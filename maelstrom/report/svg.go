package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The SVG parts are built as text rather than through html/template: a
// diagram holds tens of thousands of elements and the template engine's
// per-value escaping dominates the cost. Everything that comes from the run
// goes through esc, which escapes for both text and quoted attributes.

// esc escapes s for XML text and double- or single-quoted attributes.
func esc(s string) string { return template.HTMLEscapeString(s) }

// svgBuf accumulates SVG markup.
type svgBuf struct{ strings.Builder }

// num appends a coordinate with one decimal, enough for pixels.
func (b *svgBuf) num(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	var tmp [32]byte
	b.Write(strconv.AppendFloat(tmp[:0], math.Round(f*10)/10, 'f', -1, 64))
}

// attr appends ` name="value"` for a numeric value.
func (b *svgBuf) attr(name string, f float64) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	b.num(f)
	b.WriteByte('"')
}

// iattr appends ` name="value"` for an integer value.
func (b *svgBuf) iattr(name string, v int64) {
	var tmp [24]byte
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	b.Write(strconv.AppendInt(tmp[:0], v, 10))
	b.WriteByte('"')
}

// sattr appends ` name="value"` with value escaped.
func (b *svgBuf) sattr(name, v string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	b.WriteString(esc(v))
	b.WriteByte('"')
}

// text appends escaped character data.
func (b *svgBuf) text(s string) { b.WriteString(esc(s)) }

// html returns the markup for the page template, which must not escape it
// again. Safe because every run-supplied string went through esc.
func (b *svgBuf) html() template.HTML { return template.HTML(b.String()) }

// strconvFloat formats a scale factor for the script.
func strconvFloat(f float64) string { return strconv.FormatFloat(f, 'g', 8, 64) }

// micros is the unit of times handed to the page's script: whole
// microseconds are precise enough and keep the numbers short.
func micros(d time.Duration) int64 { return d.Microseconds() }

// seconds formats a duration like the history does: 12.345s.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	return string([]rune(s)[:n-1]) + "…"
}

// compactValue renders any op value or JSON fragment on one line.
func compactValue(v any) string {
	if v == nil {
		return "nil"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	bs, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(bs)
}

// opString renders an op like history.Op.String, but with the value as
// JSON: the history's %v prints pointers in values (lin-kv's KV) as <nil>
// or addresses, which means nothing to a learner.
func opString(o history.Op) string { return o.Format(compactValue) }

// niceStep picks a 1-2-5 step of at least min.
func niceStep(min float64) float64 {
	if min <= 0 || math.IsNaN(min) || math.IsInf(min, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(min)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= min {
			return m * p
		}
	}
	return 10 * p
}

// seriesColour colours series that have no meaning of their own (op types).
func seriesColour(i int) string {
	return [...]string{"#1f77b4", "#9467bd", "#2ca02c", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#e377c2"}[i%8]
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
