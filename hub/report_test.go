package hub

import (
	"strings"
	"testing"
	"time"
)

func TestWriteFileList(t *testing.T) {
	var b strings.Builder
	WriteFileList(&b, []File{
		{Path: "config.json", Size: 700},
		{Path: "model.safetensors", Size: 3 << 20, SHA256: "0123456789abcdef0123"},
		{Path: "unknown.bin", Size: -1},
	})
	want := "       700 B  config.json\n" +
		"     3.0 MiB  model.safetensors  sha256 0123456789ab…\n" +
		"         0 B  unknown.bin\n" +
		"3 files, 3.0 MiB\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestResultWriteSummary(t *testing.T) {
	r := &Result{Dir: "r1", Commit: "abc123", Files: []File{{Size: 1 << 20}, {Size: -1}}, Downloaded: 1, Skipped: 1, Bytes: 1 << 20}
	var b strings.Builder
	r.WriteSummary(&b, "deepseek-ai/R1", 2*time.Second)
	want := "pulled deepseek-ai/R1 at commit abc123 into r1: 2 files (1.0 MiB), 1 downloaded, 1 already present; 1.0 MiB transferred in 2s (512.0 KiB/s)\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	(&Result{Dir: "d"}).WriteSummary(&b, "o/n", 0)
	if got := b.String(); got != "pulled o/n into d: 0 files (0 B), 0 downloaded, 0 already present; 0 B transferred in 0s\n" {
		t.Errorf("empty pull: %q", got)
	}
}
