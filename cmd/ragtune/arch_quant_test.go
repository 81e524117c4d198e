package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"ragtune/model/qwen2"
	"ragtune/quant"
)

// TestArchQuantizedRunsLikeLlamaCpp is TestQuantizedRunsLikeLlamaCpp for
// the tiny Llama 3 and Qwen3 models: `model init --preset tiny --arch A`
// quantized by `ragtune quantize` to Q8_0, Q4_0 and Q4_K_M (whose 96- and
// 224-wide rows take llama-quantize's 32-value fallbacks) and evaluated by
// llama.cpp (node-llama-cpp 3.22.1: testdata/llamacpp_tiny-A_TYPE.json,
// scripts/qwen2_llamacpp.mjs golden --model, --prompts qwen3 for Qwen3).
// So llama.cpp loads those files, and ragtune runs them as it does.
func TestArchQuantizedRunsLikeLlamaCpp(t *testing.T) {
	dir := t.TempDir()
	for _, arch := range []string{"llama", "qwen3"} {
		m := filepath.Join(dir, arch)
		if err := runModelInit([]string{"--out", m, "--preset", "tiny", "--arch", arch}); err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"q8_0", "q4_0", "q4_k_m"} {
			// Probabilities are ~1/320 here; 2e-5 is under 0.7% of one.
			// Q4_K_M's rows are too narrow for K-quants and fall back to
			// Q5_0/Q5_1, which ragtune runs by expanding to float while
			// llama.cpp multiplies them with Q8_0-quantized activations:
			// measured up to 4.3e-5 apart, so 6e-5, and the greedy
			// continuations may part at any near-tie.
			tol, strictStart := 2e-5, 4
			if typ == "q4_k_m" {
				tol, strictStart = 6e-5, 0
			}
			t.Run(arch+"/"+typ, func(t *testing.T) {
				raw, err := os.ReadFile("testdata/llamacpp_tiny-" + arch + "_" + typ + ".json")
				if err != nil {
					t.Fatal(err)
				}
				var golden struct {
					Cases []struct {
						Name   string
						Tokens []int
						Next   struct{ Top [][2]float64 }
						Greedy []int
					}
				}
				if err := json.Unmarshal(raw, &golden); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, arch+"-"+typ+".gguf")
				if err := runQuantize([]string{"--model", m, "--type", typ, "--out", path}); err != nil {
					t.Fatal(err)
				}
				mod, err := qwen2.Load(path, qwen2.WithMatrixLoader(quant.Loader(qwen2.DefaultMatrix)))
				if err != nil {
					t.Fatal(err)
				}
				defer mod.Close()
				if got := mod.Config().ModelType; got != arch {
					t.Fatalf("quantized file's model_type %q", got)
				}
				worstAll := 0.0
				for _, c := range golden.Cases {
					st := mod.NewState(len(c.Tokens) + len(c.Greedy))
					logits, err := st.Forward(c.Tokens)
					if err != nil {
						t.Fatal(err)
					}
					probs := softmax64(logits)
					worst, wi := 0.0, 0
					for _, tp := range c.Next.Top {
						if d := math.Abs(probs[int(tp[0])] - tp[1]); d > worst {
							worst, wi = d, int(tp[0])
						}
					}
					worstAll = max(worstAll, worst)
					if worst > tol {
						t.Errorf("%s: next-token p(%d) = %.6f, llama.cpp %.6f", c.Name, wi, probs[wi], lookup(c.Next.Top, wi))
					}
					for i, want := range c.Greedy {
						next := argmax(logits)
						if next != want {
							p := softmax64(logits)
							if p[next]-p[want] > tol || i < strictStart {
								t.Errorf("%s: greedy token %d is %d (p=%.6f), llama.cpp chose %d (p=%.6f here)", c.Name, i, next, p[next], want, p[want])
							}
							break // a near-tie: the continuations part here
						}
						if logits, err = st.Forward([]int{next}); err != nil {
							t.Fatal(err)
						}
					}
				}
				t.Logf("%d prompts: next-token probabilities within %.2g of llama.cpp's", len(golden.Cases), worstAll)
			})
		}
	}
}
