package weights

import (
	"fmt"
	"testing"
)

// BenchmarkFloat32 measures widening a 1536×1536 matrix (one R1-1.5B
// attention projection's worth) to float32, per stored type.
func BenchmarkFloat32(b *testing.B) {
	vals := make([]float32, 1536*1536)
	for i := range vals {
		vals[i] = float32(i%1000) * 1e-3
	}
	for _, d := range []DType{F32, F16, BF16} {
		data, _ := EncodeFloat32(d, vals)
		t := &Tensor{Name: "w", DType: d, Shape: []int{1536, 1536}, Data: data}
		dst := make([]float32, len(vals))
		b.Run(fmt.Sprintf("dtype=%s", d), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := t.Float32Into(dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
