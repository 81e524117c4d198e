package qwen2

import (
	"fmt"
	"strings"

	"ragtune/quant"
	"ragtune/tensor"
	"ragtune/weights"
)

// IMatrixOptions are llama-imatrix's knobs for CollectIMatrix.
type IMatrixOptions struct {
	Context int // tokens per window (llama-imatrix -c); 0: 512
	Chunks  int // windows to run at most (--chunks); 0: all
	Batch   int // tokens per decode call (-b); 0: 2048, capped at Context
	UBatch  int // tokens per forward pass (-ub); 0: 512, capped at Batch
	// BOS, when ≥ 0, replaces the first token of every window, as
	// llama-imatrix does for a tokenizer that adds one.
	BOS int
	// Progress, if not nil, is told of each window done.
	Progress func(done, total int)
}

func (o *IMatrixOptions) defaults() {
	if o.Context <= 0 {
		o.Context = 512
	}
	if o.Batch <= 0 {
		o.Batch = 2048
	}
	o.Batch = min(o.Batch, o.Context)
	if o.UBatch <= 0 {
		o.UBatch = 512
	}
	o.UBatch = min(o.UBatch, o.Batch)
}

// IMatrixWindows is how many windows CollectIMatrix runs over n tokens,
// or an error when the text is too short (llama-imatrix wants at least two
// windows' worth).
func IMatrixWindows(n int, o IMatrixOptions) (int, error) {
	o.defaults()
	if n < 2*o.Context {
		return 0, fmt.Errorf("the calibration text has %d tokens; an importance matrix with a context of %d needs at least %d (use more text or a smaller context)", n, o.Context, 2*o.Context)
	}
	w := n / o.Context
	if o.Chunks > 0 {
		w = min(w, o.Chunks)
	}
	return w, nil
}

// CollectIMatrix runs the model at srcPath (an HF directory or GGUF file)
// over tokens the way llama.cpp's llama-imatrix does and returns the
// importance matrix of every projection of every layer (the output head
// and the embedding are not matrix products over the text's activations
// that llama-imatrix records by default). The tokens are cut into windows
// of o.Context; each starts with an empty KV cache and, if o.BOS ≥ 0, the
// BOS token, and runs in passes of o.UBatch tokens (within decode calls of
// o.Batch); passes shorter than quant.MinBatchTokens are not collected.
// dataset is recorded in the matrix (the file name of the text).
func CollectIMatrix(srcPath string, tokens []int, dataset string, o IMatrixOptions) (*quant.IMatrix, error) {
	o.defaults()
	windows, err := IMatrixWindows(len(tokens), o)
	if err != nil {
		return nil, err
	}
	src, cfg, err := Open(srcPath)
	if err != nil {
		return nil, err
	}
	c := quant.NewIMatrixCollector()
	m, err := New(cfg, src, WithMatrixLoader(ObservingLoader(quant.Loader(DefaultMatrix), c.Observe)), WithPrefillChunk(o.UBatch))
	if err != nil {
		return nil, fmt.Errorf("importance matrix: load %q: %w", srcPath, err)
	}
	defer m.Close()
	s := m.NewStateKV(o.Context, tensor.KVF16)
	win := make([]int, o.Context)
	for w := 0; w < windows; w++ {
		copy(win, tokens[w*o.Context:(w+1)*o.Context])
		if o.BOS >= 0 {
			win[0] = o.BOS
		}
		s.Truncate(0)
		for b := 0; b < o.Context; b += o.Batch {
			batch := win[b:min(b+o.Batch, o.Context)]
			for u := 0; u < len(batch); u += o.UBatch {
				ub := batch[u:min(u+o.UBatch, len(batch))]
				c.BeginBatch(len(ub))
				_, err := s.Forward(ub)
				c.EndBatch()
				if err != nil {
					return nil, fmt.Errorf("importance matrix: window %d: %w", w+1, err)
				}
			}
		}
		if o.Progress != nil {
			o.Progress(w+1, windows)
		}
	}
	return c.IMatrix(dataset)
}

// ObservingLoader wraps a matrix loader so that every product with a
// layer's projection weight first hands its input to observe, under the
// weight's GGUF name ("blk.0.attn_q.weight"), llama.cpp's key for it.
// The embedding and the output head load unwrapped. Wrapped matrices do
// not stack (see rowStacker), so q, k and v stay separate products, each
// observed on its own as llama.cpp records them.
func ObservingLoader(inner MatrixLoader, observe func(name string, x []float32, T, cols int)) MatrixLoader {
	return func(t *weights.Tensor) (tensor.Matrix, error) {
		mat, err := inner(t)
		if err != nil || !strings.HasPrefix(t.Name, "model.layers.") {
			return mat, err
		}
		name, ok := GGUFName(t.Name)
		if !ok {
			return mat, nil
		}
		return &observedMatrix{Matrix: mat, name: name, observe: observe}, nil
	}
}

type observedMatrix struct {
	tensor.Matrix
	name    string
	observe func(name string, x []float32, T, cols int)
}

func (m *observedMatrix) MatMul(out, inp []float32, T int) {
	m.observe(m.name, inp[:T*m.Cols()], T, m.Cols())
	m.Matrix.MatMul(out, inp, T)
}
