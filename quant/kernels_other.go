//go:build !amd64 || purego

package quant

// Only the portable kernels exist off amd64 (or with -tags purego).
