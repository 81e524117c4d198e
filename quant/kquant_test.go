package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"testing"

	"ragtune/tensor"
	"ragtune/weights"
)

// kquantGolden is one quant/testdata/kquant_<type>.bin file written by
// scripts/kquant_llamacpp.c from llama.cpp's libggml-base.so: inputs, the
// blocks quantize_row_<type>_ref made of them, and what
// dequantize_row_<type> expands those blocks to.
type kquantGolden struct {
	in, out []float32
	blocks  []byte
}

func readKQuantGolden(t *testing.T, name string, block, blockBytes int) kquantGolden {
	t.Helper()
	raw, err := os.ReadFile("testdata/kquant_" + name + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(raw))
	nb := n / block * blockBytes
	if len(raw) != 4+8*n+nb {
		t.Fatalf("%s golden: %d bytes, want %d", name, len(raw), 4+8*n+nb)
	}
	floats := func(b []byte) []float32 {
		f := make([]float32, len(b)/4)
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return f
	}
	return kquantGolden{in: floats(raw[4 : 4+4*n]), blocks: raw[4+4*n : 4+4*n+nb], out: floats(raw[4+4*n+nb:])}
}

var kquantTypes = []struct {
	name       string
	block      int
	blockBytes int
	quantize   func([]byte, []float32)
	dequantize func([]float32, []byte)
}{
	{"q2_K", QK_K, Q2_KBlockBytes, QuantizeQ2_K, DequantizeQ2_K},
	{"q3_K", QK_K, Q3_KBlockBytes, QuantizeQ3_K, DequantizeQ3_K},
	{"q4_K", QK_K, Q4_KBlockBytes, QuantizeQ4_K, DequantizeQ4_K},
	{"q5_K", QK_K, Q5_KBlockBytes, QuantizeQ5_K, DequantizeQ5_K},
	{"q6_K", QK_K, Q6_KBlockBytes, QuantizeQ6_K, DequantizeQ6_K},
	{"q8_K", QK_K, Q8_KBlockBytes, QuantizeQ8_K, DequantizeQ8_K},
	{"q5_0", BlockSize, Q5_0BlockBytes, QuantizeQ5_0, DequantizeQ5_0},
	{"q5_1", BlockSize, Q5_1BlockBytes, QuantizeQ5_1, DequantizeQ5_1},
	{"q4_1", BlockSize, Q4_1BlockBytes, QuantizeQ4_1, DequantizeQ4_1},
}

// TestKQuantDequantizeLlamaCpp: every K-quant dequantizer gives bit for
// bit what llama.cpp's dequantize_row_* gives for blocks its own
// quantizer wrote.
func TestKQuantDequantizeLlamaCpp(t *testing.T) {
	for _, kt := range kquantTypes {
		t.Run(kt.name, func(t *testing.T) {
			g := readKQuantGolden(t, kt.name, kt.block, kt.blockBytes)
			got := make([]float32, len(g.out))
			kt.dequantize(got, g.blocks)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(g.out[i]) {
					t.Fatalf("value %d (block %d): got %g, llama.cpp %g", i, i/kt.block, got[i], g.out[i])
				}
			}
		})
	}
}

// TestKQuantQuantizeLlamaCpp: every K-quant quantizer writes the bytes
// llama.cpp's quantize_row_*_ref writes (what llama-quantize stores
// without an importance matrix).
func TestKQuantQuantizeLlamaCpp(t *testing.T) {
	for _, kt := range kquantTypes {
		t.Run(kt.name, func(t *testing.T) {
			g := readKQuantGolden(t, kt.name, kt.block, kt.blockBytes)
			got := make([]byte, len(g.blocks))
			kt.quantize(got, g.in)
			for b := 0; b < len(got)/kt.blockBytes; b++ {
				gb := got[b*kt.blockBytes : (b+1)*kt.blockBytes]
				wb := g.blocks[b*kt.blockBytes : (b+1)*kt.blockBytes]
				if string(gb) != string(wb) {
					t.Errorf("block %d differs from llama.cpp's:\n got %s\nwant %s", b, hexDiff(gb, wb), hexDiff(wb, gb))
				}
			}
		})
	}
}

