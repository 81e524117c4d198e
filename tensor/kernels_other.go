//go:build !amd64 || purego

package tensor

// Only the portable kernels exist off amd64 (or with -tags purego).
