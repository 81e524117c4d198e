//go:build !linux

package rss

// Method says how Peak measures, for reports that print it.
const Method = "not measured on this system"

// ResetPeak does nothing where Peak measures nothing.
func ResetPeak() {}

// Peak returns 0: unknown on this system.
func Peak() int64 { return 0 }
