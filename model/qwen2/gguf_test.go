package qwen2

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/quant"
	"ragtune/weights"
)

func TestNames(t *testing.T) {
	pairs := [][2]string{
		{"token_embd.weight", "model.embed_tokens.weight"},
		{"output.weight", "lm_head.weight"},
		{"output_norm.weight", "model.norm.weight"},
		{"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"},
		{"blk.12.attn_v.bias", "model.layers.12.self_attn.v_proj.bias"},
		{"blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight"},
		{"blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight"},
		{"blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"},
		{"blk.27.ffn_down.weight", "model.layers.27.mlp.down_proj.weight"},
	}
	for _, p := range pairs {
		if got, ok := HFName(p[0]); !ok || got != p[1] {
			t.Errorf("HFName(%q) = %q, %v; want %q", p[0], got, ok, p[1])
		}
		if got, ok := GGUFName(p[1]); !ok || got != p[0] {
			t.Errorf("GGUFName(%q) = %q, %v; want %q", p[1], got, ok, p[0])
		}
	}
	for _, bad := range []string{"blk.x.attn_q.weight", "blk.1.nope.weight", "rope_freqs.weight", "blk.-1.attn_q.weight"} {
		if got, ok := HFName(bad); ok {
			t.Errorf("HFName(%q) = %q, want no mapping", bad, got)
		}
	}
}

func TestPermuteRowsInverse(t *testing.T) {
	// 2 heads of head_dim 4, rows of 2 F32 values: HF rows (0 1 2 3) of a
	// head become GGUF rows (0 2 1 3).
	shape := []int{8, 2}
	data := make([]byte, 8*8)
	for r := 0; r < 8; r++ {
		for c := 0; c < 2; c++ {
			binary.LittleEndian.PutUint32(data[(2*r+c)*4:], math.Float32bits(float32(r)))
		}
	}
	g, err := permuteRows(data, shape, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	var order []float32
	for r := 0; r < 8; r++ {
		order = append(order, math.Float32frombits(binary.LittleEndian.Uint32(g[r*8:])))
	}
	if want := []float32{0, 2, 1, 3, 4, 6, 5, 7}; !reflect.DeepEqual(order, want) {
		t.Errorf("GGUF row order = %v, want %v", order, want)
	}
	back, _ := permuteRows(g, shape, 2, false)
	if !bytes.Equal(back, data) {
		t.Error("permutation does not invert")
	}
}

// FuzzGGUFModel feeds arbitrary bytes through the GGUF parser and the
// model layer on top (config from metadata, HF names, llama permutation,
// validation, decoding): an error is fine, a panic is not.
func FuzzGGUFModel(f *testing.F) {
	f.Add(tinyModelGGUF(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Parse(data)
		if err != nil {
			return
		}
		cfg, err := ConfigFromGGUF(file)
		if err != nil {
			return
		}
		src := newGGUFSource(file, cfg)
		for _, n := range src.Names() {
			if tt, err := src.Tensor(n); err == nil {
				quant.Float32(tt)
			}
		}
		ValidateTensors(src, cfg)
	})
}

// tinyModelGGUF is a complete one-layer qwen2 GGUF with small dims, as a
// fuzz seed that reaches the config and tensor-mapping code.
func tinyModelGGUF(f *testing.F) []byte {
	f.Helper()
	path := filepath.Join(f.TempDir(), "m.gguf")
	w := gguf.NewWriter(path)
	w.AddMetadata("general.architecture", "qwen2")
	for k, v := range map[string]uint32{"block_count": 1, "context_length": 16, "embedding_length": 4, "feed_forward_length": 4, "attention.head_count": 2, "attention.head_count_kv": 1} {
		w.AddMetadata("qwen2."+k, v)
	}
	w.AddMetadata("qwen2.attention.layer_norm_rms_epsilon", float32(1e-6))
	dims := map[string][]uint64{
		"token_embd.weight": {4, 3}, "output_norm.weight": {4}, "output.weight": {4, 3},
		"blk.0.attn_norm.weight": {4}, "blk.0.attn_q.weight": {4, 4}, "blk.0.attn_k.weight": {4, 2},
		"blk.0.attn_v.weight": {4, 2}, "blk.0.attn_q.bias": {4}, "blk.0.attn_k.bias": {2}, "blk.0.attn_v.bias": {2},
		"blk.0.attn_output.weight": {4, 4}, "blk.0.ffn_norm.weight": {4}, "blk.0.ffn_gate.weight": {4, 4},
		"blk.0.ffn_up.weight": {4, 4}, "blk.0.ffn_down.weight": {4, 4},
	}
	names := make([]string, 0, len(dims))
	for n := range dims {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		size, _ := gguf.TensorBytes(weights.F32, dims[n])
		if err := w.AddTensor(n, weights.F32, dims[n], make([]byte, size)); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	src, _, err := Open(path)
	if err != nil {
		f.Fatalf("seed model does not open: %v", err)
	}
	src.Close()
	return b
}

// TestLlamaAttentionBias: a Llama with attention_bias has q/k/v and o_proj
// biases. The table lists all four, so init writes them, the forward pass
// finds them, and they survive a GGUF round trip (which reads
// attention_bias back from the file's tensors).
func TestLlamaAttentionBias(t *testing.T) {
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	bias := true
	cfg.ModelType, cfg.Architectures, cfg.AttentionBias = "llama", []string{"LlamaForCausalLM"}, &bias
	dir := t.TempDir()
	if err := Init(dir, cfg, 1, nil); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	src, c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "llama.gguf")
	if err := WriteGGUF(path, src, c, GGUFOptions{Type: KeepType}); err != nil {
		t.Fatal(err)
	}
	g, err := OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Config.AttentionBias == nil || !*g.Config.AttentionBias {
		t.Errorf("attention_bias from GGUF = %v, want true", g.Config.AttentionBias)
	}
	for _, n := range []string{"model.layers.1.self_attn.q_proj.bias", "model.layers.1.self_attn.o_proj.bias"} {
		want, _ := src.Tensor(n)
		got, err := g.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s differs after the GGUF round trip", n)
		}
	}
}

