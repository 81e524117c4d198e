//go:build (!amd64 && !arm64) || purego

package tensor

// Only the portable kernels exist off amd64 and arm64 (or with -tags purego).

// CPUFeatures lists the instruction-set extensions the kernels choose
// between: none in this build.
func CPUFeatures() []string { return nil }
