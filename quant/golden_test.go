package quant

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// TestLlamaCppGolden compares against blocks that llama.cpp's own quantizer
// (ggml_quantize_chunk in node-llama-cpp's libggml-base) wrote for the same
// inputs: scripts/quant_llamacpp.py.
func TestLlamaCppGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/llamacpp_golden.bin")
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(raw))
	raw = raw[4:]
	x := make([]float32, n)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	raw = raw[4*n:]
	want8, want4 := raw[:n/32*Q8_0BlockBytes], raw[n/32*Q8_0BlockBytes:]
	if len(want4) != n/32*Q4_0BlockBytes {
		t.Fatalf("golden has %d Q4_0 bytes, want %d", len(want4), n/32*Q4_0BlockBytes)
	}
	for _, tc := range []struct {
		name  string
		bs    int
		quant func([]byte, []float32)
		want  []byte
	}{
		{"Q8_0", Q8_0BlockBytes, QuantizeQ8_0, want8},
		{"Q4_0", Q4_0BlockBytes, QuantizeQ4_0, want4},
	} {
		got := make([]byte, len(tc.want))
		tc.quant(got, x)
		for b := 0; b < n/32; b++ {
			g, w := got[b*tc.bs:(b+1)*tc.bs], tc.want[b*tc.bs:(b+1)*tc.bs]
			if !bytes.Equal(g, w) {
				t.Errorf("%s block %d (inputs %v):\n got %x\nwant %x", tc.name, b, x[b*32:b*32+32], g, w)
			}
		}
	}
}
