package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"ragtune/weights"
)

// TestQ6_KLlamaCppGolden: DequantizeQ6_K gives bit for bit what llama.cpp's
// dequantize_row_q6_K gives for blocks its own quantizer wrote
// (scripts/quant_llamacpp_q6k.py).
func TestQ6_KLlamaCppGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/llamacpp_q6k.bin")
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(raw))
	blocks := raw[4 : 4+n/Q6_KBlockSize*Q6_KBlockBytes]
	want := raw[4+len(blocks):]
	if len(want) != 4*n {
		t.Fatalf("golden has %d bytes of floats, want %d", len(want), 4*n)
	}
	got := make([]float32, n)
	DequantizeQ6_K(got, blocks)
	for i, g := range got {
		w := math.Float32frombits(binary.LittleEndian.Uint32(want[4*i:]))
		if math.Float32bits(g) != math.Float32bits(w) {
			t.Fatalf("value %d (block %d): got %g, llama.cpp %g", i, i/Q6_KBlockSize, g, w)
		}
	}
}

// TestLoaderQ6_K: a Q6_K matrix loads as a KMatrix over its blocks and
// multiplies like the dequantized float32 matrix within Q8_K's error.
func TestLoaderQ6_K(t *testing.T) {
	raw, err := os.ReadFile("testdata/llamacpp_q6k.bin")
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(raw))
	const C = 512
	R := n / C
	data := raw[4 : 4+n/Q6_KBlockSize*Q6_KBlockBytes]
	tn := &weights.Tensor{Name: "output.weight", DType: weights.Q6_K, Shape: []int{R, C}, Data: data}
	w, err := Float32(tn)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Loader(nil)(tn)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(19, 20))
	inp := randVec(r, C, 1)
	out := make([]float32, R)
	m.MatMul(out, inp, 1)
	for row := 0; row < R; row++ {
		var want, scale float64
		for c := 0; c < C; c++ {
			p := float64(w[row*C+c]) * float64(inp[c])
			want += p
			scale += math.Abs(p)
		}
		if e := math.Abs(float64(out[row])-want) / (scale + 1e-30); e > 0.02 {
			t.Errorf("row %d: got %g, want %g (error %.3g × Σ|terms|)", row, out[row], want, e)
		}
	}
	if _, err := Loader(nil)(&weights.Tensor{Name: "x", DType: weights.Q6_K, Shape: []int{1, 128}, Data: make([]byte, 105)}); err == nil {
		t.Error("a Q6_K row of 128 values loaded; want an error")
	}
}
