package qwen2_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/safetensors"
	"ragtune/weights"
)

// tinyConfig is the tiny preset with the vocabulary `ragtune model init
// --preset tiny` gives it (the 263-token byte-level R1 tokenizer rounded
// up to 320).
func tinyConfig(t *testing.T, dtype string) qwen2.Config {
	t.Helper()
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize, cfg.BOSTokenID, cfg.EOSTokenID = 320, 259, 256
	cfg.TorchDtype = dtype
	return cfg
}

func initTiny(t *testing.T, dtype string, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	if err := qwen2.Init(dir, tinyConfig(t, dtype), seed, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openModel(t *testing.T, path string) (weights.Source, *qwen2.Config) {
	t.Helper()
	src, cfg, err := qwen2.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src, cfg
}

// sameTensors checks that b holds every tensor of a with the same dtype,
// shape and bytes.
func sameTensors(t *testing.T, a, b weights.Source) {
	t.Helper()
	names := a.Names()
	if len(names) == 0 {
		t.Fatal("source has no tensors")
	}
	for _, n := range names {
		ta, _ := a.Tensor(n)
		tb, err := b.Tensor(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if ta.DType != tb.DType || !reflect.DeepEqual(ta.Shape, tb.Shape) {
			t.Errorf("%s: %s %v, want %s %v", n, tb.DType, tb.Shape, ta.DType, ta.Shape)
			continue
		}
		if !bytes.Equal(ta.Data, tb.Data) {
			t.Errorf("%s: bytes differ (first at %d)", n, firstDiff(ta.Data, tb.Data))
		}
	}
	if got, want := len(b.Names()), len(names); got != want {
		t.Errorf("%d tensors, want %d", got, want)
	}
}

// sameConfig compares configs except transformers_version, which GGUF
// does not carry.
func sameConfig(t *testing.T, got, want *qwen2.Config) {
	t.Helper()
	g, w := *got, *want
	g.TransformersVer, w.TransformersVer = "", ""
	if !reflect.DeepEqual(g, w) {
		t.Errorf("config:\n %+v\nwant\n %+v", g, w)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestInitAndOpen(t *testing.T) {
	dir := initTiny(t, "float32", 1)
	src, cfg := openModel(t, dir)
	want := tinyConfig(t, "float32")
	if cfg.HiddenSize != want.HiddenSize || cfg.VocabSize != 320 || cfg.BOSTokenID != 259 || cfg.EOSTokenID != 256 || !cfg.HasQKVBias() {
		t.Errorf("config = %+v", cfg)
	}
	specs := qwen2.Tensors(cfg)
	if got, want := len(src.Names()), len(specs); got != want {
		t.Errorf("%d tensors, want %d", got, want)
	}
	gen, err := model.LoadGenerationConfig(dir)
	if err != nil || gen == nil {
		t.Fatalf("generation config: %v", err)
	}
	if !gen.DoSample || gen.Temperature != 0.6 || gen.TopP != 0.95 || gen.BOSTokenID != 259 || !reflect.DeepEqual(gen.EOSTokenIDs(), []int{256}) {
		t.Errorf("generation config = %+v", gen)
	}
	// Statistics: matrices ~N(0, 0.02), norms ~1, biases non-zero.
	tests := []struct {
		name     string
		mean, sd float64
	}{
		{"model.embed_tokens.weight", 0, 0.02},
		{"model.layers.1.mlp.down_proj.weight", 0, 0.02},
		{"model.layers.0.self_attn.q_proj.bias", 0, 0.02},
		{"model.norm.weight", 1, 0.1},
	}
	for _, tc := range tests {
		tt, err := src.Tensor(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		var sum, sq float64
		for _, x := range v {
			sum += float64(x)
		}
		mean := sum / float64(len(v))
		for _, x := range v {
			sq += (float64(x) - mean) * (float64(x) - mean)
		}
		sd := sqrt(sq / float64(len(v)))
		tol := 4 * tc.sd / sqrt(float64(len(v)))
		if abs(mean-tc.mean) > tol || abs(sd-tc.sd) > 0.25*tc.sd {
			t.Errorf("%s: mean %.4f sd %.4f, want about %.4f and %.4f", tc.name, mean, sd, tc.mean, tc.sd)
		}
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 60 {
		if z == 0 {
			return 0
		}
		z = (z + x/z) / 2
	}
	return z
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestInitDeterministic(t *testing.T) {
	a, _ := os.ReadFile(filepath.Join(initTiny(t, "bfloat16", 7), "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(initTiny(t, "bfloat16", 7), "model.safetensors"))
	c, _ := os.ReadFile(filepath.Join(initTiny(t, "bfloat16", 8), "model.safetensors"))
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different files")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same file")
	}
}

// goldenTensor is one row of testdata/tiny_seed1_tensors.json.
type goldenTensor struct {
	Name   string `json:"name"`
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	SHA256 string `json:"sha256"`
}

// TestInitGolden compares `model init --preset tiny --seed 1` with the
// tensor list and hashes that scripts/formats_golden_tiny.sh recorded
// (hashed by Python from the safetensors file, not by this package).
func TestInitGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/tiny_seed1_tensors.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []goldenTensor
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	src, _ := openModel(t, initTiny(t, "float32", 1))
	var got []goldenTensor
	for _, n := range src.Names() {
		tt, _ := src.Tensor(n)
		sum := sha256.Sum256(tt.Data)
		got = append(got, goldenTensor{n, tt.DType.String(), tt.Shape, hex.EncodeToString(sum[:])})
	}
	if len(got) != len(want) {
		t.Fatalf("%d tensors, golden has %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("tensor %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

// TestGGUFRoundTrip: HF dir → GGUF → HF dir keeps every tensor bit for bit
// and the config, for each float dtype.
func TestGGUFRoundTrip(t *testing.T) {
	for _, dtype := range []string{"float32", "bfloat16", "float16"} {
		t.Run(dtype, func(t *testing.T) {
			dir := initTiny(t, dtype, 3)
			src, cfg := openModel(t, dir)
			ggufPath := filepath.Join(t.TempDir(), "tiny.gguf")
			toks := make([]string, 263)
			types := make([]int32, 263)
			for i := range toks {
				toks[i], types[i] = fmt.Sprintf("t%d", i), 1
			}
			meta := map[string]any{
				"tokenizer.ggml.model":        "gpt2",
				"tokenizer.ggml.tokens":       toks,
				"tokenizer.ggml.token_type":   types,
				"tokenizer.ggml.bos_token_id": 259,
				"tokenizer.ggml.eos_token_id": uint32(256),
			}
			if err := qwen2.WriteGGUF(ggufPath, src, cfg, qwen2.GGUFOptions{Type: qwen2.KeepType, Name: "tiny", Tokenizer: meta}); err != nil {
				t.Fatal(err)
			}
			gsrc, gcfg := openModel(t, ggufPath)
			sameConfig(t, gcfg, cfg)
			for _, n := range src.Names() {
				a, _ := src.Tensor(n)
				b, err := gsrc.Tensor(n)
				if err != nil {
					t.Fatal(err)
				}
				av, _ := a.Float32()
				bv, _ := b.Float32()
				if !reflect.DeepEqual(av, bv) || !reflect.DeepEqual(a.Shape, b.Shape) {
					t.Errorf("%s: values differ after GGUF", n)
				}
				if len(a.Shape) == 2 && !bytes.Equal(a.Data, b.Data) {
					t.Errorf("%s: matrix bytes differ after GGUF", n)
				}
			}
			gf, err := gguf.Open(ggufPath)
			if err != nil {
				t.Fatal(err)
			}
			toks = gf.Metadata["tokenizer.ggml.tokens"].([]string)
			types = gf.Metadata["tokenizer.ggml.token_type"].([]int32)
			if len(toks) != 320 || toks[300] != "[PAD300]" || len(types) != 320 || types[319] != 5 {
				t.Errorf("vocabulary not padded to 320: %d tokens, %d types", len(toks), len(types))
			}
			if got, want := gf.Metadata["tokenizer.ggml.bos_token_id"], any(uint32(259)); got != want {
				t.Errorf("bos id = %#v, want %#v", got, want)
			}
			gf.Close()

			back := t.TempDir()
			if err := qwen2.SaveHF(back, gsrc, *gcfg, qwen2.SaveOptions{DType: qwen2.KeepDType}); err != nil {
				t.Fatal(err)
			}
			bsrc, bcfg := openModel(t, back)
			sameTensors(t, src, bsrc)
			sameConfig(t, bcfg, cfg)
		})
	}
}

func TestGGUFConvertTypes(t *testing.T) {
	src, cfg := openModel(t, initTiny(t, "float32", 4))
	path := filepath.Join(t.TempDir(), "bf16.gguf")
	if err := qwen2.WriteGGUF(path, src, cfg, qwen2.GGUFOptions{Type: weights.BF16}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, ti := range f.Tensors {
		want := weights.BF16
		if len(ti.Dims) == 1 {
			want = weights.F32
		}
		if ti.Type != want {
			t.Errorf("%s is %s, want %s", ti.Name, ti.Type, want)
		}
	}
	if got, want := f.Metadata["general.file_type"], any(uint32(32)); got != want {
		t.Errorf("file_type = %v, want %v", got, want)
	}
	q, _ := f.Tensor("blk.0.attn_q.weight")
	orig, _ := src.Tensor("model.layers.0.self_attn.q_proj.weight")
	ov, _ := orig.Float32()
	qt := &weights.Tensor{DType: q.Type, Shape: q.Shape(), Data: q.Data}
	qv, err := qt.Float32()
	if err != nil {
		t.Fatal(err)
	}
	worst, at := 0.0, 0
	for i := range ov {
		if d := abs(float64(ov[i]-qv[i])) / (abs(float64(ov[i])) + 1e-30); d > worst {
			worst, at = d, i
		}
	}
	if worst > 1.0/256 {
		t.Errorf("BF16 relative error %.3g at %d (%g vs %g), want ≤ 2^-8", worst, at, qv[at], ov[at])
	}
	if err := qwen2.WriteGGUF(filepath.Join(t.TempDir(), "q.gguf"), src, cfg, qwen2.GGUFOptions{Type: weights.Q8_0}); err == nil || !strings.Contains(err.Error(), "quantize") {
		t.Errorf("Q8_0 target: err = %v", err)
	}
}

// TestLlamaPermutation: a llama-type model goes through GGUF with q/k rows
// permuted in the file and restored on read.
func TestLlamaPermutation(t *testing.T) {
	cfg := tinyConfig(t, "float32")
	cfg.ModelType, cfg.Architectures = "llama", []string{"LlamaForCausalLM"}
	noBias := false
	cfg.AttentionBias = &noBias
	dir := t.TempDir()
	if err := qwen2.Init(dir, cfg, 5, nil); err != nil {
		t.Fatal(err)
	}
	src, scfg := openModel(t, dir)
	path := filepath.Join(t.TempDir(), "llama.gguf")
	if err := qwen2.WriteGGUF(path, src, scfg, qwen2.GGUFOptions{Type: qwen2.KeepType}); err != nil {
		t.Fatal(err)
	}
	gsrc, gcfg := openModel(t, path)
	if gcfg.HasQKVBias() {
		t.Error("llama model without bias read back with bias")
	}
	sameTensors(t, src, gsrc)
	f, _ := gguf.Open(path)
	defer f.Close()
	raw, _ := f.Tensor("blk.0.attn_k.weight")
	hf, _ := src.Tensor("model.layers.0.self_attn.k_proj.weight")
	if bytes.Equal(raw.Data, hf.Data) {
		t.Error("k rows stored unpermuted in the llama GGUF")
	}
}

func TestShardedOpen(t *testing.T) {
	dir := initTiny(t, "float32", 2)
	whole, _ := openModel(t, dir)
	sharded := t.TempDir()
	names := whole.Names()
	idx := &safetensors.Index{WeightMap: map[string]string{}}
	for s, part := range [][]string{names[:len(names)/2], names[len(names)/2:]} {
		file := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[s]
		w := safetensors.NewWriter(filepath.Join(sharded, file))
		for _, n := range part {
			tt, _ := whole.Tensor(n)
			st, _ := safetensors.FromWeightsDType(tt.DType)
			if err := w.Add(n, st, tt.Shape, tt.Data); err != nil {
				t.Fatal(err)
			}
			idx.WeightMap[n] = file
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := safetensors.WriteIndex(sharded, idx); err != nil {
		t.Fatal(err)
	}
	cfgBytes, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(sharded, "config.json"), cfgBytes, 0o644)
	src, _ := openModel(t, sharded)
	sameTensors(t, whole, src)
}

func TestOpenErrors(t *testing.T) {
	write := func(t *testing.T, mutate func(dir string)) string {
		t.Helper()
		dir := initTiny(t, "float32", 1)
		mutate(dir)
		return dir
	}
	editConfig := func(edit func(m map[string]any)) func(string) {
		return func(dir string) {
			p := filepath.Join(dir, "config.json")
			b, _ := os.ReadFile(p)
			var m map[string]any
			json.Unmarshal(b, &m)
			edit(m)
			b, _ = json.Marshal(m)
			os.WriteFile(p, b, 0o644)
		}
	}
	tests := []struct {
		name   string
		mutate func(dir string)
		want   string
	}{
		{"unknown architecture", editConfig(func(m map[string]any) { m["model_type"] = "gpt_neox" }), "unknown architecture \"gpt_neox\""},
		{"shape mismatch", editConfig(func(m map[string]any) { m["intermediate_size"] = 128.0 }), "config implies [128 64]"},
		{"more layers than tensors", editConfig(func(m map[string]any) { m["num_hidden_layers"] = 3.0 }), "missing tensor \"model.layers.2."},
		{"no config", func(dir string) { os.Remove(filepath.Join(dir, "config.json")) }, "config.json"},
		{"no weights", func(dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) }, "neither model.safetensors"},
		{"truncated weights", func(dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "truncated"},
		{"garbage weights", func(dir string) {
			os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("hello world, not a model"), 0o644)
		}, "corrupt safetensors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := qwen2.Open(write(t, tc.mutate))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("truncated gguf", func(t *testing.T) {
		src, cfg := openModel(t, initTiny(t, "float32", 1))
		p := filepath.Join(t.TempDir(), "m.gguf")
		if err := qwen2.WriteGGUF(p, src, cfg, qwen2.GGUFOptions{Type: qwen2.KeepType}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)-100], 0o644)
		_, _, err := qwen2.Open(p)
		if err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not a model", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "x.bin")
		os.WriteFile(p, []byte("12345678"), 0o644)
		_, _, err := qwen2.Open(p)
		if err == nil || !strings.Contains(err.Error(), "not a model directory") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing tensor lookup", func(t *testing.T) {
		src, _ := openModel(t, initTiny(t, "float32", 1))
		_, err := src.Tensor("nope")
		if !errors.Is(err, weights.ErrNotFound) {
			t.Errorf("err = %v, want ErrTensorNotFound", err)
		}
	})
}

type fakeTokenizer struct {
	n        int
	wroteDir string
}

func (f *fakeTokenizer) VocabSize() int { return f.n }
func (f *fakeTokenizer) BOS() int       { return 1 }
func (f *fakeTokenizer) EOS() int       { return 2 }
func (f *fakeTokenizer) WriteJSON(path string) error {
	return os.WriteFile(path, []byte("{}"), 0o644)
}
func (f *fakeTokenizer) WriteConfig(dir string) error { f.wroteDir = dir; return nil }

func TestInitVocabFromTokenizer(t *testing.T) {
	tests := []struct {
		name      string
		preset    int
		tok       int
		keep      bool
		wantVocab int
	}{
		{"tiny rounds up", 512, 263, false, 320},
		{"exact multiple", 512, 256, false, 256},
		{"real shape kept", 1024, 263, true, 1024},
		{"tokenizer too big for preset", 256, 300, true, 320},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t, "float32")
			cfg.VocabSize = tc.preset
			tok := &fakeTokenizer{n: tc.tok}
			dir := t.TempDir()
			if err := qwen2.InitWith(dir, cfg, 1, qwen2.InitOptions{Tokenizer: tok, KeepVocab: tc.keep}); err != nil {
				t.Fatal(err)
			}
			got, err := qwen2.LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got.VocabSize != tc.wantVocab || got.BOSTokenID != 1 || got.EOSTokenID != 2 {
				t.Errorf("vocab %d bos %d eos %d, want %d 1 2", got.VocabSize, got.BOSTokenID, got.EOSTokenID, tc.wantVocab)
			}
			if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil || tok.wroteDir != dir {
				t.Errorf("tokenizer files not written (%v)", err)
			}
		})
	}
}

// TestReleasePages: releasing a mapped tensor keeps it readable, and a
// heap buffer handed to a source's ReleasePages is left alone (MADV_DONTNEED
// on anonymous memory would zero it).
func TestReleasePages(t *testing.T) {
	for _, form := range []string{"safetensors", "gguf"} {
		t.Run(form, func(t *testing.T) {
			path := initTiny(t, "float32", 1)
			if form == "gguf" {
				src, cfg := openModel(t, path)
				path = filepath.Join(t.TempDir(), "m.gguf")
				if err := qwen2.WriteGGUF(path, src, cfg, qwen2.GGUFOptions{Type: qwen2.KeepType}); err != nil {
					t.Fatal(err)
				}
			}
			src, _ := openModel(t, path)
			if _, ok := src.(weights.PageReleaser); !ok {
				t.Fatalf("%T does not release pages", src)
			}
			tt, _ := src.Tensor("model.embed_tokens.weight")
			before := append([]byte(nil), tt.Data...)
			weights.ReleasePages(src, tt)
			if !bytes.Equal(before, tt.Data) {
				t.Error("mapped tensor changed after ReleasePages")
			}
			heap := &weights.Tensor{Name: "h", DType: weights.F32, Shape: []int{1 << 15}, Data: bytes.Repeat([]byte{1}, 1<<17)}
			weights.ReleasePages(src, heap)
			if bytes.Count(heap.Data, []byte{1}) != len(heap.Data) {
				t.Error("heap tensor was zeroed by ReleasePages")
			}
		})
	}
}
