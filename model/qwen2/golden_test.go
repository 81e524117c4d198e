package qwen2

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ragtune/internal/shareddata"
	"ragtune/model"
	"ragtune/tokenizer"
)

// goldenModel is a recipe for a model the goldens were computed on. The
// tests rebuild it with InitWith (deterministic from the seed) rather
// than committing weights, and check its SHA-256 first, so a change in the
// initializer is reported as such and not as a forward-pass mismatch.
type goldenModel struct {
	Preset string `json:"preset"`
	Arch   string `json:"arch,omitempty"` // PresetFor's arch; "" is the preset as named
	// Shape, when set, replaces the preset's sizes (odd shapes that no
	// preset has: widths off the SIMD and block multiples).
	Shape     *goldenShape `json:"shape,omitempty"`
	Seed      uint64       `json:"seed"`
	VocabSize int          `json:"vocab_size"`
	InitRange float64      `json:"initializer_range"`
	SHA256    string       `json:"sha256"` // of model.safetensors
}

// goldenShape overrides a preset's sizes.
type goldenShape struct {
	Hidden, Intermediate, Layers, Heads, KVHeads, HeadDim int
}

// goldenModels are written by TestWriteGoldenModels for the scripts.
// "tiny" is exactly `ragtune model init --preset tiny --seed 1` (its
// byte-level vocabulary, 263 tokens, rounded up to 320 rows); "tiny-sharp"
// has weights 7.5× larger so attention and logits are far from uniform and
// every mistake shows in the logits.
var goldenModels = map[string]goldenModel{
	"tiny":       {Preset: "tiny", Seed: 1, VocabSize: 320},
	"tiny-sharp": {Preset: "tiny", Seed: 2, VocabSize: 320, InitRange: 0.15},
	// Llama 3 and Qwen3 as `model init --preset tiny --arch A` writes them
	// (sharp weights), and at odd sizes: hidden 72 and 60, MLP 100 and 90,
	// head dimension 12 and 14 (Qwen3's not hidden/heads), GQA 3 and 5.
	"tiny-llama":     {Preset: "tiny", Arch: "llama", Seed: 5, VocabSize: 320, InitRange: 0.15},
	"tiny-qwen3":     {Preset: "tiny", Arch: "qwen3", Seed: 6, VocabSize: 320, InitRange: 0.15},
	"tiny-llama-odd": {Preset: "tiny", Arch: "llama", Seed: 7, VocabSize: 301, InitRange: 0.15, Shape: &goldenShape{Hidden: 72, Intermediate: 100, Layers: 3, Heads: 6, KVHeads: 2}},
	"tiny-qwen3-odd": {Preset: "tiny", Arch: "qwen3", Seed: 8, VocabSize: 301, InitRange: 0.15, Shape: &goldenShape{Hidden: 60, Intermediate: 90, Layers: 3, Heads: 5, KVHeads: 1, HeadDim: 14}},
	// Qwen3 with R1-0528's YaRN rope_scaling (see the preset).
	"tiny-yarn": {Preset: "tiny-qwen3-yarn", Seed: 11, VocabSize: 320, InitRange: 0.15},
}

// build writes the model into dir and returns the SHA-256 of its weights.
func (g goldenModel) build(t testing.TB, dir string) string {
	t.Helper()
	return g.buildWith(t, dir, nil)
}

