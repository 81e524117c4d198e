package main

import (
	"fmt"
	"runtime"
	"strings"

	"ragtune/internal/buildinfo"
	"ragtune/quant"
	"ragtune/tensor"
)

func init() {
	register(&command{name: "version", summary: "print the version and build facts", run: runVersion})
}

const versionDescription = `
Prints the build of this binary: the module version for 'go install
ragtune/cmd/ragtune@VERSION'; the commit ("-dirty" when the checkout had
uncommitted changes) for 'go build' in a git checkout; "devel" for 'go run'
and builds with -buildvcs=false, which record no commit. Then the Go
version, the platform and the CPU count; then the CPU features the
kernels choose between (GODEBUG=cpu.avx512f=off,… masks them) and the
kernel sets in use for float32 and for quantized (Q8_0/Q4_0) weights.`

func runVersion(args []string) error {
	fs := newFlagSet("version", "", versionDescription)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("version takes no arguments (got %q)", fs.Args())
	}
	fmt.Printf("ragtune %s; %s %s/%s, %d CPUs\n", buildinfo.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	features := strings.Join(tensor.CPUFeatures(), " ")
	if features == "" {
		features = "none used"
	}
	fmt.Printf("CPU features: %s; kernels: %s (float32), %s (quantized)\n", features, tensor.KernelName(), quant.KernelName())
	return nil
}
