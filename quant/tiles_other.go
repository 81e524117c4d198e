//go:build !amd64 || purego

package quant

var tileKernelsOK = false

const tileTokensN = 12

func tileKernelsFor(q4, n int) []tileKernel { return make([]tileKernel, panelTiles(n)) }

func quantRowVNNI(x *float32, q *byte, qstride int, d *float32, s *int32, rec int, off int32, nb int) {
	panic("quant: no AVX512-VNNI kernels in this build")
}
