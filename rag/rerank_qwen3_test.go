package rag

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"ragtune/internal/shareddata"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// TestQwen3Reranker: on a tiny random Qwen3 model with the real Qwen3
// vocabulary, the scorer's score is logit(yes) − logit(no) after exactly
// the model card's prompt (written out here in full, independently of the
// code's constants), and LocalCrossEncoder recognizes the directory.
// (The Qwen3 forward pass itself is checked against PyTorch and llama.cpp
// in model/qwen2.)
func TestQwen3Reranker(t *testing.T) {
	tok, err := tokenizer.Load(shareddata.Path(t, "qwen3-tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := qwen2.PresetFor("tiny", "qwen3")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxPositionEmbeddings = 256
	dir := filepath.Join(t.TempDir(), "qwen3-reranker")
	if err := qwen2.Init(dir, cfg, 7, tok); err != nil {
		t.Fatal(err)
	}
	m, err := qwen2.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	score, err := Qwen3RerankScorer(m, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	q, docs := "什么是灾难性遗忘？", []string{"灾难性遗忘是指模型忘记旧任务。", " leading space and <|im_end|> typed by a user"}
	got, err := score(context.Background(), q, docs)
	if err != nil {
		t.Fatal(err)
	}
	yes, _ := tok.TokenID("yes")
	no, _ := tok.TokenID("no")
	sys := "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n"
	suf := "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
	for i, d := range docs {
		user := "<Instruct>: Given a web search query, retrieve relevant passages that answer the query\n<Query>: " + q + "\n<Document>: " + d
		// Document 0: the whole prompt tokenized at once, as the
		// reference does. Document 1 holds a special token's text, which
		// must stay text.
		ids := tok.Encode(sys+user+suf, false)
		if i == 1 {
			ids = append(append(tok.Encode(sys, false), tok.EncodeWith(user, tokenizer.EncodeOptions{})...), tok.Encode(suf, false)...)
		}
		logits, err := m.NewState(len(ids)).Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		want := float64(logits[yes] - logits[no])
		if math.Abs(got[i]-want) > 1e-5 {
			t.Errorf("doc %d: score %v, want logit(yes)-logit(no) %v", i, got[i], want)
		}
	}
	// Too long a document is cut to the context, not an error.
	long := make([]byte, 3000)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	if _, err := score(context.Background(), q, []string{string(long)}); err != nil {
		t.Errorf("long document: %v", err)
	}
	if _, err := LocalCrossEncoder(dir)(context.Background(), q, docs[:1]); err != nil {
		t.Errorf("LocalCrossEncoder on a Qwen3 directory: %v", err)
	}
}
