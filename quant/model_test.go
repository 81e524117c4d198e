package quant

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"ragtune/weights"
)

// TestQuantizeTensorSlabs checks that slab-parallel quantization writes
// the bytes the row encoder writes on the whole tensor, whatever the slab
// size, and reports every value once.
func TestQuantizeTensorSlabs(t *testing.T) {
	const rows, cols = 37, 512
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, rows*cols)
	raw := make([]byte, 4*len(vals))
	for i := range vals {
		vals[i] = float32(r.NormFloat64())
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(vals[i]))
	}
	src := &weights.Tensor{Name: "w", DType: weights.F32, Shape: []int{rows, cols}, Data: raw}
	defer func(v int) { slabValues = v }(slabValues)
	for _, to := range []weights.DType{weights.Q8_0, weights.Q4_0, weights.Q4_K, weights.Q6_K} {
		enc, _, _, ok := Encoder(to)
		if !ok {
			t.Fatalf("no encoder for %s", to)
		}
		rb, err := RowBytes(to, cols)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, rows*rb)
		for i := range rows {
			enc(want[i*rb:(i+1)*rb], vals[i*cols:(i+1)*cols])
		}
		for _, slab := range []int{cols, 5 * cols, 1 << 22} {
			slabValues = slab
			done := 0
			got, err := QuantizeTensor(src, to, func(n int) { done += n })
			if err != nil {
				t.Fatalf("%s slab %d: %v", to, slab, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s slab %d: bytes differ from the row encoder's", to, slab)
			}
			if done != rows*cols {
				t.Errorf("%s slab %d: progress reported %d values, want %d", to, slab, done, rows*cols)
			}
		}
	}
}

func TestQuantizeTensorErrors(t *testing.T) {
	oneD := &weights.Tensor{Name: "b", DType: weights.F32, Shape: []int{32}, Data: make([]byte, 128)}
	if _, err := QuantizeTensor(oneD, weights.Q8_0, nil); err == nil {
		t.Error("a 1-D tensor was quantized; want an error")
	}
	short := &weights.Tensor{Name: "s", DType: weights.F32, Shape: []int{3, 32}, Data: make([]byte, 100)}
	if _, err := QuantizeTensor(short, weights.Q8_0, nil); err == nil {
		t.Error("a tensor whose bytes do not split into its rows was quantized; want an error")
	}
}
