package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCrossEncoderTorchGolden checks the tiny random cross-encoder
// (InitCrossEncoder, as scripts/bert_rerank_export.go writes it) against
// the independent PyTorch reference (scripts/bert_rerank_golden.sh): the
// same pair encoding and logits within 1e-4 (DESIGN.md's F32 tolerance).
func TestCrossEncoderTorchGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/torch_rerank_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Pairs []struct {
			Query, Passage string
			IDs, Types     []int
			Logits         []float64
		}
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tiny-rerank")
	if err := InitCrossEncoder(dir, TinyConfig, TinySeed, bgeVocab(t), 1); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.NumLabels() != 1 {
		t.Fatalf("NumLabels %d, want 1", m.NumLabels())
	}
	var ids, types [][]int
	var passages []string
	for _, p := range g.Pairs {
		gi, gt := m.EncodePair(p.Query, p.Passage)
		if !slices.Equal(gi, p.IDs) || !slices.Equal(gt, p.Types) {
			t.Errorf("pair %q/%q: encoding %v %v, golden %v %v", p.Query, p.Passage, gi, gt, p.IDs, p.Types)
		}
		ids, types = append(ids, p.IDs), append(types, p.Types)
		passages = append(passages, p.Passage)
	}
	logits, err := m.Classify(ids, types)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i, p := range g.Pairs {
		for l, want := range p.Logits {
			worst = max(worst, math.Abs(float64(logits[i][l])-want))
		}
	}
	if worst > 1e-4 {
		t.Errorf("max |logit - torch| = %.3g, want ≤ 1e-4", worst)
	}
	t.Logf("max |logit - torch| = %.3g over %d pairs", worst, len(g.Pairs))
	// ScorePairs is the same computation for one query.
	scores, err := m.ScorePairs(g.Pairs[0].Query, passages[:2])
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if math.Abs(float64(scores[i])-g.Pairs[i].Logits[0]) > 1e-4 {
			t.Errorf("ScorePairs[%d] = %v, torch %v", i, scores[i], g.Pairs[i].Logits[0])
		}
	}
}

func TestEncodePairTruncation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny-rerank")
	cfg := TinyConfig
	cfg.MaxPositionEmbeddings = 12
	if err := InitCrossEncoder(dir, cfg, TinySeed, bgeVocab(t), 1); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids, types := m.EncodePair("one two", "a b c d e f g h i j k l")
	// 12 - 3 specials = 9 content tokens: the longer passage is cut to 7.
	if len(ids) != 12 || len(types) != 12 || types[3] != 0 || types[4] != 1 || ids[3] != m.Tok.SEP() || ids[11] != m.Tok.SEP() {
		t.Errorf("ids %v types %v: want [CLS] one two [SEP] + 7 passage tokens [SEP], types 0×4 then 1", ids, types)
	}
	if _, err := m.Classify([][]int{ids}, [][]int{types[:3]}); err == nil {
		t.Error("mismatched types accepted")
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if err := Init(plain, TinyConfig, PoolCLS, TinySeed, bgeVocab(t)); err != nil {
		t.Fatal(err)
	}
	pm, err := Load(plain)
	if err != nil {
		t.Fatal(err)
	}
	if pm.NumLabels() != 0 {
		t.Error("a plain encoder reports a classification head")
	}
	if _, err := pm.ScorePairs("q", []string{"p"}); err == nil {
		t.Error("a plain encoder scored pairs")
	}
}
