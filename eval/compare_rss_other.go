//go:build !linux

package eval

const peakRSSMethod = "not measured on this system"

func resetPeakRSS() {}

func peakRSS() int64 { return 0 }
