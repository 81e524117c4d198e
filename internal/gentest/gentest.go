// Package gentest checks from a test that committed generated files still
// equal their generators' output, so the assembly in quant and tensor
// cannot drift from the programs that write it.
package gentest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Check reruns every //go:generate line of src (a file in the test's
// package directory), each of which must end in "-o FILE", with the output
// sent to memory, and compares it with the committed FILE: a hand edit of
// generated code, or a generator change whose output was not committed,
// fails here. pkg is the package pattern named in the fix ("./quant/...").
func Check(t *testing.T, src, pkg string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the generator; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH to run the generator")
	}
	text, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(text), "\n") {
		args, ok := strings.CutPrefix(line, "//go:generate ")
		if !ok {
			continue
		}
		f := strings.Fields(args)
		if len(f) < 2 || f[len(f)-2] != "-o" {
			t.Fatalf("%s: %q: want a command ending in -o FILE", src, line)
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
			t.Errorf("%s differs from the output of %q: run 'go generate %s' and commit the result", file, strings.Join(f[:len(f)-2], " "), pkg)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("%s has no //go:generate lines", src)
	}
}
