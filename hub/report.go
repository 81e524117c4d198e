package hub

import (
	"fmt"
	"io"
	"time"

	"ragtune/internal/bytesize"
	"ragtune/internal/plural"
)

// WriteFileList writes one line per file — size, path and, where the hub
// gave one, the start of its SHA-256 — and the totals, as 'ragtune model
// pull --list' shows a repository.
func WriteFileList(w io.Writer, files []File) {
	var total int64
	for _, f := range files {
		sum := ""
		if f.SHA256 != "" {
			sum = "  sha256 " + f.SHA256[:min(12, len(f.SHA256))] + "…"
		}
		fmt.Fprintf(w, "%12s  %s%s\n", bytesize.Format(max(f.Size, 0)), f.Path, sum)
		total += max(f.Size, 0)
	}
	fmt.Fprintf(w, "%s, %s\n", plural.Count(len(files), "file"), bytesize.Format(total))
}

// WriteSummary writes one line on a finished pull of repo that took
// elapsed: the commit, the files and their size, how many were
// downloaded or already present, and the bytes transferred (with the
// rate).
func (r *Result) WriteSummary(w io.Writer, repo string, elapsed time.Duration) {
	var total int64
	for _, f := range r.Files {
		if f.Size > 0 {
			total += f.Size
		}
	}
	commit := ""
	if r.Commit != "" {
		commit = " at commit " + r.Commit
	}
	fmt.Fprintf(w, "pulled %s%s into %s: %s (%s), %d downloaded, %d already present; %s transferred in %s",
		repo, commit, r.Dir, plural.Count(len(r.Files), "file"), bytesize.Format(total), r.Downloaded, r.Skipped, bytesize.Format(r.Bytes), elapsed.Round(time.Second))
	if s := elapsed.Seconds(); s > 0 && r.Bytes > 0 {
		fmt.Fprintf(w, " (%s/s)", bytesize.Format(int64(float64(r.Bytes)/s)))
	}
	fmt.Fprintln(w)
}
