package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"ragtune/gguf"
	"ragtune/internal/shareddata"
	"ragtune/tokenizer"
)

type golden struct {
	Models []struct {
		Name  string `json:"name"`
		Cases []struct {
			Text      string    `json:"text"`
			IDs       []int     `json:"ids"`
			Embedding []float32 `json:"embedding"`
		} `json:"cases"`
	} `json:"models"`
}

// cosineDistance returns 1 - cos(a, b).
func cosineDistance(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return 1 - ab/math.Sqrt(aa*bb)
}

func bgeVocab(t *testing.T) *tokenizer.WordPiece {
	t.Helper()
	w, err := BGEVocab(shareddata.Path(t, "tokenizer-tests", "ggml-vocab-bert-bge.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// tinyModels rebuilds the models of scripts/bert_export.go: an HF
// directory and its GGUF export for each pooling.
func tinyModels(t *testing.T, vocab *tokenizer.WordPiece) map[string][2]*Model {
	t.Helper()
	out := map[string][2]*Model{}
	for _, pool := range []Pooling{PoolCLS, PoolMean} {
		dir := filepath.Join(t.TempDir(), "tiny-"+pool.String())
		if err := Init(dir, TinyConfig, pool, TinySeed, vocab); err != nil {
			t.Fatal(err)
		}
		hf, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if hf.Pooling != pool {
			t.Fatalf("%s: pooling %v, want %v", dir, hf.Pooling, pool)
		}
		if err := hf.WriteGGUF(dir+".gguf", "tiny"); err != nil {
			t.Fatal(err)
		}
		gg, err := Load(dir + ".gguf")
		if err != nil {
			t.Fatal(err)
		}
		out["tiny-"+pool.String()] = [2]*Model{hf, gg}
	}
	return out
}

// TestLlamaCppGolden checks our embeddings of the tiny random BERT (bge
// vocabulary), loaded from its HF directory and from its GGUF export,
// against llama.cpp's (scripts/bert_llamacpp.sh): same token ids and
// cosine distance ≤ 1e-3 (DESIGN.md) for every text and pooling.
func TestLlamaCppGolden(t *testing.T) {
	vocab := bgeVocab(t)
	data, err := os.ReadFile("testdata/llamacpp_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	models := tinyModels(t, vocab)
	const tol = 1e-3
	for _, gm := range g.Models {
		pair, ok := models[gm.Name]
		if !ok {
			t.Fatalf("golden model %q is not one the test builds", gm.Name)
		}
		texts := make([]string, len(gm.Cases))
		for i, c := range gm.Cases {
			texts[i] = c.Text
		}
		for k, m := range pair {
			src := []string{"hf", "gguf"}[k]
			got, err := m.Embed(texts)
			if err != nil {
				t.Fatal(err)
			}
			worst, worstText := 0.0, ""
			for i, c := range gm.Cases {
				if ids := m.Tokenize(c.Text); !equalInts(ids, c.IDs) {
					t.Errorf("%s/%s %q: ids %v, llama.cpp %v", gm.Name, src, c.Text, ids, c.IDs)
				}
				if d := cosineDistance(got[i], c.Embedding); d > worst {
					worst, worstText = d, c.Text
				}
				if n := norm(got[i]); math.Abs(n-1) > 1e-5 {
					t.Errorf("%s/%s %q: norm %g, want 1", gm.Name, src, c.Text, n)
				}
			}
			t.Logf("%s/%s: worst cosine distance %.3g (%q)", gm.Name, src, worst, worstText)
			if worst > tol {
				t.Errorf("%s/%s: cosine distance %.3g > %g for %q", gm.Name, src, worst, tol, worstText)
			}
		}
		// The check means something only if different texts are far
		// apart compared with the tolerance.
		closest := math.Inf(1)
		for i := range gm.Cases {
			for j := i + 1; j < len(gm.Cases); j++ {
				closest = min(closest, cosineDistance(gm.Cases[i].Embedding, gm.Cases[j].Embedding))
			}
		}
		if closest < 10*tol {
			t.Errorf("%s: two golden texts are only %.3g apart; the model does not separate texts", gm.Name, closest)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// TestTokenizerMetadataMatchesConverter checks that the vocabulary
// written into our GGUF is what llama.cpp's converter wrote for bge.
func TestTokenizerMetadataMatchesConverter(t *testing.T) {
	path := shareddata.Path(t, "tokenizer-tests", "ggml-vocab-bert-bge.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md := TokenizerMetadata(bgeVocab(t))
	for _, key := range []string{"tokenizer.ggml.tokens", "tokenizer.ggml.token_type"} {
		want, _ := json.Marshal(f.Metadata[key])
		got, _ := json.Marshal(md[key])
		if string(got) != string(want) {
			t.Errorf("%s differs from llama.cpp's converter output", key)
		}
	}
	for _, key := range []string{"unknown_token_id", "seperator_token_id", "padding_token_id", "cls_token_id", "mask_token_id"} {
		got, want := md["tokenizer.ggml."+key], f.Metadata["tokenizer.ggml."+key]
		if got != want {
			t.Errorf("%s = %v, converter wrote %v", key, got, want)
		}
	}
}

// TestBatchingAndTruncation checks that packing texts into one pass (and
// across passes) gives each text the vector it gets alone, and that a text
// longer than the model's positions is cut to MaxTokens with [SEP] kept.
func TestBatchingAndTruncation(t *testing.T) {
	vocab := bgeVocab(t)
	dir := t.TempDir()
	if err := Init(dir, TinyConfig, PoolMean, TinySeed, vocab); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	long := ""
	for i := 0; i < 200; i++ {
		long += "retrieval augmented generation 检索 "
	}
	texts := []string{"Hello world", long, "什么是灾难性遗忘？", "", "a b c d e f g"}
	ids := m.Tokenize(long)
	if got, want := len(ids), m.MaxTokens(); got != want {
		t.Fatalf("long text: %d tokens, want %d", got, want)
	}
	if ids[0] != vocab.CLS() || ids[len(ids)-1] != vocab.SEP() {
		t.Errorf("truncated ids lose [CLS]/[SEP]: %v … %v", ids[:2], ids[len(ids)-2:])
	}
	batch, err := m.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		one, err := m.Embed([]string{text})
		if err != nil {
			t.Fatal(err)
		}
		if d := cosineDistance(batch[i], one[0]); d > 1e-6 {
			t.Errorf("text %d: batched and single embeddings differ (cosine distance %.3g)", i, d)
		}
	}
	// Many copies force several passes of batchTokens tokens.
	many := make([]string, 3*batchTokens/m.MaxTokens()+1)
	for i := range many {
		many[i] = texts[i%len(texts)]
	}
	got, err := m.Embed(many)
	if err != nil {
		t.Fatal(err)
	}
	for i := range many {
		if d := cosineDistance(got[i], batch[i%len(texts)]); d > 1e-6 {
			t.Fatalf("text %d of a multi-pass batch: cosine distance %.3g from its single embedding", i, d)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	vocab := bgeVocab(t)
	dir := t.TempDir()
	if err := Init(dir, TinyConfig, PoolCLS, 7, vocab); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.EmbedIDs([][]int{{vocab.CLS(), 1 << 30, vocab.SEP()}}); err == nil {
		t.Error("out-of-vocabulary id accepted")
	}
	if _, err := m.EmbedIDs([][]int{{}}); err == nil {
		t.Error("empty sequence accepted")
	}
	bad := TinyConfig
	bad.NumAttentionHeads = 5
	if err := Init(t.TempDir(), bad, PoolCLS, 1, vocab); err == nil {
		t.Error("hidden size not divisible by heads accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, "1_Pooling", "config.json"), []byte(`{"pooling_mode_max_tokens": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("max pooling accepted")
	}
	if _, err := Load(filepath.Join(dir, "missing.gguf")); err == nil {
		t.Error("missing file accepted")
	}
}
