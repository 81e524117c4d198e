//go:build (!amd64 && !arm64) || purego

package tensor

// Only the portable kernels exist off amd64 and arm64 (or with -tags purego).
