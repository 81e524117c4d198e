// Package buildinfo names the build of the running binary from what the Go
// toolchain stamped into it, for `ragtune version` and the reports, so a
// figure can be traced to the code that produced it.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Version is the module version for `go install ragtune/cmd/ragtune@vX`
// (a tag, or a pseudo-version naming the commit, "+dirty" when the tree
// had uncommitted changes); else the commit that `go build` recorded in a
// checkout; else "devel", with the reason, for `go run` and builds with
// -buildvcs=false, which record no commit.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return describe("", nil)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	return describe(bi.Main.Version, settings)
}

// Short is Version without the explanation in parentheses, for one-line
// contexts such as a report's footer.
func Short() string {
	v, _, _ := strings.Cut(Version(), " (")
	return v
}

func describe(module string, settings map[string]string) string {
	if module != "" && module != "(devel)" {
		return module
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		return "devel (no commit recorded: go run, or a build with -buildvcs=false)"
	}
	v := "devel-" + rev[:min(12, len(rev))]
	if settings["vcs.modified"] == "true" {
		v += "-dirty"
	}
	if t := settings["vcs.time"]; t != "" {
		v += " (committed " + t + ")"
	}
	return v
}
