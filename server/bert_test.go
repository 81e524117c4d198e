package server

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"

	"ragtune/model/bert"
	"ragtune/rag"
	"ragtune/tokenizer"
)

// TestSDKEmbeddingsLocalBert serves /v1/embeddings from a local BERT
// encoder (what 'ragtune serve --embed-model DIR' configures) and checks
// the SDK gets the encoder's own vectors, unit length, in input order.
func TestSDKEmbeddingsLocalBert(t *testing.T) {
	toks := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "。"}
	toks = append(toks, strings.Fields("the capital of france is paris japan tokyo")...)
	for _, r := range "法国首都是巴黎" {
		toks = append(toks, string(r))
	}
	vocab, err := tokenizer.NewWordPiece(toks, tokenizer.DefaultWordPieceOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bert")
	if err := bert.Init(dir, bert.TinyConfig, bert.PoolCLS, 3, vocab); err != nil {
		t.Fatal(err)
	}
	embed := rag.LocalBertEmbedder(dir)
	_, ts := testServer(t, Config{Engine: &scripted{}, Embed: embed, EmbedModel: "bert"})
	inputs := []string{"the capital of france is paris", "法国首都是巴黎。", "japan tokyo"}
	c := sdkClient(ts.URL)
	resp, err := c.Embeddings.New(context.Background(), sdk.EmbeddingNewParams{
		Model: "bert", Input: sdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := embed(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != len(inputs) {
		t.Fatalf("%d vectors for %d inputs", len(resp.Data), len(inputs))
	}
	for i, d := range resp.Data {
		if int(d.Index) != i || len(d.Embedding) != len(want[i]) {
			t.Fatalf("vector %d: index %d, %d dims, want %d", i, d.Index, len(d.Embedding), len(want[i]))
		}
		var norm, worst float64
		for j, x := range d.Embedding {
			norm += x * x
			worst = max(worst, math.Abs(x-float64(want[i][j])))
		}
		if worst > 1e-6 || math.Abs(norm-1) > 1e-4 {
			t.Errorf("vector %d: worst difference %g from the encoder, squared norm %g", i, worst, norm)
		}
	}
}
