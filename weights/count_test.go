package weights

import "testing"

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.0K", 369_888: "369.9K", 1_000_000: "1.00M",
		494_032_768: "494.03M", 1_543_714_304: "1.54B", 7_615_616_512: "7.62B"} {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
}
