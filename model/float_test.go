package model

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
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
	if _, err := q.Float32(); err == nil || !strings.Contains(err.Error(), "Q4_0") {
		t.Errorf("unregistered quantized type: err = %v", err)
	}
	RegisterDequantizer(Q4_0, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(len(src))
		}
	})
	defer RegisterDequantizer(Q4_0, nil)
	got, err := q.Float32()
	if err != nil || got[31] != 18 {
		t.Errorf("registered dequantizer: %v, %v", got, err)
	}
}

func TestRNGReference(t *testing.T) {
	// splitmix64 from state 0 gives 0xe220a8397b1dcdaf first: the
	// published reference value, so the stream is the standard one.
	var x uint64
	if got, want := splitmix64(&x), uint64(0xe220a8397b1dcdaf); got != want {
		t.Errorf("splitmix64 = %#x, want %#x", got, want)
	}
	r := newRNG(1, 2, 3)
	var sum, sq float64
	const n = 200000
	for i := 0; i < n/2; i++ {
		a, b := r.normal2()
		sum += a + b
		sq += a*a + b*b
	}
	if mean, v := sum/n, sq/n; math.Abs(mean) > 0.02 || math.Abs(v-1) > 0.02 {
		t.Errorf("normal mean %.4f variance %.4f", mean, v)
	}
}

func TestOpenGGUFWithoutPackage(t *testing.T) {
	// A program that does not link package gguf must be told how to get
	// GGUF support instead of failing obscurely. (This test binary links
	// gguf through the external tests, so unregister it for the test.)
	p := filepath.Join(t.TempDir(), "m.gguf")
	os.WriteFile(p, []byte("GGUF\x03\x00\x00\x00"), 0o644)
	formatsMu.Lock()
	saved := formats
	formats = nil
	formatsMu.Unlock()
	defer func() {
		formatsMu.Lock()
		formats = saved
		formatsMu.Unlock()
	}()
	_, _, err := Open(p)
	if err == nil || !strings.Contains(err.Error(), `import _ "ragtune/gguf"`) {
		t.Errorf("err = %v", err)
	}
}