// TestQ4_1WeightedLlamaCpp: the importance-weighted Q4_1 quantizer writes
// the bytes llama.cpp's quantize_q4_1 writes with an importance vector
// (testdata/kquant_q4_1_imatrix.bin from scripts/kquant_llamacpp.c), the
// path llama-quantize --imatrix takes for a q4_0 model's first ffn_down.
func TestQ4_1WeightedLlamaCpp(t *testing.T) {
	raw, err := os.ReadFile("testdata/kquant_q4_1_imatrix.bin")
	if err != nil {
		t.Fatal(err)
	}
	n, row := int(binary.LittleEndian.Uint32(raw)), int(binary.LittleEndian.Uint32(raw[4:]))
	nb := n / BlockSize * Q4_1BlockBytes
	if len(raw) != 8+4*n+4*row+nb {
		t.Fatalf("golden: %d bytes, want %d", len(raw), 8+4*n+4*row+nb)
	}
	floats := func(b []byte) []float32 {
		f := make([]float32, len(b)/4)
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return f
	}
	src, qw, want := floats(raw[8:8+4*n]), floats(raw[8+4*n:8+4*n+4*row]), raw[8+4*n+4*row:]
	enc, ok := WeightedEncoder(weights.Q4_1)
	if !ok {
		t.Fatal("no weighted Q4_1 encoder")
	}
	got := make([]byte, nb)
	enc(got, src, qw)
	plain := make([]byte, nb)
	QuantizeQ4_1(plain, src)
	if string(plain) == string(want) {
		t.Fatal("the golden's weighted blocks equal the reference quantizer's: it does not test the weighting")
	}
	for b := 0; b < nb/Q4_1BlockBytes; b++ {
		gb, wb := got[b*Q4_1BlockBytes:(b+1)*Q4_1BlockBytes], want[b*Q4_1BlockBytes:(b+1)*Q4_1BlockBytes]
		if string(gb) != string(wb) {
			t.Errorf("block %d differs from llama.cpp's:\n got %s\nwant %s", b, hexDiff(gb, wb), hexDiff(wb, gb))
		}
	}
}

// hexDiff prints a's bytes, bracketing those that differ from b.
func hexDiff(a, b []byte) string {
	s := ""
	for i := range a {
		if a[i] != b[i] {
			s += fmt.Sprintf("[%02x]", a[i])
		} else {
			s += fmt.Sprintf("%02x", a[i])
		}
	}
	return s
}

// TestLoaderRunsFallbackTypes: Q4_1, Q5_0 and Q5_1 tensors (what
// llama-quantize writes for narrow rows and, with an importance matrix, a
// q4_0 model's first ffn_down) load as matrices that multiply with the
// dequantized weights, so files holding them run.
func TestLoaderRunsFallbackTypes(t *testing.T) {
	const rows, cols = 3, 64
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = float32(math.Sin(float64(i)*0.37)) * float32(1+i%5)
	}
	inp := make([]float32, cols)
	for i := range inp {
		inp[i] = float32(i%7) - 3
	}
	for _, d := range []weights.DType{weights.Q4_1, weights.Q5_0, weights.Q5_1} {
		enc, _, _, _ := Encoder(d)
		n, err := RowBytes(d, cols)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, rows*n)
		enc(data, src)
		w := &weights.Tensor{Name: "w", DType: d, Shape: []int{rows, cols}, Data: data}
		back, err := Float32(w)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Loader(func(*weights.Tensor) (tensor.Matrix, error) {
			return nil, fmt.Errorf("%s went to the fallback loader", d)
		})(w)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, rows)
		m.MatMul(out, inp, 1)
		for r := range out {
			var want float32
			for c := range inp {
				want += back[r*cols+c] * inp[c]
			}
			if math.Abs(float64(out[r]-want)) > 1e-4*(1+math.Abs(float64(want))) {
				t.Errorf("%s row %d: %g, dequantized weights give %g", d, r, out[r], want)
			}
		}
	}
}