// TestTableNames: every row of the tensor table maps to llama.cpp's name
// and back.
func TestTableNames(t *testing.T) {
	for _, r := range append(append([]tensorRow{embedRow}, tailRows...), layerRows...) {
		hf, gg := r.hf, r.gguf
		if !strings.HasPrefix(hf, "model.") && !strings.HasPrefix(hf, "lm_head") {
			hf, gg = "model.layers.7."+hf, "blk.7."+gg
		}
		if got, ok := GGUFName(hf); !ok || got != gg {
			t.Errorf("GGUFName(%q) = %q, %v; want %q", hf, got, ok, gg)
		}
		if got, ok := HFName(gg); !ok || got != hf {
			t.Errorf("HFName(%q) = %q, %v; want %q", gg, got, ok, hf)
		}
	}
}

// A GGUF with llama.cpp RoPE scaling ragtune does not run (linear), or
// YaRN without its factor, is refused by name instead of run with plain
// RoPE; "none" and an absent key are plain RoPE (YaRN: yarn_test.go).
func TestGGUFRopeScalingType(t *testing.T) {
	for _, kind := range []string{"", "none", "yarn", "linear"} {
		path := filepath.Join(t.TempDir(), "m.gguf")
		w := gguf.NewWriter(path)
		w.AddMetadata("general.architecture", "qwen3")
		for k, v := range map[string]uint32{"block_count": 1, "context_length": 16, "embedding_length": 4, "feed_forward_length": 4, "attention.head_count": 2, "attention.head_count_kv": 1} {
			w.AddMetadata("qwen3."+k, v)
		}
		if kind != "" {
			w.AddMetadata("qwen3.rope.scaling.type", kind)
		}
		size, _ := gguf.TensorBytes(weights.F32, []uint64{4, 3})
		if err := w.AddTensor("token_embd.weight", weights.F32, []uint64{4, 3}, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ConfigFromGGUF(f)
		f.Close()
		if refuse := kind == "yarn" || kind == "linear"; refuse != (err != nil) || (refuse && !strings.Contains(err.Error(), kind)) {
			t.Errorf("rope.scaling.type %q: error %v", kind, err)
		}
	}
}
