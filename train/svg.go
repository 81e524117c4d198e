package train

import (
	"fmt"
	"math"
	"strings"

	"ragtune/model"
)

// WriteLossSVG draws the training loss per step (and validation loss
// points, when logged) as a self-contained SVG file.
func WriteLossSVG(path string, log []LogEntry) error {
	const W, H, L, R, T, B = 640.0, 360.0, 60.0, 20.0, 30.0, 40.0
	var tr, va [][2]float64
	for _, e := range log {
		if e.ValLoss != 0 {
			va = append(va, [2]float64{float64(e.Step), e.ValLoss})
		} else if e.Loss != 0 && finite(e.Loss) {
			tr = append(tr, [2]float64{float64(e.Step), e.Loss})
		}
	}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range append(append([][2]float64(nil), tr...), va...) {
		x0, x1 = math.Min(x0, p[0]), math.Max(x1, p[0])
		y0, y1 = math.Min(y0, p[1]), math.Max(y1, p[1])
	}
	if math.IsInf(x0, 1) {
		x0, x1, y0, y1 = 0, 1, 0, 1
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	if y1 == y0 {
		y1 = y0 + 1
	}
	pad := (y1 - y0) * 0.05
	y0, y1 = math.Max(0, y0-pad), y1+pad
	px := func(x float64) float64 { return L + (x-x0)/(x1-x0)*(W-L-R) }
	py := func(y float64) float64 { return H - B - (y-y0)/(y1-y0)*(H-T-B) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="18" font-size="14">Loss by step</text>`+"\n", L)
	for i := 0; i <= 4; i++ {
		y := y0 + (y1-y0)*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%.3g</text>`+"\n", L, W-R, py(y), py(y), L-6, py(y)+4, y)
		x := x0 + (x1-x0)*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%.0f</text>`+"\n", px(x), H-B+16, x)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">step</text>`+"\n", (L+W-R)/2, H-6)
	poly := func(pts [][2]float64, color string) {
		if len(pts) == 0 {
			return
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="`, color)
		for _, p := range pts {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(p[0]), py(p[1]))
		}
		b.WriteString("\"/>\n")
	}
	poly(tr, "#1f77b4")
	poly(va, "#d62728")
	for _, p := range va {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#d62728"/>`+"\n", px(p[0]), py(p[1]))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" fill="#1f77b4">training</text>`, W-R-140, T+4)
	if len(va) > 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" fill="#d62728">validation</text>`, W-R-70, T+4)
	}
	b.WriteString("\n</svg>\n")
	if err := model.WriteFileAtomic(path, []byte(b.String())); err != nil {
		return fmt.Errorf("write loss plot: %w", err)
	}
	return nil
}
