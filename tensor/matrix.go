package tensor

// Matrix is a weight matrix of Rows()×Cols() (OC×C, PyTorch's Linear layout)
// in some storage format: plain float32 here, Q8_0/Q4_0 blocks in package
// quant. Models hold their projection weights as Matrix so they run directly
// from quantized storage.
type Matrix interface {
	Rows() int
	Cols() int
	// MatMul sets out (T, Rows) = inp (T, Cols) @ W^T. It does not add a bias.
	MatMul(out, inp []float32, T int)
}

// F32Matrix is a row-major float32 weight matrix.
type F32Matrix struct {
	Data []float32 // (R, C)
	R, C int
}

func (m *F32Matrix) Rows() int { return m.R }
func (m *F32Matrix) Cols() int { return m.C }
func (m *F32Matrix) MatMul(out, inp []float32, T int) {
	MatMul(out, inp, m.Data, nil, T, m.C, m.R)
}
