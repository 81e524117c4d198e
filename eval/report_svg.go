package eval

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Chart colours: distinct in colour and, for print, in lightness.
var palette = []string{"#1f5fa8", "#e08a2e", "#3a9a5b", "#8e4fa8", "#c23b3b", "#6b6b6b"}

// Series is one named row of values, one per category.
type Series struct {
	Name   string
	Values []float64
}

// niceMax rounds v up to 1, 2, 2.5 or 5 times a power of ten, for axis
// ticks people can read.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// BarChart draws grouped vertical bars: one group per category, one bar
// per series, each labelled with its value. fixedMax > 0 fixes the axis
// (100 for percentages).
func BarChart(title string, cats []string, series []Series, unit string, fixedMax float64) template.HTML {
	const W, H, left, right, top, bottom = 460, 270, 48, 12, 34, 56
	vmax := fixedMax
	if vmax <= 0 {
		for _, s := range series {
			for _, v := range s.Values {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					vmax = math.Max(vmax, v)
				}
			}
		}
		vmax = niceMax(vmax)
	}
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, W, H, W, H, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="ct">%s`, left, html.EscapeString(title))
	if unit != "" {
		fmt.Fprintf(&b, ` <tspan class="unit">(%s)</tspan>`, html.EscapeString(unit))
	}
	b.WriteString(`</text>`)
	for i := 0; i <= 4; i++ {
		v := vmax * float64(i) / 4
		y := float64(top) + ph - ph*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, left, W-right, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>`, left-4, y+4, fmtNum(v))
	}
	n := max(len(cats), 1)
	gw := pw / float64(n)
	bw := math.Min(40, gw*0.8/float64(max(len(series), 1)))
	for ci, c := range cats {
		gx := float64(left) + gw*float64(ci) + (gw-bw*float64(len(series)))/2
		for si, s := range series {
			if ci >= len(s.Values) {
				continue
			}
			v := s.Values[ci]
			x := gx + bw*float64(si)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="val" text-anchor="middle">n/a</text>`, x+bw/2, float64(top)+ph-4)
				continue
			}
			h := math.Max(0, math.Min(v, vmax)) / vmax * ph
			y := float64(top) + ph - h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
				x+1, y, bw-2, math.Max(h, 0.5), palette[si%len(palette)], html.EscapeString(s.Name), fmtNum(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="val" text-anchor="middle">%s</text>`, x+bw/2, y-3, fmtNum(v))
		}
		cx := float64(left) + gw*(float64(ci)+0.5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="cat" text-anchor="middle">`, cx, H-bottom+16)
		for li, line := range wrapLabel(c, gw-4) {
			fmt.Fprintf(&b, `<tspan x="%.1f" dy="%d">%s</tspan>`, cx, min(li, 1)*14, html.EscapeString(line))
		}
		b.WriteString(`</text>`)
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" class="axis"/>`, left, W-right, top+int(ph), top+int(ph))
	legend(&b, series, left, H-14)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func legend(b *strings.Builder, series []Series, x, y int) {
	if len(series) < 2 {
		return
	}
	for i, s := range series {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="leg">%s</text>`,
			x, y-9, palette[i%len(palette)], x+14, y, html.EscapeString(s.Name))
		x += 24 + 8*runeLen(s.Name) + 6*countWide(s.Name)
	}
}

// countWide counts characters drawn about twice as wide (CJK).
func countWide(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x2e80 {
			n++
		}
	}
	return n
}

// Line is one curve of a LineChart.
type Line struct {
	Name string
	X, Y []float64
}

// LineChart draws curves over a shared x axis (training steps) with a
// y axis from the data's minimum to its maximum.
func LineChart(title, xLabel string, lines []Line) template.HTML {
	const W, H, left, right, top, bottom = 460, 270, 52, 14, 34, 56
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for i := range l.X {
			xmin, xmax = math.Min(xmin, l.X[i]), math.Max(xmax, l.X[i])
			ymin, ymax = math.Min(ymin, l.Y[i]), math.Max(ymax, l.Y[i])
		}
	}
	if math.IsInf(xmin, 0) {
		return ""
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if ymax == ymin {
		ymax, ymin = ymax+0.5, ymin-0.5
	}
	pad := (ymax - ymin) * 0.05
	if ymin >= 0 {
		// Losses and perplexities are never negative: no axis below 0.
		ymin = math.Max(0, ymin-pad)
	} else {
		ymin -= pad
	}
	ymax += pad
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	px := func(x float64) float64 { return float64(left) + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return float64(top) + ph - (y-ymin)/(ymax-ymin)*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, W, H, W, H, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="ct">%s</text>`, left, html.EscapeString(title))
	for i := 0; i <= 4; i++ {
		v := ymin + (ymax-ymin)*float64(i)/4
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, left, W-right, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>`, left-4, y+4, fmtNum(v))
		xv := xmin + (xmax-xmin)*float64(i)/4
		xs := fmtNum(xv)
		if xmax-xmin >= 8 { // steps: whole numbers read better
			xs = fmt.Sprintf("%.0f", xv)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, px(xv), H-bottom+16, xs)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="cat" text-anchor="middle">%s</text>`, float64(left)+pw/2, H-bottom+32, html.EscapeString(xLabel))
	series := make([]Series, len(lines))
	for li, l := range lines {
		series[li] = Series{Name: l.Name}
		var pts []string
		for i := range l.X {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(l.X[i]), py(l.Y[i])))
		}
		c := palette[li%len(palette)]
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), c)
		if len(pts) <= 40 {
			for i := range l.X {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, px(l.X[i]), py(l.Y[i]), c)
			}
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="axis"/>`, left, W-right, float64(top)+ph, float64(top)+ph)
	legend(&b, series, left, H-6)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// textWidth estimates the drawn width of a 12px label: about 7px per
// Latin character, 12px per CJK one.
func textWidth(s string) float64 {
	return 7*float64(runeLen(s)-countWide(s)) + 12*float64(countWide(s))
}

// wrapLabel breaks a category label at spaces into lines that fit width
// (a single word may still overflow).
func wrapLabel(s string, width float64) []string {
	if textWidth(s) <= width {
		return []string{s}
	}
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && textWidth(cur+" "+w) > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	return append(lines, cur)
}
