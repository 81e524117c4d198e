package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/weights"
)

// TestQuantizeKQuantMatchesLlamaCpp: for every mix (q2_k … q6_k, q4_0,
// q8_0, and --pure) on three generated models, `ragtune quantize` writes
// each tensor with the type and bytes llama.cpp's llama_model_quantize
// wrote (scripts/kquant_llamacpp_mixes.py made the golden): the tiny
// preset exercises the narrow-row fallbacks, the 8- and 17-layer models
// the layer and GQA rules.
func TestQuantizeKQuantMatchesLlamaCpp(t *testing.T) {
	raw, err := os.ReadFile("testdata/quantize_llamacpp_kquant.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	models := make([]string, 0, len(golden))
	for m := range golden {
		models = append(models, m)
	}
	sort.Strings(models)
	dir := t.TempDir()
	for _, name := range models {
		var init []string
		if err := json.Unmarshal(golden[name]["init"], &init); err != nil {
			t.Fatal(err)
		}
		if testing.Short() && name != "tiny" {
			continue
		}
		model := filepath.Join(dir, name)
		if err := runModelInit(append([]string{"--out", model}, init...)); err != nil {
			t.Fatal(err)
		}
		mixes := make([]string, 0, len(golden[name]))
		for mix := range golden[name] {
			if mix != "init" {
				mixes = append(mixes, mix)
			}
		}
		sort.Strings(mixes)
		for _, mix := range mixes {
			t.Run(name+"/"+mix, func(t *testing.T) {
				var want map[string][2]any
				if err := json.Unmarshal(golden[name][mix], &want); err != nil {
					t.Fatal(err)
				}
				typ, pure := strings.CutSuffix(mix, "+pure")
				out := filepath.Join(dir, name+"-"+strings.ReplaceAll(mix, "+", "-")+".gguf")
				args := []string{"--model", model, "--type", typ, "--out", out}
				if pure {
					args = append(args, "--pure")
				}
				if err := runQuantize(args); err != nil {
					t.Fatal(err)
				}
				f, err := gguf.Open(out)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if got := len(f.Tensors); got != len(want) {
					t.Errorf("%d tensors, llama.cpp wrote %d", got, len(want))
				}
				for _, ti := range f.Tensors {
					w, ok := want[ti.Name]
					if !ok {
						t.Errorf("tensor %q not in llama.cpp's file", ti.Name)
						continue
					}
					sum := sha256.Sum256(ti.Data)
					if got, wt := uint32(ti.Type), uint32(w[0].(float64)); got != wt {
						t.Errorf("%s: type %s, llama.cpp chose %s", ti.Name, ti.Type, weights.DType(wt))
					} else if got := hex.EncodeToString(sum[:8]); got != w[1].(string) {
						t.Errorf("%s (%s): bytes differ from llama.cpp's (sha256 %s…, want %s…)", ti.Name, ti.Type, got, w[1])
					}
				}
			})
		}
		os.RemoveAll(model)
	}
}
