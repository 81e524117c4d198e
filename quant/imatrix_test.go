package quant

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"ragtune/weights"
)

func TestIMatrixFileRoundTrip(t *testing.T) {
	m := &IMatrix{Entries: map[string]*IMatrixEntry{
		"blk.0.attn_q.weight":   {NCall: 3, Values: []float32{1.5, 0, 7}},
		"blk.0.ffn_down.weight": {NCall: 1, Values: []float32{0.25}},
	}, Chunks: 3, Dataset: "domain.txt"}
	path := filepath.Join(t.TempDir(), "imatrix.dat")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadIMatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("read back %+v, wrote %+v", got, m)
	}
	// llama-quantize divides by ncall in float32.
	w, err := got.Weights("blk.0.attn_q.weight", 3)
	if err != nil || !reflect.DeepEqual(w, []float32{0.5, 0, float32(7) / 3}) {
		t.Errorf("Weights = %v, %v", w, err)
	}
	if w, err := got.Weights("output.weight", 3); w != nil || err != nil {
		t.Errorf("no entry: Weights = %v, %v; want nil, nil", w, err)
	}
	if _, err := got.Weights("blk.0.attn_q.weight", 4); err == nil {
		t.Error("an entry of another width was accepted")
	}

	// Older files stop after the entries.
	var b bytes.Buffer
	m.WriteTo(&b)
	old := b.Bytes()[:b.Len()-4-4-len(m.Dataset)]
	got, err = ReadIMatrix(bytes.NewReader(old))
	if err != nil || got.Chunks != 0 || got.Dataset != "" || len(got.Entries) != 2 {
		t.Errorf("file without trailer: %+v, %v", got, err)
	}
	for _, cut := range []int{0, 3, 10, len(old) - 2} {
		if _, err := ReadIMatrix(bytes.NewReader(old[:cut])); err == nil {
			t.Errorf("a file cut at %d bytes was accepted", cut)
		}
	}
}

func TestIMatrixCollector(t *testing.T) {
	c := NewIMatrixCollector()
	x := []float32{1, 2, 3, -1, 0, 2} // 3 tokens × 2 columns
	// A short batch (llama-imatrix skips fewer than 16 tokens) adds nothing.
	c.BeginBatch(MinBatchTokens - 1)
	c.Observe("w", x, 3, 2)
	c.EndBatch()
	if _, err := c.IMatrix("t"); err == nil {
		t.Fatal("a collector that saw only short batches returned a matrix")
	}
	for range 2 {
		c.BeginBatch(MinBatchTokens)
		c.Observe("w", x, 3, 2)
		c.EndBatch()
	}
	m, err := c.IMatrix("t")
	if err != nil {
		t.Fatal(err)
	}
	e := m.Entries["w"]
	// Column sums of squares: (1+9+0)·2 = 20 and (4+1+4)·2 = 18 over 6
	// tokens, times 2 calls.
	want := []float32{float32(20.0/6) * 2, 18.0 / 6 * 2}
	if e.NCall != 2 || m.Chunks != 2 || !reflect.DeepEqual(e.Values, want) {
		t.Errorf("entry %+v chunks %d, want ncall 2, values %v, chunks 2", e, m.Chunks, want)
	}
}

// TestWeightedQuantizersLowerWeightedError: with importance weights that
// single out a few columns, every weighted quantizer's error on those
// columns is below the unweighted quantizer's, and the blocks decode.
func TestWeightedQuantizersLowerWeightedError(t *testing.T) {
	const cols, rows = 512, 16
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	qw := make([]float32, cols)
	for j := range qw {
		qw[j] = 1e-4
		if j%7 == 0 {
			qw[j] = 100
		}
	}
	for _, d := range []weights.DType{weights.Q2_K, weights.Q3_K, weights.Q4_K, weights.Q5_K, weights.Q6_K, weights.Q4_0, weights.Q4_1, weights.Q5_0, weights.Q5_1} {
		t.Run(d.String(), func(t *testing.T) {
			wenc, ok := WeightedEncoder(d)
			if !ok {
				t.Fatal("no weighted encoder")
			}
			enc, _, _, _ := Encoder(d)
			n, err := RowBytes(d, cols)
			if err != nil {
				t.Fatal(err)
			}
			plain, weighted := make([]byte, rows*n), make([]byte, rows*n)
			enc(plain, src)
			wenc(weighted, src, qw)
			errOf := func(blocks []byte) float64 {
				back := make([]float32, rows*cols)
				if err := Float32Into(&weights.Tensor{Name: "w", DType: d, Shape: []int{rows, cols}, Data: blocks}, back); err != nil {
					t.Fatal(err)
				}
				var e float64
				for i, v := range back {
					diff := float64(v - src[i])
					e += float64(qw[i%cols]) * diff * diff
				}
				return e
			}
			ep, ew := errOf(plain), errOf(weighted)
			t.Logf("weighted squared error: plain %.4g, with importance %.4g", ep, ew)
			if !(ew < ep) || math.IsNaN(ew) {
				t.Errorf("importance weights did not lower the weighted error: %.4g vs %.4g", ew, ep)
			}
		})
	}
	if _, ok := WeightedEncoder(weights.Q8_0); ok {
		t.Error("Q8_0 has a weighted encoder; llama-quantize ignores the importance matrix for it")
	}
}

// TestWeightedQuantizersZeroRows: all-zero rows and all-zero weights
// quantize without NaN or panic (they occur in real models: padding rows,
// columns no calibration token reached).
func TestWeightedQuantizersZeroRows(t *testing.T) {
	const cols = 256
	src := make([]float32, cols)
	qw := make([]float32, cols)
	for _, d := range []weights.DType{weights.Q2_K, weights.Q3_K, weights.Q4_K, weights.Q5_K, weights.Q6_K, weights.Q4_0, weights.Q4_1, weights.Q5_0, weights.Q5_1} {
		wenc, _ := WeightedEncoder(d)
		n, _ := RowBytes(d, cols)
		dst := make([]byte, n)
		wenc(dst, src, qw)
		back := make([]float32, cols)
		if err := Float32Into(&weights.Tensor{Name: "w", DType: d, Shape: []int{cols}, Data: dst}, back); err != nil {
			t.Fatal(err)
		}
		for i, v := range back {
			if v != 0 {
				t.Errorf("%s: zero row decodes to %g at %d", d, v, i)
				break
			}
		}
	}
}
