package plural

import "testing"

func TestCount(t *testing.T) {
	tests := []struct {
		n    int
		one  string
		many []string
		want string
	}{
		{1, "chunk", nil, "1 chunk"},
		{0, "chunk", nil, "0 chunks"},
		{2, "window", nil, "2 windows"},
		{3, "batch", nil, "3 batches"},
		{2, "query", nil, "2 queries"},
		{2, "day", nil, "2 days"},
		{4, "pass", nil, "4 passes"},
		{2, "datum", []string{"data"}, "2 data"},
		{1, "datum", []string{"data"}, "1 datum"},
	}
	for _, tc := range tests {
		if got := Count(tc.n, tc.one, tc.many...); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.one, got, tc.want)
		}
	}
}
