package main

import (
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/shmchan/shmchan/bench"
)

// Charts: log-log lines of a metric against message size, one line per
// transport, in panels side by side with a legend panel.

// palette gives each transport the same colour and dash in every chart.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, // blue
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, // orange
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, // green
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, // purple
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, // red
	color.RGBA{0x8c, 0x56, 0x4b, 0xff}, // brown
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, // pink
	color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, // grey
	color.RGBA{0xbc, 0xbd, 0x22, 0xff}, // olive
	color.RGBA{0x17, 0xbe, 0xcf, 0xff}, // cyan
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // black
	color.RGBA{0xb8, 0x86, 0x0b, 0xff}, // dark gold
}

func styleOf(tr string) (color.Color, []vg.Length) {
	all := append(append([]string{}, bench.PingPongTransports...), bench.Floors...)
	all = append(all, "memcpy")
	for i, t := range all {
		if t == tr {
			var dash []vg.Length
			if i >= len(bench.PingPongTransports) {
				dash = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			if tr == "gochan" || tr == "streaming" {
				dash = []vg.Length{vg.Points(1.5), vg.Points(2)}
			}
			return palette[i%len(palette)], dash
		}
	}
	return color.Black, nil
}

// series is one line.
type series struct {
	name string
	xys  plotter.XYs
}

// collect returns one series per transport of a metric over the sizes.
func collect(rs *results, benchName string, transports []string, unit string, scale float64) []series {
	var out []series
	for _, tr := range transports {
		var xys plotter.XYs
		for _, size := range bench.Sizes {
			v, ok := rs.metric(benchName, tr, size, unit)
			if ok && v > 0 && !math.IsNaN(v) {
				xys = append(xys, plotter.XY{X: float64(size), Y: v * scale})
			}
		}
		if len(xys) > 0 {
			out = append(out, series{tr, xys})
		}
	}
	return out
}

// flat returns a horizontal series at y across the sizes (a floor).
func flat(name string, y float64) []series {
	if math.IsNaN(y) || y <= 0 {
		return nil
	}
	first, last := float64(bench.Sizes[0]), float64(bench.Sizes[len(bench.Sizes)-1])
	return []series{{name, plotter.XYs{{X: first, Y: y}, {X: last, Y: y}}}}
}

// sizeTicks labels the x axis with the benchmark sizes.
type sizeTicks struct{}

func (sizeTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, s := range bench.Sizes {
		if float64(s) >= min && float64(s) <= max {
			ts = append(ts, plot.Tick{Value: float64(s), Label: sizeLabel(s)})
		}
	}
	return ts
}

// unitTicks are log ticks at powers of ten, labelled by format.
type unitTicks struct{ format func(float64) string }

func (u unitTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.LogTicks{Prec: -1}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = u.format(ts[i].Value)
		}
	}
	return ts
}

// tidy drops the zeros that sig3 pads a round tick value with.
func tidy(s string) string {
	num, unit, _ := strings.Cut(s, " ")
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	if unit == "" {
		return num
	}
	return num + " " + unit
}

// panel makes one log-log plot of the series, with y ticks labelled by
// yformat.
func panel(title string, yformat func(float64) string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "message size"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = sizeTicks{}
	p.Y.Tick.Marker = unitTicks{func(v float64) string { return tidy(yformat(v)) }}
	p.Add(plotter.NewGrid())
	for _, s := range ss {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, err
		}
		c, dash := styleOf(s.name)
		l.Color, l.Dashes, l.Width = c, dash, vg.Points(1.5)
		pts.Color, pts.Radius = c, vg.Points(2)
		p.Add(l, pts)
	}
	return p, nil
}

// legend makes a panel that holds only the legend of the series.
func legend(ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.HideAxes()
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	for _, s := range ss {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}})
		if err != nil {
			return nil, err
		}
		c, dash := styleOf(s.name)
		l.Color, l.Dashes, l.Width = c, dash, vg.Points(2)
		p.Legend.Add(s.name+"  "+shortDescription(s.name), l)
	}
	return p, nil
}

func shortDescription(tr string) string {
	switch tr {
	case "floor-atomic", "floor-futex":
		return "(floor)"
	case "gochan":
		return "(in one process)"
	case "streaming":
		return "(lossy baseline)"
	case "memcpy":
		return "(one core)"
	}
	return ""
}

// save draws the plots side by side into an SVG file, or a PNG file if
// path ends in ".png".
func save(path string, width, height vg.Length, plots []*plot.Plot) error {
	var c vg.CanvasWriterTo
	if filepath.Ext(path) == ".png" {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(144), vgimg.UseBackgroundColor(color.White))}
	} else {
		c = vgsvg.New(width, height)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func latencyChart(rs *results, path string) error {
	var plots []*plot.Plot
	var all []series
	for _, q := range []struct{ title, unit string }{
		{"round trip, p50", "p50-ns"},
		{"round trip, p99", "p99-ns"},
		{"round trip, p99.9", "p99.9-ns"},
	} {
		ss := collect(rs, "PingPong", bench.PingPongTransports, q.unit, 1)
		for _, f := range bench.Floors {
			ss = append(ss, flat(f, rs.val("PingPong", f, 0, q.unit))...)
		}
		p, err := panel(q.title, ns, ss)
		if err != nil {
			return err
		}
		plots = append(plots, p)
		if len(ss) > len(all) {
			all = ss
		}
	}
	lp, err := legend(all)
	if err != nil {
		return err
	}
	plots = append(plots, lp)
	return save(path, 30*vg.Centimeter, 9*vg.Centimeter, plots)
}

func throughputChart(rs *results, path string) error {
	msgs := collect(rs, "Throughput", bench.ThroughputTransports, "msg/s", 1)
	bytes := collect(rs, "Throughput", bench.ThroughputTransports, "MB/s", 1)
	bytes = append(bytes, collect(rs, "Memcpy", []string{"memcpy"}, "MB/s", 1)...)
	p1, err := panel("one-way, messages per second", func(v float64) string { return count(v) + "/s" }, msgs)
	if err != nil {
		return err
	}
	p2, err := panel("one-way, bytes per second", bytesPerSec, bytes)
	if err != nil {
		return err
	}
	all := msgs
	if len(bytes) > len(all) {
		all = bytes
	}
	lp, err := legend(all)
	if err != nil {
		return err
	}
	return save(path, 26*vg.Centimeter, 9*vg.Centimeter, []*plot.Plot{p1, p2, lp})
}
