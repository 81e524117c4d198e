package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"ragtune/gguf"
	"ragtune/model/qwen2"
	"ragtune/quant"
)

// TestQuantizeMatchesLlamaCpp quantizes the tiny model and requires every
// tensor's type and bytes to equal what llama.cpp's llama-quantize wrote
// for the same model (scripts/quant_llamacpp_model.py made the golden).
func TestQuantizeMatchesLlamaCpp(t *testing.T) {
	raw, err := os.ReadFile("testdata/quantize_llamacpp_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]map[string]struct {
		Type   uint32 `json:"type"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny")
	if err := runModelInit([]string{"--out", model, "--preset", "tiny"}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"q8_0", "q4_0"} {
		want := golden[typ]
		if len(want) == 0 {
			t.Fatalf("golden has no %s entry", typ)
		}
		out := filepath.Join(dir, typ+".gguf")
		if err := runQuantize([]string{"--model", model, "--type", typ, "--out", out}); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(f.Tensors); got != len(want) {
			t.Errorf("%s: %d tensors, llama.cpp wrote %d", typ, got, len(want))
		}
		for _, ti := range f.Tensors {
			w, ok := want[ti.Name]
			if !ok {
				t.Errorf("%s: tensor %q not in llama.cpp's file", typ, ti.Name)
				continue
			}
			sum := sha256.Sum256(ti.Data)
			if got := uint32(ti.Type); got != w.Type {
				t.Errorf("%s %s: type %s (%d), llama.cpp chose %d", typ, ti.Name, ti.Type, got, w.Type)
			} else if got := hex.EncodeToString(sum[:]); got != w.SHA256 {
				t.Errorf("%s %s: data differs from llama.cpp's (sha256 %s, want %s)", typ, ti.Name, got, w.SHA256)
			}
		}
		f.Close()
	}
}

func TestQuantizeUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--model", "x", "--out", "y"},
		{"--model", "x", "--out", "y", "--type", "q5_k"},
	} {
		if err := runQuantize(args); err == nil {
			t.Errorf("runQuantize(%q) succeeded, want a usage error", args)
		}
	}
}

// TestQuantizedRunsLikeLlamaCpp runs the tiny model's Q8_0 and Q4_0 files
// (as written by runQuantize, byte-identical to llama.cpp's) on the prompts
// of testdata/llamacpp_tiny_*.json, which llama.cpp evaluated on the same
// files (scripts/quant_llamacpp_greedy.sh): the next-token distribution must
// agree, and the greedy continuation must match token for token until a
// step where the two picks are a near-tie (random tiny weights give nearly
// uniform distributions, so llama.cpp's int8 activations can swap them).
func TestQuantizedRunsLikeLlamaCpp(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "tiny")
	if err := runModelInit([]string{"--out", m, "--preset", "tiny"}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"q8_0", "q4_0"} {
		raw, err := os.ReadFile("testdata/llamacpp_tiny_" + typ + ".json")
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
		path := filepath.Join(dir, typ+".gguf")
		if err := runQuantize([]string{"--model", m, "--type", typ, "--out", path}); err != nil {
			t.Fatal(err)
		}
		mod, err := qwen2.Load(path, qwen2.WithMatrixLoader(quant.Loader(qwen2.DefaultMatrix)))
		if err != nil {
			t.Fatal(err)
		}
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
			// Probabilities are ~1/320 here; 2e-5 is under 0.5% of one.
			if worst > 2e-5 {
				t.Errorf("%s %s: next-token p(%d) = %.6f, llama.cpp %.6f", typ, c.Name, wi, probs[wi], lookup(c.Next.Top, wi))
			}
			for i, want := range c.Greedy {
				next := argmax(logits)
				if next != want {
					p := softmax64(logits)
					if p[next]-p[want] > 2e-5 || i < 4 {
						t.Errorf("%s %s: greedy token %d is %d (p=%.6f), llama.cpp chose %d (p=%.6f here)",
							typ, c.Name, i, next, p[next], want, p[want])
					}
					break // a near-tie: the continuations part here
				}
				if logits, err = st.Forward([]int{next}); err != nil {
					t.Fatal(err)
				}
			}
		}
		mod.Close()
	}
}

func softmax64(logits []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(logits))
	var s float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - mx)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func lookup(top [][2]float64, id int) float64 {
	for _, tp := range top {
		if int(tp[0]) == id {
			return tp[1]
		}
	}
	return math.NaN()
}
