package main

import (
	"fmt"
	"math"
)

// sizeLabel writes a message size the way the issue does: 8 B, 64 B, 1 KiB.
func sizeLabel(n int) string {
	switch {
	case n == 0:
		return "0 B"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// sig3 formats v with three significant digits, without an exponent.
func sig3(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// ns formats nanoseconds.
func ns(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v >= 1e9:
		return sig3(v/1e9) + " s"
	case v >= 1e6:
		return sig3(v/1e6) + " ms"
	case v >= 1e3:
		return sig3(v/1e3) + " µs"
	}
	return fmt.Sprintf("%.0f ns", v)
}

// count formats a rate or a count with k/M/G.
func count(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v >= 1e9:
		return sig3(v/1e9) + " G"
	case v >= 1e6:
		return sig3(v/1e6) + " M"
	case v >= 1e3:
		return sig3(v/1e3) + " k"
	}
	return sig3(v)
}

// bytesPerSec formats go test's MB/s (10^6 bytes per second).
func bytesPerSec(mbps float64) string {
	switch {
	case math.IsNaN(mbps):
		return "—"
	case mbps >= 1000:
		return sig3(mbps/1000) + " GB/s"
	}
	return sig3(mbps) + " MB/s"
}

// pct formats a fraction as a percentage.
func pct(f float64) string {
	if math.IsNaN(f) {
		return "—"
	}
	if f != 0 && math.Abs(f) < 0.001 {
		return fmt.Sprintf("%.3f%%", 100*f)
	}
	return sig3(100*f) + "%"
}

// ratio formats a ratio as "12.3×".
func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return sig3(v) + "×"
}
