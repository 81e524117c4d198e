// Package tensor holds the flat []float32 kernels every model in ragtune is
// built from: matrix multiply (and the transposed forms backward needs),
// RMSNorm, RoPE, softmax, SiLU, attention, and BF16/F16 conversion.
//
// Kernels follow llm.c's conventions: outputs first, then inputs, then
// weights, then sizes (T tokens, C input channels, OC output channels).
// Backward kernels accumulate (+=) into gradients. Tensors are plain
// row-major slices; this package owns no memory and never allocates in a
// kernel, so callers can reuse buffers across tokens.
//
// It is not an autograd library: models call forward and backward kernels
// explicitly.
package tensor
