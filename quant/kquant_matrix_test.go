package quant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"ragtune/tensor"
	"ragtune/weights"
)

var kDTypes = []weights.DType{weights.Q2_K, weights.Q3_K, weights.Q4_K, weights.Q5_K, weights.Q6_K}

// TestQ8KActsLlamaCpp: the activation quantizer of the K-quant dot
// products gives llama.cpp's quantize_row_q8_K_ref values (d, q, bsums).
func TestQ8KActsLlamaCpp(t *testing.T) {
	g := readKQuantGolden(t, "q8_K", QK_K, Q8_KBlockBytes)
	nb := len(g.in) / QK_K
	var a q8KActs
	a.quantize(g.in, nb)
	for i := 0; i < nb; i++ {
		b := g.blocks[i*Q8_KBlockBytes:]
		if want := math.Float32frombits(binary.LittleEndian.Uint32(b)); math.Float32bits(a.d[i]) != math.Float32bits(want) {
			t.Fatalf("block %d: d %g, llama.cpp %g", i, a.d[i], want)
		}
		for j := 0; j < QK_K; j++ {
			if a.qs[i*QK_K+j] != int8(b[4+j]) {
				t.Fatalf("block %d value %d: q %d, llama.cpp %d", i, j, a.qs[i*QK_K+j], int8(b[4+j]))
			}
		}
		for j := 0; j < 16; j++ {
			if want := int32(int16(binary.LittleEndian.Uint16(b[260+2*j:]))); a.bsums[i*16+j] != want {
				t.Fatalf("block %d: bsum %d is %d, llama.cpp %d", i, j, a.bsums[i*16+j], want)
			}
		}
	}
}

// kTestMatrix quantizes a random rows×cols matrix to d and returns it with
// its dequantized values.
func kTestMatrix(t *testing.T, r *rand.Rand, d weights.DType, rows, cols int) (*KMatrix, []float32) {
	t.Helper()
	k, _ := kTypeOf(d)
	w := randVec(r, rows*cols, 0.05)
	// Some rows with an offset, so the affine types' mins are not all zero.
	for i := 0; i < cols; i++ {
		w[i] += 0.1
	}
	data := make([]byte, rows*cols/QK_K*k.blockBytes)
	k.quantize(data, w)
	m, err := NewKMatrix(d, data, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	deq := make([]float32, rows*cols)
	k.dequant(deq, data)
	return m, deq
}

// TestKMatrixMatMul: products (Q8_K activations, integer sub-block sums)
// equal a float64 product of the dequantized weights and the dequantized
// Q8_K activations up to float32 rounding, and stay within Q8_K's
// quantization error of the float product.
func TestKMatrixMatMul(t *testing.T) {
	const R, C = 37, 768
	r := rand.New(rand.NewPCG(17, 3))
	for _, d := range kDTypes {
		t.Run(d.String(), func(t *testing.T) {
			m, w := kTestMatrix(t, r, d, R, C)
			for _, T := range []int{1, 3, 5, gemmMinT, 13} {
				inp := randVec(r, T*C, 1)
				inp[0] = 7 // an outlier sets one block's scale
				out := make([]float32, T*R)
				m.MatMul(out, inp, T)
				for tk := 0; tk < T; tk++ {
					x := inp[tk*C : (tk+1)*C]
					var a q8KActs
					a.quantize(x, C/QK_K)
					xq := make([]float32, C)
					for i := range xq {
						xq[i] = a.d[i/QK_K] * float32(a.qs[i])
					}
					for row := 0; row < R; row++ {
						var want, wantX, scale float64
						for c := 0; c < C; c++ {
							want += float64(w[row*C+c]) * float64(xq[c])
							wantX += float64(w[row*C+c]) * float64(x[c])
							scale += math.Abs(float64(w[row*C+c]) * float64(x[c]))
						}
						got := float64(out[tk*R+row])
						if e := math.Abs(got-want) / scale; e > 1e-5 {
							t.Fatalf("T=%d token %d row %d: got %g, float64 %g (error %.3g × Σ|terms|)", T, tk, row, got, want, e)
						}
						if e := math.Abs(got-wantX) / scale; e > 0.01 {
							t.Fatalf("T=%d token %d row %d: got %g, unquantized activations give %g (error %.3g × Σ|terms|)", T, tk, row, got, wantX, e)
						}
					}
				}
			}
		})
	}
}

// TestKMatrixRows: Row expands exactly what the dequantizer gives for the
// whole matrix.
func TestKMatrixRows(t *testing.T) {
	const R, C = 5, 1024
	r := rand.New(rand.NewPCG(5, 6))
	for _, d := range kDTypes {
		m, w := kTestMatrix(t, r, d, R, C)
		row := make([]float32, C)
		m.Row(row, 3)
		for c := range row {
			if row[c] != w[3*C+c] {
				t.Fatalf("%s Row(3)[%d] = %g, want %g", d, c, row[c], w[3*C+c])
			}
		}
	}
}

// TestKMatrixErrors: wrong shapes and sizes are errors that name them.
func TestKMatrixErrors(t *testing.T) {
	for _, tc := range []struct {
		rows, cols, bytes int
	}{{2, 128, 2 * 72}, {2, 256, 143}, {2, 0, 0}} {
		if _, err := NewKMatrix(weights.Q4_K, make([]byte, tc.bytes), tc.rows, tc.cols); err == nil {
			t.Errorf("NewKMatrix(Q4_K, %d bytes, %d×%d): no error", tc.bytes, tc.rows, tc.cols)
		}
	}
	_, err := NewKMatrix(weights.Q8_0, nil, 0, 256)
	if err == nil || err.Error() != fmt.Sprintf("%s is not a K-quant type", weights.Q8_0) {
		t.Errorf("Q8_0: %v", err)
	}
}

// TestUnsupportedTypeError: a tensor in a type ragtune cannot run (IQ2_XXS
// from an imatrix quantization) fails to load, decode or convert with one
// line that names the tensor and the type and says what to do, and no Go
// type name or internal option.
func TestUnsupportedTypeError(t *testing.T) {
	tn := &weights.Tensor{Name: "model.embed_tokens.weight", DType: 16, Shape: []int{4, 256}, Data: make([]byte, 4*66)}
	_, errLoad := Loader(func(*weights.Tensor) (tensor.Matrix, error) { return nil, nil })(tn)
	errDecode := Float32Into(tn, make([]float32, 4*256))
	errConvert := WriteAs(io.Discard, tn, weights.F32)
	for i, err := range []error{errLoad, errDecode, errConvert} {
		if err == nil {
			t.Fatalf("call %d: no error", i)
		}
		msg := err.Error()
		if i == 0 {
			// Loader's callers (model loaders) put the tensor name in front.
			msg = fmt.Sprintf("tensor %q: %v", tn.Name, err)
		}
		for _, want := range []string{`"model.embed_tokens.weight"`, "IQ2_XXS", "ragtune quantize", "q4_k_m"} {
			if !strings.Contains(msg, want) {
				t.Errorf("call %d: %q lacks %q", i, msg, want)
			}
		}
		for _, bad := range []string{"DType(", "WithMatrixLoader", "quant.", "\n"} {
			if strings.Contains(msg, bad) {
				t.Errorf("call %d: %q contains %q", i, msg, bad)
			}
		}
		var ue *UnsupportedTypeError
		if !errors.As(err, &ue) || ue.Type != 16 {
			t.Errorf("call %d: %v is not an UnsupportedTypeError for type 16", i, err)
		}
	}
}
