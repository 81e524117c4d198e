package tensor

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGeneratedFiles reruns every //go:generate line of kernels.go with
// its output sent to memory and compares it with the committed file, so a
// hand edit of the generated assembly, or a generator change whose output
// was not committed, fails here ('go generate ./tensor/...' fixes the second).
func TestGeneratedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generator; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH to run the generator")
	}
	src, err := os.ReadFile("kernels.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(src), "\n") {
		args, ok := strings.CutPrefix(line, "//go:generate ")
		if !ok {
			continue
		}
		f := strings.Fields(args)
		if len(f) < 2 || f[len(f)-2] != "-o" {
			t.Fatalf("kernels.go: %q: want a command ending in -o FILE", line)
		}
		file := f[len(f)-1]
		cmd := exec.Command(f[0], f[1:len(f)-2]...)
		// The generator runs on the host: under 'GOARCH=arm64 go test
		// -exec qemu-aarch64' the inherited GOARCH would build it for arm64.
		cmd.Env = append(os.Environ(), "GOARCH=", "GOOS=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", args, err, stderr.Bytes())
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the output of %q: run 'go generate ./tensor/...' and commit the result", file, strings.Join(f[:len(f)-2], " "))
		}
		n++
	}
	if n == 0 {
		t.Fatal("kernels.go has no //go:generate lines")
	}
}
