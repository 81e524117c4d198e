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
	"testing"

	"ragtune/model"
)

// goldenModel is a recipe for a model the goldens were computed on. The
// tests rebuild it with model.InitWith (deterministic from the seed) rather
// than committing weights, and check its SHA-256 first, so a change in the
// initializer is reported as such and not as a forward-pass mismatch.
type goldenModel struct {
	Preset    string  `json:"preset"`
	Seed      uint64  `json:"seed"`
	VocabSize int     `json:"vocab_size"`
	InitRange float64 `json:"initializer_range"`
	SHA256    string  `json:"sha256"` // of model.safetensors
}

// goldenModels are written by TestWriteGoldenModels for the scripts.
// "tiny" is exactly `ragtune model init --preset tiny --seed 1` (its
// byte-level vocabulary, 263 tokens, rounded up to 320 rows); "tiny-sharp"
// has weights 7.5× larger so attention and logits are far from uniform and
// every mistake shows in the logits.
var goldenModels = map[string]goldenModel{
	"tiny":       {Preset: "tiny", Seed: 1, VocabSize: 320},
	"tiny-sharp": {Preset: "tiny", Seed: 2, VocabSize: 320, InitRange: 0.15},
}

// build writes the model into dir and returns the SHA-256 of its weights.
func (g goldenModel) build(t testing.TB, dir string) string {
	t.Helper()
	cfg, err := model.Preset(g.Preset)
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = g.VocabSize
	if g.InitRange != 0 {
		cfg.InitializerRange = g.InitRange
	}
	if err := model.InitWith(dir, cfg, g.Seed, model.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestWriteGoldenModels writes every golden model under
// $RAGTUNE_GOLDEN_MODELS (the scripts call it); it skips otherwise.
func TestWriteGoldenModels(t *testing.T) {
	root := os.Getenv("RAGTUNE_GOLDEN_MODELS")
	if root == "" {
		t.Skip("set RAGTUNE_GOLDEN_MODELS=DIR to write the golden models (scripts/qwen2_reference.py does)")
	}
	recipes := map[string]goldenModel{}
	for name, g := range goldenModels {
		g.SHA256 = g.build(t, filepath.Join(root, name))
		recipes[name] = g
	}
	if err := model.WriteJSON(filepath.Join(root, "recipes.json"), recipes); err != nil {
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
func loadGoldenModel(t *testing.T, g goldenModel) *Model {
	t.Helper()
	dir := t.TempDir()
	if got, want := g.build(t, dir), g.SHA256; got != want {
		t.Fatalf("model.InitWith(%+v) wrote weights with SHA-256 %s, the golden was made on %s: the initializer changed; regenerate the goldens (see scripts/README.md)", g, got, want)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestPyTorchGolden compares every position's logits with the independent
// PyTorch reference (scripts/qwen2_reference.py, float64), for prefill and
// for token-by-token decode with the KV cache.
func TestPyTorchGolden(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-sharp"} {
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
			m := loadGoldenModel(t, g.Recipe)
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
