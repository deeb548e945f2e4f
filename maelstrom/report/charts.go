package report

import (
	"fmt"
	"html/template"
	"math"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// Chart geometry in pixels.
const (
	chartW      = 900
	chartH      = 230
	chartLeft   = 66
	chartRight  = 150 // room for the legend
	chartTop    = 12
	chartBottom = 30
	// maxPoints keeps a latency chart light; beyond it points are sampled
	// evenly, failures and unknowns first so that none of them is lost.
	maxPoints = 4000
)

type chart struct {
	Title string
	Note  string
	SVG   template.HTML
}

// plot maps run time and a value onto a chart's plotting area.
type plot struct {
	b        *svgBuf
	t1       float64 // seconds at the right edge
	ylo, yhi float64
	innerW   float64
	innerH   float64
	logY     bool
}

func (p plot) x(t time.Duration) float64 {
	return chartLeft + t.Seconds()/p.t1*p.innerW
}

func (p plot) y(v float64) float64 {
	if p.logY {
		v = math.Log10(math.Max(v, 1e-12))
	}
	f := (v - p.ylo) / (p.yhi - p.ylo)
	return chartTop + (1-f)*p.innerH
}

func newPlot(b *svgBuf, dur time.Duration, ylo, yhi float64, logY bool) plot {
	t1 := dur.Seconds()
	if t1 <= 0 {
		t1 = 1
	}
	if yhi <= ylo {
		yhi = ylo + 1
	}
	return plot{b: b, t1: t1, ylo: ylo, yhi: yhi, innerW: chartW - chartLeft - chartRight,
		innerH: chartH - chartTop - chartBottom, logY: logY}
}

// open starts the svg with the faults shaded and both axes drawn.
func (p plot) open(id string, faults []Interval, yTicks []float64, yLabel func(float64) string) {
	b := p.b
	b.WriteString(`<svg class="chart" xmlns="http://www.w3.org/2000/svg"`)
	b.sattr("id", id)
	b.iattr("width", chartW)
	b.iattr("height", chartH)
	b.WriteString(` viewBox="0 0 900 230">`)
	right := chartLeft + p.innerW
	for _, f := range faults {
		end := f.End
		if end <= f.Start {
			end = time.Duration(p.t1 * float64(time.Second))
		}
		x0 := math.Max(p.x(f.Start), chartLeft)
		x1 := math.Min(p.x(end), right)
		if x1 < x0 {
			continue
		}
		b.WriteString(`<rect class="fault"`)
		b.attr("x", x0)
		b.attr("y", chartTop)
		b.attr("width", math.Max(x1-x0, 1))
		b.attr("height", p.innerH)
		b.WriteString(`><title>`)
		b.text(f.Label)
		b.WriteString(`</title></rect>`)
		if x1-x0 > 40 {
			// Only as much of the label as fits over the band.
			b.WriteString(`<text class="fault-label"`)
			b.attr("x", x0+4)
			b.attr("y", chartTop+12)
			b.WriteString(`>`)
			b.text(truncate(f.Label, int((x1-x0)/6.5)))
			b.WriteString(`</text>`)
		}
	}
	b.WriteString(`<g class="axis">`)
	for _, v := range yTicks {
		y := p.y(v)
		b.WriteString(`<line class="grid"`)
		b.attr("x1", chartLeft)
		b.attr("x2", right)
		b.attr("y1", y)
		b.attr("y2", y)
		b.WriteString(`/><text class="ytick"`)
		b.attr("x", chartLeft-6)
		b.attr("y", y+4)
		b.WriteString(`>`)
		b.text(yLabel(v))
		b.WriteString(`</text>`)
	}
	step := niceStep(p.t1 / 10)
	for t := 0.0; t <= p.t1+1e-9; t += step {
		x := chartLeft + t/p.t1*p.innerW
		b.WriteString(`<text class="xtick"`)
		b.attr("x", x)
		b.attr("y", chartH-10)
		b.WriteString(`>`)
		b.text(fmt.Sprintf("%gs", math.Round(t*1000)/1000))
		b.WriteString(`</text>`)
	}
	b.WriteString(`<rect class="frame"`)
	b.attr("x", chartLeft)
	b.attr("y", chartTop)
	b.attr("width", p.innerW)
	b.attr("height", p.innerH)
	b.WriteString(`/></g>`)
}

// legend adds entry i: a dot of the given class, or a line of the given
// colour (dashed if asked) when class is empty.
func (p plot) legend(i int, class, colour string, dashed bool, label string) {
	b := p.b
	y := float64(chartTop + 10 + 18*i)
	x := float64(chartW - chartRight + 14)
	b.WriteString(`<g class="legend">`)
	if class != "" {
		b.WriteString(`<circle r="4"`)
		b.sattr("class", class)
		b.attr("cx", x)
		b.attr("cy", y)
		b.WriteString(`/>`)
	} else {
		b.WriteString(`<line class="rate"`)
		b.sattr("stroke", colour)
		if dashed {
			b.WriteString(` stroke-dasharray="4 3"`)
		}
		b.attr("x1", x-8)
		b.attr("x2", x+4)
		b.attr("y1", y)
		b.attr("y2", y)
		b.WriteString(`/>`)
	}
	b.WriteString(`<text`)
	b.attr("x", x+10)
	b.attr("y", y+4)
	b.WriteString(`>`)
	b.text(label)
	b.WriteString(`</text></g>`)
}

// durLabel names a power of ten seconds: 1µs, 10ms, 1s.
func durLabel(exp float64) string {
	return time.Duration(math.Pow(10, exp) * float64(time.Second)).Round(time.Microsecond).String()
}

// latencyCharts draws, per operation type, every completed operation at
// its invocation time against its latency on a log axis.
func latencyCharts(in Input, pairs []history.Pair, fs []string) []chart {
	var out []chart
	dur := runEnd(in)
	for _, f := range fs {
		var pts []history.Pair
		var byOutcome [3][]history.Pair // fail, info, ok: kept in that order when sampling
		for _, p := range pairs {
			if p.Invoke.F != f || p.Completion == nil {
				continue
			}
			switch p.Outcome() {
			case history.Fail:
				byOutcome[0] = append(byOutcome[0], p)
			case history.OK:
				byOutcome[2] = append(byOutcome[2], p)
			default:
				byOutcome[1] = append(byOutcome[1], p)
			}
		}
		total := len(byOutcome[0]) + len(byOutcome[1]) + len(byOutcome[2])
		if total == 0 {
			continue
		}
		room := maxPoints
		for _, g := range byOutcome {
			pts = append(pts, sample(g, room)...)
			room = max(0, maxPoints-len(pts))
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range pts {
			l := latency(p)
			lo, hi = math.Min(lo, l), math.Max(hi, l)
		}
		ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if yhi <= ylo {
			yhi = ylo + 1
		}
		var b svgBuf
		pl := newPlot(&b, dur, ylo, yhi, true)
		var ticks []float64
		for e := ylo; e <= yhi; e++ {
			ticks = append(ticks, math.Pow(10, e))
		}
		pl.open("latency-"+f, in.Faults, ticks, func(v float64) string { return durLabel(math.Log10(v)) })
		b.WriteString(`<g class="points">`)
		for _, p := range pts {
			b.WriteString(`<circle r="2.2"`)
			b.sattr("class", "pt "+string(p.Outcome()))
			b.attr("cx", pl.x(p.Invoke.Time))
			b.attr("cy", pl.y(latency(p)))
			b.WriteString(`><title>`)
			b.text(truncate(opString(*p.Completion), 200) + " — " + time.Duration(latency(p)*float64(time.Second)).String())
			b.WriteString(`</title></circle>`)
		}
		b.WriteString(`</g>`)
		for i, o := range []history.Type{history.OK, history.Fail, history.Info} {
			pl.legend(i, "pt "+string(o), "", false, string(o))
		}
		b.WriteString(`</svg>`)
		c := chart{Title: "Latency of " + f, SVG: b.html()}
		if len(pts) < total {
			c.Note = fmt.Sprintf("%d of %d operations drawn, evenly sampled.", len(pts), total)
		}
		out = append(out, c)
	}
	return out
}

// latency in seconds, at least a microsecond so that the log axis holds it.
func latency(p history.Pair) float64 {
	return math.Max((p.Completion.Time - p.Invoke.Time).Seconds(), 1e-6)
}

// sample keeps at most n of ps, evenly spread.
func sample(ps []history.Pair, n int) []history.Pair {
	if len(ps) <= n {
		return ps
	}
	out := make([]history.Pair, 0, n)
	for i := range n {
		out = append(out, ps[i*len(ps)/n])
	}
	return out
}

// runEnd is the chart's time span: the run's duration, or the last
// history or message time when the duration was not given.
func runEnd(in Input) time.Duration {
	end := in.Duration
	for _, o := range in.History {
		end = max(end, o.Time)
	}
	return end
}

// throughputChart draws completions per second for each operation type,
// ok ones solid and the rest (fail and info) dashed.
func throughputChart(in Input, pairs []history.Pair, fs []string) *chart {
	if len(fs) == 0 {
		return nil
	}
	dur := runEnd(in)
	bucket := time.Second
	if dur < 10*time.Second {
		// Short runs get finer buckets; the rate stays per second.
		bucket = time.Duration(niceStep(dur.Seconds()/20) * float64(time.Second))
		bucket = max(bucket, time.Millisecond)
	}
	n := int(dur/bucket) + 1
	type series struct{ ok, other []float64 }
	byF := map[string]*series{}
	for _, f := range fs {
		byF[f] = &series{ok: make([]float64, n), other: make([]float64, n)}
	}
	perSec := float64(time.Second) / float64(bucket)
	peak := 0.0
	for _, p := range pairs {
		if p.Completion == nil {
			continue
		}
		s := byF[p.Invoke.F]
		if s == nil {
			continue
		}
		i := min(int(p.Completion.Time/bucket), n-1)
		if p.Outcome() == history.OK {
			s.ok[i] += perSec
			peak = math.Max(peak, s.ok[i])
		} else {
			s.other[i] += perSec
			peak = math.Max(peak, s.other[i])
		}
	}
	step := niceStep(math.Max(peak, 1) / 4)
	top := math.Ceil(math.Max(peak, 1)/step) * step
	var b svgBuf
	pl := newPlot(&b, dur, 0, top, false)
	var ticks []float64
	for v := 0.0; v <= top+1e-9; v += step {
		ticks = append(ticks, v)
	}
	pl.open("throughput", in.Faults, ticks, func(v float64) string { return fmt.Sprintf("%g/s", v) })
	line := func(vals []float64, colour string, dashed bool) {
		b.WriteString(`<polyline class="rate"`)
		b.sattr("stroke", colour)
		if dashed {
			b.WriteString(` stroke-dasharray="4 3"`)
		}
		b.WriteString(` points="`)
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(' ')
			}
			// The last bucket may be cut short by the end of the run.
			b.num(pl.x(min(time.Duration(i)*bucket+bucket/2, dur)))
			b.WriteByte(',')
			b.num(pl.y(v))
		}
		b.WriteString(`"/>`)
	}
	row := 0
	for i, f := range fs {
		s := byF[f]
		colour := seriesColour(i)
		line(s.ok, colour, false)
		pl.legend(row, "", colour, false, f+" ok")
		row++
		if anyNonZero(s.other) {
			line(s.other, colour, true)
			pl.legend(row, "", colour, true, f+" fail/info")
			row++
		}
	}
	b.WriteString(`</svg>`)
	return &chart{Title: "Throughput (completions per second)", SVG: b.html(),
		Note: fmt.Sprintf("Counted in %s buckets.", bucket)}
}

func anyNonZero(vs []float64) bool {
	for _, v := range vs {
		if v != 0 {
			return true
		}
	}
	return false
}
