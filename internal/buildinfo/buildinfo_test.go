package buildinfo

import (
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		module   string
		settings map[string]string
		want     string
	}{
		{"v1.2.0", nil, "v1.2.0"},
		{"v0.0.0-20261203085133-21a69c8e6a65+dirty", map[string]string{"vcs.revision": "21a69c8e6a65f1021e030ba64cdf9744f030a845"}, "v0.0.0-20261203085133-21a69c8e6a65+dirty"},
		{"(devel)", map[string]string{"vcs.revision": "21a69c8e6a65f1021e030ba64cdf9744f030a845", "vcs.modified": "true", "vcs.time": "2026-12-03T08:51:33Z"}, "devel-21a69c8e6a65-dirty (committed 2026-12-03T08:51:33Z)"},
		{"(devel)", map[string]string{"vcs.revision": "21a69c8e6a65f1021e030ba64cdf9744f030a845", "vcs.modified": "false"}, "devel-21a69c8e6a65"},
		{"(devel)", nil, "devel (no commit recorded: go run, or a build with -buildvcs=false)"},
		{"", nil, "devel (no commit recorded: go run, or a build with -buildvcs=false)"},
	}
	for _, tc := range tests {
		if got := describe(tc.module, tc.settings); got != tc.want {
			t.Errorf("describe(%q, %v) = %q, want %q", tc.module, tc.settings, got, tc.want)
		}
	}
}

// The test binary has build info: Version never says "(devel)" bare.
func TestVersionIsNeverBareDevel(t *testing.T) {
	if v := Version(); v == "(devel)" || v == "" || strings.Contains(Short(), "(") {
		t.Errorf("Version %q, Short %q", v, Short())
	}
}