// buildWith is build with a tokenizer written beside the weights. The
// weights depend only on the recipe: the tokenizer sets ids in config.json.
func (g goldenModel) buildWith(t testing.TB, dir string, tok Tokenizer) string {
	t.Helper()
	cfg, err := PresetFor(g.Preset, g.Arch)
	if err != nil {
		t.Fatal(err)
	}
	if sh := g.Shape; sh != nil {
		cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers = sh.Hidden, sh.Intermediate, sh.Layers
		cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim = sh.Heads, sh.KVHeads, sh.HeadDim
	}
	cfg.VocabSize = g.VocabSize
	if g.InitRange != 0 {
		cfg.InitializerRange = g.InitRange
	}
	opts := InitOptions{KeepVocab: true}
	if tok != nil {
		opts.Tokenizer = tok
	}
	if err := InitWith(dir, cfg, g.Seed, opts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// llamaCppModel is the model the llama.cpp goldens were computed on: the
// tiny shape with R1's vocabulary (Qwen2.5's BPE with R1's added tokens),
// so prompts in Chinese, English and the chat format tokenize as they do
// for the real model. Its weights are 0.5 (not 0.02) standard deviations so
// the next-token distribution over 151k tokens is peaked enough for
// probabilities to mean something. VocabSize is filled in when written.
var llamaCppModel = goldenModel{Preset: "tiny", Seed: 3, InitRange: 0.5}

// llamaCppArchModels are the Llama 3 and Qwen3 counterparts of
// llamaCppModel: `model init --preset tiny --arch A` shapes (Llama 3 RoPE
// scaling; Qwen3 q/k norms, head_dim 32 ≠ 96/4, tied head) with the real
// vocabularies (Llama 3's 128,256 tokens, Qwen3's 151,669), written to GGUF
// as tiny-NAME.gguf with llamacpp-recipe-NAME.json.
var llamaCppArchModels = map[string]struct {
	model     goldenModel
	tokenizer string // ../shared/data folder
}{
	"llama3": {goldenModel{Preset: "tiny", Arch: "llama", Seed: 9, InitRange: 0.5}, "llama3-tokenizer"},
	"qwen3":  {goldenModel{Preset: "tiny", Arch: "qwen3", Seed: 10, InitRange: 0.5}, "qwen3-tokenizer"},
	// YaRN as llama.cpp reads it from WriteGGUF's rope.scaling.* keys.
	"qwen3-yarn": {goldenModel{Preset: "tiny-qwen3-yarn", Seed: 12, InitRange: 0.5}, "qwen3-tokenizer"},
}

// TestWriteGoldenModels writes every golden model under
// $RAGTUNE_GOLDEN_MODELS for the scripts (it skips otherwise): the PyTorch
// models as HF directories plus recipes.json, and the llama.cpp model as
// an HF directory with the R1 tokenizer and its GGUF export (tiny-qwen.gguf,
// written by package gguf as `ragtune model convert` does) plus
// llamacpp-recipe.json.
func TestWriteGoldenModels(t *testing.T) {
	root := os.Getenv("RAGTUNE_GOLDEN_MODELS")
	if root == "" {
		t.Skip("set RAGTUNE_GOLDEN_MODELS=DIR to write the golden models (the qwen2_* scripts do)")
	}
	recipes := map[string]goldenModel{}
	for name, g := range goldenModels {
		g.SHA256 = g.build(t, filepath.Join(root, name))
		recipes[name] = g
	}
	if err := model.WriteJSON(filepath.Join(root, "recipes.json"), recipes); err != nil {
		t.Fatal(err)
	}

	qwen, err := tokenizer.Load(shareddata.Path(t, "qwen2.5-tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenizer.R1FromQwen(qwen)
	g := llamaCppModel
	g.VocabSize = (tok.VocabSize() + 63) / 64 * 64 // as InitWith rounds it
	dir := filepath.Join(root, "tiny-qwen")
	g.SHA256 = g.buildWith(t, dir, tok)
	writeGGUF(t, dir, filepath.Join(root, "tiny-qwen.gguf"), tok.GGUFMetadata())
	if err := model.WriteJSON(filepath.Join(root, "llamacpp-recipe.json"), g); err != nil {
		t.Fatal(err)
	}
	for name, a := range llamaCppArchModels {
		tok, err := tokenizer.Load(shareddata.Path(t, a.tokenizer, "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		g := a.model
		g.VocabSize = (tok.VocabSize() + 63) / 64 * 64
		dir := filepath.Join(root, "tiny-"+name)
		g.SHA256 = g.buildWith(t, dir, tok)
		writeGGUF(t, dir, filepath.Join(root, "tiny-"+name+".gguf"), tok.GGUFMetadata())
		if err := model.WriteJSON(filepath.Join(root, "llamacpp-recipe-"+name+".json"), g); err != nil {
			t.Fatal(err)
		}
	}
}

// writeGGUF exports the HF model in dir as an F32 GGUF file, with the
// tokenizer metadata given (nil: none; enough for our own reader).
func writeGGUF(t testing.TB, dir, path string, tok map[string]any) {
	t.Helper()
	src, cfg, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := WriteGGUF(path, src, cfg, GGUFOptions{Type: KeepType, Name: "ragtune qwen2 golden", Tokenizer: tok}); err != nil {
		t.Fatal(err)
	}
}

// pytorchGolden is scripts/qwen2_reference.py's output.
type pytorchGolden struct {
	Generator string      `json:"generator"`
	Recipe    goldenModel `json:"recipe"`
	Cases     []struct {
		Tokens []int  `json:"tokens"`
		Logits string `json:"logits_f32le_b64"`
	} `json:"cases"`
}

func decodeF32(t *testing.T, b64 string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("golden logits: %v", err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// loadGoldenModel rebuilds a golden's model in a temp dir and loads it.
func loadGoldenModel(t *testing.T, g goldenModel, opts ...[]Option) []*Model {
	t.Helper()
	dir := t.TempDir()
	if got, want := g.build(t, dir), g.SHA256; got != want {
		t.Fatalf("InitWith(%+v) wrote weights with SHA-256 %s, the golden was made on %s: the initializer changed; regenerate the goldens (see scripts/README.md)", g, got, want)
	}
	var ms []*Model
	for _, o := range opts {
		m, err := Load(dir, o...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		ms = append(ms, m)
	}
	return ms
}

// TestPyTorchGolden compares every position's logits with the independent
// PyTorch reference (scripts/qwen2_reference.py, float64), for prefill and
// for token-by-token decode with the KV cache.
func TestPyTorchGolden(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-sharp", "tiny-llama", "tiny-qwen3", "tiny-llama-odd", "tiny-qwen3-odd", "tiny-yarn"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "pytorch_"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var g pytorchGolden
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatalf("parse golden: %v", err)
			}
			if len(g.Cases) == 0 {
				t.Fatal("golden has no cases")
			}
			// Default prefill chunk (one pass for every case) and 16-token
			// chunks (several passes reading earlier passes' KV cache).
			models := loadGoldenModel(t, g.Recipe, nil, []Option{WithPrefillChunk(16)})
			m := models[0]
			V := m.VocabSize()
			for _, c := range g.Cases {
				want := decodeF32(t, c.Logits)
				if len(want) != len(c.Tokens)*V {
					t.Fatalf("golden case of %d tokens has %d logits, want %d", len(c.Tokens), len(want), len(c.Tokens)*V)
				}
				prefill := make([]float32, len(want))
				t.Run(fmt.Sprintf("prefill/T=%d", len(c.Tokens)), func(t *testing.T) {
					if err := m.NewState(len(c.Tokens)).ForwardAll(c.Tokens, prefill); err != nil {
						t.Fatal(err)
					}
					requireClose(t, "logits vs PyTorch", prefill, want, 1e-4)
					chunked := make([]float32, len(want))
					if err := models[1].NewState(len(c.Tokens)).ForwardAll(c.Tokens, chunked); err != nil {
						t.Fatal(err)
					}
					requireClose(t, "logits in 16-token chunks vs PyTorch", chunked, want, 1e-4)
				})
				t.Run(fmt.Sprintf("decode/T=%d", len(c.Tokens)), func(t *testing.T) {
					s := m.NewState(len(c.Tokens))
					for i, tok := range c.Tokens {
						got, err := s.Forward([]int{tok})
						if err != nil {
							t.Fatal(err)
						}
						// Decode (matrix-vector) and prefill (GEMM) sum in different
						// orders: 1e-5 of the logits' scale is float32 rounding.
						row := prefill[i*V : (i+1)*V]
						requireClose(t, fmt.Sprintf("pos %d decode vs prefill", i), got, row, 1e-5*max(1, maxAbs(row)))
						requireClose(t, fmt.Sprintf("pos %d decode vs PyTorch", i), got, want[i*V:(i+1)*V], 1e-4)
					}
				})
			}
		})
	}
}

// llamaCppGolden is scripts/qwen2_llamacpp.mjs's output.
type llamaCppGolden struct {
	Generator string      `json:"generator"`
	Recipe    goldenModel `json:"recipe"`
	Cases     []struct {
		Name   string `json:"name"`
		Text   string `json:"text"`
		Tokens []int  `json:"tokens"`
		Next   struct {
			Top [][2]float64 `json:"top"` // [token, probability]
		} `json:"next"`
		Greedy     []int     `json:"greedy"`
		GreedyProb []float64 `json:"greedy_prob"`
	} `json:"cases"`
}

// softmax64 returns softmax(logits) in float64.
func softmax64(logits []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// TestLlamaCppGolden runs the tiny model with R1's 151k vocabulary, and
// the tiny Llama 3 and Qwen3 models with theirs (128k, 151k; see
// llamaCppArchModels), written to GGUF by WriteGGUF and read back by Load,
// on the prompts llama.cpp saw: the next-token probabilities agree within 1e-3 absolute (and 1e-3
// relative for every token above 1e-4, a far stricter test on a 151k-way
// distribution), and the 32-token greedy continuation is identical.
func TestLlamaCppGolden(t *testing.T) {
	for _, name := range []string{"tiny-qwen", "tiny-llama3", "tiny-qwen3", "tiny-qwen3-yarn"} {
		t.Run(name, func(t *testing.T) { checkLlamaCppGolden(t, name) })
	}
}

// llamaCppTokenizer loads the vocabulary a llama.cpp golden model was
// written with, or returns nil (with a log line) when ../shared is absent.
func llamaCppTokenizer(t *testing.T, name string) *tokenizer.BPE {
	dir, file := "qwen2.5-tokenizer", "tokenizer.json"
	if a, ok := llamaCppArchModels[strings.TrimPrefix(name, "tiny-")]; ok {
		dir = a.tokenizer
	}
	p := filepath.Join(shareddata.Root(), "..", "shared", "data", dir, file)
	if _, err := os.Stat(p); err != nil {
		t.Logf("%s absent: prompt tokenization not checked", p)
		return nil
	}
	tok, err := tokenizer.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if name == "tiny-qwen" {
		tok = tokenizer.R1FromQwen(tok)
	}
	return tok
}

func checkLlamaCppGolden(t *testing.T, name string) {
	b, err := os.ReadFile(filepath.Join("testdata", "llamacpp_"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g llamaCppGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("parse golden: %v", err)
	}
	if len(g.Cases) < 5 {
		t.Fatalf("golden has %d prompts, want at least 5", len(g.Cases))
	}
	dir := t.TempDir()
	hf := filepath.Join(dir, "hf")
	if got, want := g.Recipe.build(t, hf), g.Recipe.SHA256; got != want {
		t.Fatalf("InitWith(%+v) wrote weights with SHA-256 %s, the golden was made on %s: the initializer changed; regenerate the goldens (see scripts/README.md)", g.Recipe, got, want)
	}
	ggufPath := filepath.Join(dir, name+".gguf")
	writeGGUF(t, hf, ggufPath, nil)
	os.RemoveAll(hf)
	m, err := Load(ggufPath)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok := llamaCppTokenizer(t, name)

	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if tok != nil {
				// The prompt as our tokenizer reads it (special tokens
				// spelled out, no BOS added) is what llama.cpp ran.
				if got := tok.Encode(c.Text, false); !slices.Equal(got, c.Tokens) {
					t.Errorf("prompt tokens differ from llama.cpp's:\n got  %v\n want %v", got, c.Tokens)
				}
			}
			s := m.NewState(len(c.Tokens) + len(c.Greedy))
			logits, err := s.Forward(c.Tokens)
			if err != nil {
				t.Fatal(err)
			}
			p := softmax64(logits)
			worstAbs, worstRel, worstID := 0.0, 0.0, 0
			for _, e := range c.Next.Top {
				id, want := int(e[0]), e[1]
				d := math.Abs(p[id] - want)
				worstAbs = max(worstAbs, d)
				if want > 1e-4 && d/want > worstRel {
					worstRel, worstID = d/want, id
				}
			}
			t.Logf("top-%d next-token probabilities: max abs diff %.2g, max rel diff %.2g (token %d)", len(c.Next.Top), worstAbs, worstRel, worstID)
			if worstAbs > 1e-3 || worstRel > 1e-3 {
				t.Errorf("next-token probabilities differ from llama.cpp: max abs %.3g, max rel %.3g at token %d (p %.6g, llama.cpp %.6g)", worstAbs, worstRel, worstID, p[worstID], c.Next.Top[0][1])
			}

			var got []int
			for step := range c.Greedy {
				next := argmax(p)
				got = append(got, next)
				if d := math.Abs(p[next] - c.GreedyProb[step]); next == c.Greedy[step] && d > 1e-3 {
					t.Errorf("greedy step %d: p(%d) = %.6g, llama.cpp %.6g", step, next, p[next], c.GreedyProb[step])
				}
				if step == len(c.Greedy)-1 {
					break
				}
				if logits, err = s.Forward([]int{next}); err != nil {
					t.Fatal(err)
				}
				p = softmax64(logits)
			}
			if !slices.Equal(got, c.Greedy) {
				t.Errorf("greedy continuation differs from llama.cpp:\n got  %v\n want %v", got, c.Greedy)
			}
		})
	}
}

// TestGGUFMatchesHF loads the same weights from an HF directory and from
// the GGUF export of it, for Qwen2, Llama 3 (whose GGUF stores q/k rows
// permuted for llama.cpp's RoPE layout, and its RoPE scaling as
// rope_freqs.weight) and Qwen3 (q/k norms, head_dim ≠ hidden/heads, tied
// head): the logits must be identical, and with only rope_freqs.weight to
// go by (a llama.cpp-converted file) within float32 rounding.
func TestGGUFMatchesHF(t *testing.T) {
	for _, arch := range []string{"qwen2", "llama", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			cfg, err := PresetFor("tiny", arch)
			if err != nil {
				t.Fatal(err)
			}
			cfg.VocabSize, cfg.InitializerRange = 320, 0.15
			dir := t.TempDir()
			hf := filepath.Join(dir, "hf")
			if err := InitWith(hf, cfg, 4, InitOptions{KeepVocab: true}); err != nil {
				t.Fatal(err)
			}
			ggufPath := filepath.Join(dir, "m.gguf")
			writeGGUF(t, hf, ggufPath, nil)
			toks := testTokens(12, cfg.VocabSize, 5)
			var logits [2][]float32
			for i, path := range []string{hf, ggufPath} {
				m, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := m.Config().ModelType, arch; got != want {
					t.Errorf("%s: model_type %q, want %q", path, got, want)
				}
				logits[i] = prefillAll(t, m, toks)
				m.Close()
			}
			requireClose(t, "GGUF vs HF logits", logits[1], logits[0], 0)
			if arch != "llama" {
				return
			}
			src, err := OpenGGUF(ggufPath)
			if err != nil {
				t.Fatal(err)
			}
			c := *src.Config
			if c.RopeScaling.Kind() != "llama3" {
				t.Fatalf("GGUF config lost rope_scaling: %+v", c.RopeScaling)
			}
			c.RopeScaling = nil
			if c.RopeFreqFactors, err = ropeFreqsFromGGUF(src.File); err != nil || len(c.RopeFreqFactors) != c.HeadDimension()/2 {
				t.Fatalf("rope_freqs.weight: %v, %d factors", err, len(c.RopeFreqFactors))
			}
			m, err := New(&c, src)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			requireClose(t, "logits with rope_freqs.weight only vs HF", prefillAll(t, m, toks), logits[0], 1e-5*max(1, maxAbs(logits[0])))
			if err := c.Save(t.TempDir()); err == nil {
				t.Error("saving a config with only rope_freqs.weight succeeded; config.json cannot express it")
			}
		})
	}
}
