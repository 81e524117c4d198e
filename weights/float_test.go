package weights

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestFloat32Conversions(t *testing.T) {
	want := []float32{0, 1, -2.5, 0.1, 65504, 1e-3}
	tests := []struct {
		dtype DType
		tol   float64
	}{
		{F32, 0},
		{F16, 1.0 / 1024},
		{BF16, 1.0 / 128},
	}
	for _, tc := range tests {
		data, err := EncodeFloat32(tc.dtype, want)
		if err != nil {
			t.Fatal(err)
		}
		tt := &Tensor{Name: "x", DType: tc.dtype, Shape: []int{2, 3}, Data: data}
		got, err := tt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		worst, at := 0.0, 0
		for i := range want {
			d := math.Abs(float64(got[i]-want[i])) / math.Max(math.Abs(float64(want[i])), 1e-30)
			if d > worst {
				worst, at = d, i
			}
		}
		if worst > tc.tol {
			t.Errorf("%s: relative error %.3g at %d (%g vs %g)", tc.dtype, worst, at, got[at], want[at])
		}
		// WriteAs to the same type copies; to F32 gives the decoded values.
		var buf bytes.Buffer
		if err := tt.WriteAs(&buf, F32); err != nil {
			t.Fatal(err)
		}
		f32, _ := EncodeFloat32(F32, got)
		if !bytes.Equal(buf.Bytes(), f32) {
			t.Errorf("%s: WriteAs(F32) differs from Float32", tc.dtype)
		}
	}
}

func TestFloat32Errors(t *testing.T) {
	short := &Tensor{Name: "s", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}
	if _, err := short.Float32(); err == nil || !strings.Contains(err.Error(), "8 bytes for 3") {
		t.Errorf("short data: err = %v", err)
	}
	q := &Tensor{Name: "q", DType: Q4_0, Shape: []int{32}, Data: make([]byte, 18)}
	if _, err := q.Float32(); err == nil || !strings.Contains(err.Error(), "quant.Float32Into") {
		t.Errorf("block type: err = %v", err)
	}
}
