package qwen2

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"ragtune/quant"
)

// TestLlamaCppGoldenFile checks ragtune against a llama.cpp golden made on
// a GGUF file too large to keep in the repository: scripts/llama70b_shape.sh
// writes the R1-Distill-Llama-70B shape (hidden 8192, 64 heads over 8 KV
// heads, MLP 28672, vocabulary 128256) with two layers, quantizes it to
// Q4_0 and has llama.cpp (scripts/qwen2_llamacpp.mjs golden --model) record
// per prompt the next-token top-50 and the 32-token greedy continuation.
// Set RAGTUNE_LLAMACPP_GGUF=FILE and RAGTUNE_LLAMACPP_GOLDEN=JSON to run it.
// It asks what the tiny goldens meet: probabilities within 1e-3 relative
// where they are above 1e-6, and the same continuation unless llama.cpp's
// token was within 1e-3 (relative) of ours, a tie that rounding decides.
// On the 2-layer 70B shape (node-llama-cpp 3.21.1) it does not yet: the
// next token and the first 7-30 greedy tokens agree on all six prompts,
// but top-50 probabilities differ by up to 16% relative. The difference is
// in Q4_0 compute, not the architecture: at hidden 512 the F32 files of
// Qwen2 and Llama agree within 2e-6, their pure Q4_0 files differ by about
// 1% on most prompts, yet within 1e-7 on some prompt lengths (46 and 82
// tokens for Llama), as if one engine took a differently rounded path for
// some batch shapes. Not found yet.
func TestLlamaCppGoldenFile(t *testing.T) {
	path, goldenPath := os.Getenv("RAGTUNE_LLAMACPP_GGUF"), os.Getenv("RAGTUNE_LLAMACPP_GOLDEN")
	if path == "" || goldenPath == "" {
		t.Skip("set RAGTUNE_LLAMACPP_GGUF=FILE and RAGTUNE_LLAMACPP_GOLDEN=JSON (scripts/llama70b_shape.sh does)")
	}
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var g llamaCppGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("parse %s: %v", goldenPath, err)
	}
	if len(g.Cases) == 0 {
		t.Fatalf("%s has no prompts", goldenPath)
	}
	m, err := Load(path, WithMatrixLoader(quant.Loader(DefaultMatrix)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Logf("%s: %s, hidden %d, %d layers, %d heads over %d KV heads, vocab %d", path, m.cfg.ModelType, m.cfg.HiddenSize,
		m.cfg.NumHiddenLayers, m.cfg.NumAttentionHeads, m.cfg.NumKeyValueHeads, m.cfg.VocabSize)
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			s := m.NewState(len(c.Tokens) + len(c.Greedy))
			logits, err := s.Forward(c.Tokens)
			if err != nil {
				t.Fatal(err)
			}
			p := softmax64(logits)
			worstRel, worstID := 0.0, 0
			for _, e := range c.Next.Top {
				id, want := int(e[0]), e[1]
				if d := math.Abs(p[id]-want) / want; want > 1e-6 && d > worstRel {
					worstRel, worstID = d, id
				}
			}
			t.Logf("%d prompt tokens; top-%d next-token probabilities (llama.cpp's top %.3g): max rel diff %.2g (token %d)",
				len(c.Tokens), len(c.Next.Top), c.Next.Top[0][1], worstRel, worstID)
			if worstRel > 1e-3 {
				t.Errorf("next-token p(%d) = %.6g, llama.cpp %.6g", worstID, p[worstID], lookupTop(c.Next.Top, worstID))
			}
			var got []int
			for step, want := range c.Greedy {
				next := argmax(p)
				got = append(got, next)
				if next != want {
					if p[next]-p[want] > 1e-3*p[next] {
						t.Errorf("greedy step %d: %d (p %.6g), llama.cpp %d (p %.6g here)\n got  %v\n want %v", step, next, p[next], want, p[want], got, c.Greedy)
					} else {
						t.Logf("greedy step %d: a tie (p %.6g vs %.6g) that rounding decides; the continuations part here", step, p[next], p[want])
					}
					return
				}
				if step == len(c.Greedy)-1 {
					break
				}
				if logits, err = s.Forward([]int{next}); err != nil {
					t.Fatal(err)
				}
				p = softmax64(logits)
			}
			t.Logf("greedy continuation of %d tokens identical to llama.cpp's", len(got))
		})
	}
}

func lookupTop(top [][2]float64, id int) float64 {
	for _, e := range top {
		if int(e[0]) == id {
			return e[1]
		}
	}
	return math.NaN()
}
