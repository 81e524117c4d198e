// Package bytesize prints byte counts the one way ragtune's commands and
// reports do: binary units, two decimals for GiB, one for MiB and KiB,
// whole bytes below 1 KiB. OfPath measures what a file or a model
// directory weighs on disk, for those same lines.
package bytesize

import "fmt"

// Format returns n with a binary unit ("512 B", "1.5 KiB", "3.2 MiB",
// "1.07 GiB").
func Format(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
