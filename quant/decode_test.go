package quant

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"ragtune/weights"
)

// TestWriteAsBlocks: expanding a block-type tensor row chunk by row chunk
// gives the bytes of the whole-tensor decode, and bad sizes are refused.
func TestWriteAsBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const rows, cols = 5, 96
	x := randVec(r, rows*cols, 0.1)
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		rb, _ := RowBytes(d, rows*cols)
		buf := make([]byte, rb)
		if _, err := Quantize(d, buf, x); err != nil {
			t.Fatal(err)
		}
		tt := &weights.Tensor{Name: "w", DType: d, Shape: []int{rows, cols}, Data: buf}
		vals, err := Float32(tt)
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range []weights.DType{weights.F32, weights.BF16} {
			var got bytes.Buffer
			if err := WriteAs(&got, tt, to); err != nil {
				t.Fatal(err)
			}
			want, _ := weights.EncodeFloat32(to, vals)
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s → %s: WriteAs differs from Float32 then encode", d, to)
			}
		}
		short := &weights.Tensor{Name: "w", DType: d, Shape: []int{rows, cols}, Data: buf[:len(buf)-1]}
		if _, err := Float32(short); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s short data: err = %v", d, err)
		}
		if err := WriteAs(&bytes.Buffer{}, tt, weights.Q8_0); d != weights.Q8_0 && err == nil {
			t.Errorf("%s → Q8_0 should be refused", d)
		}
	}
}
