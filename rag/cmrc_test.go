package rag

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"ragtune/internal/shareddata"
)

func TestCMRCChunksProtocol(t *testing.T) {
	// 10-character minimum: sentences merge until the chunk has ≥ 10 code
	// points; the last chunk may be shorter; whitespace is kept.
	ctx := "短句。也短！这一句有十一个字符了吗？ 尾巴 tail?x"
	got := cmrcChunks(ctx, 10)
	var texts []string
	for _, c := range got {
		texts = append(texts, c.text)
	}
	want := []string{"短句。也短！这一句有十一个字符了吗？", " 尾巴 tail?x"}
	if !reflect.DeepEqual(texts, want) {
		t.Fatalf("chunks %q, want %q", texts, want)
	}
	if got[1].charStart != 18 || got[1].charEnd != 28 {
		t.Errorf("second chunk spans [%d,%d), want [18,28)", got[1].charStart, got[1].charEnd)
	}
}

func TestLoadCMRCGold(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mini.json")
	data := `{"data":[{"title":"T","paragraphs":[{"id":"p","context":"甲乙丙丁。戊己庚辛。壬癸。","qas":[
		{"id":"q1","question":"甲？","answers":[{"text":"甲","answer_start":0}]},
		{"id":"q2","question":"庚？","answers":[{"text":"庚","answer_start":7},{"text":"甲","answer_start":0}]},
		{"id":"q3","question":"无？","answers":[]},
		{"id":"q4","question":"越界？","answers":[{"text":"x","answer_start":99}]}]}]}]}`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := LoadCMRC(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := set.Chunks, []string{"甲乙丙丁。", "戊己庚辛。", "壬癸。"}; !reflect.DeepEqual(got, want) {
		t.Errorf("chunks %q, want %q", got, want)
	}
	var golds []int
	for _, q := range set.Questions {
		golds = append(golds, q.Gold)
	}
	if !reflect.DeepEqual(golds, []int{0, 1}) || set.Skipped != 2 {
		t.Errorf("golds %v skipped %d, want [0 1] and 2", golds, set.Skipped)
	}
	m := set.Evaluate(func(q RetrievalQuestion) []int {
		if q.ID == "q1" {
			return []int{0}
		}
		return []int{2, 0, 1} // gold at rank 3
	})
	want := RetrievalMetrics{Recall1: 0.5, Recall5: 1, Recall10: 1, MRR10: (1 + 1.0/3) / 2, NDCG10: (1 + 1/math.Log2(4)) / 2, Questions: 2, Chunks: 3}
	if m != want {
		t.Errorf("metrics %+v, want %+v", m, want)
	}
}

// TestCMRCBaselineAndOurs reproduces the ANCHORS.md baseline on the CMRC
// 2018 trial set and checks that the knowledge-base method beats it.
func TestCMRCBaselineAndOurs(t *testing.T) {
	set, err := LoadCMRC(shareddata.Path(t, "cmrc2018", "cmrc2018_trial.json"), 120)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(set.Chunks), 977; got != want {
		t.Fatalf("%d chunks, want %d", got, want)
	}
	ctx := context.Background()
	base, err := set.Run(ctx, BaselineOptions())
	if err != nil {
		t.Fatal(err)
	}
	// ANCHORS.md: recall@1 0.796, recall@5 0.962, MRR@10 0.868 (ties may
	// break differently, one question either way).
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"recall@1", base.Recall1, 0.796}, {"recall@5", base.Recall5, 0.962}, {"mrr@10", base.MRR10, 0.868}} {
		if math.Abs(c.got-c.want) > 0.0025 {
			t.Errorf("baseline %s = %.4f, want %.3f", c.name, c.got, c.want)
		}
	}
	ours, err := set.Run(ctx, DefaultCMRCOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline %+v\nours     %+v", base, ours)
	if ours.Recall1 < 0.85 || ours.MRR10 <= base.MRR10 || ours.Recall5 <= base.Recall5 {
		t.Errorf("ours %+v does not beat baseline %+v with recall@1 ≥ 0.85", ours, base)
	}
}
