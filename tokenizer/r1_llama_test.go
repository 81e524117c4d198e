package tokenizer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ragtune/internal/shareddata"
)

// loadLlama3 loads Meta's Llama 3 tokenizer from ../shared/data.
func loadLlama3(t *testing.T) *BPE {
	t.Helper()
	l, err := Load(shareddata.Path(t, "llama3-tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// R1FromLlama3 turns Meta's Llama 3 tokenizer into R1-Distill-Llama's:
// DeepSeek's tokens at their ids, each one token in text, BOS prepended,
// EOS and padding <｜end▁of▁sentence｜>, llama.cpp's "llama-bpe"
// pre-tokenizer, and the same ids for ordinary text as Llama 3. All of it
// survives tokenizer.json + tokenizer_config.json (what `model init`
// writes) and the GGUF metadata.
func TestR1FromLlama3(t *testing.T) {
	llama := loadLlama3(t)
	r1, err := R1FromLlama3(llama)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := r1.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	if err := r1.WriteConfig(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		r1BOS: 128000, r1EOS: 128001, r1User: 128011, r1Assistant: 128012,
		r1Think: 128013, r1EndThink: 128014, r1Pad: 128015,
		// Llama's own specials outside DeepSeek's set are kept.
		"<|start_header_id|>": 128006, "<|eot_id|>": 128009,
	}
	text := "人工智能 12345 tokens, café!"
	plain := llama.Encode(text, false)
	for name, b := range map[string]*BPE{"built": r1, "written and loaded": back} {
		t.Run(name, func(t *testing.T) {
			if b.VocabSize() != 128256 || b.BOS() != 128000 || b.EOS() != 128001 || b.Pad() != 128001 || b.Pre() != "llama-bpe" {
				t.Errorf("vocab %d bos %d eos %d pad %d pre %q", b.VocabSize(), b.BOS(), b.EOS(), b.Pad(), b.Pre())
			}
			for tok, id := range want {
				if got, ok := b.TokenID(tok); !ok || got != id {
					t.Errorf("%s = %d (%v), want %d", tok, got, ok, id)
				}
			}
			if _, ok := b.TokenID(llama3BOS); ok {
				t.Errorf("%s is still in the vocabulary", llama3BOS)
			}
			if got := b.Encode(text, false); !slices.Equal(got, plain) {
				t.Errorf("ordinary text: %v, Llama 3 gives %v", got, plain)
			}
			prompt := r1User + text + r1Assistant + r1Think + "\n"
			got := b.Encode(prompt, true)
			wantIDs := append(append([]int{128000, 128011}, plain...), 128012, 128013, llama.Encode("\n", false)[0])
			if !slices.Equal(got, wantIDs) {
				t.Errorf("chat prompt: %v, want %v", got, wantIDs)
			}
			if s := b.Decode(got); s != r1BOS+prompt {
				t.Errorf("decode %q, want %q", s, r1BOS+prompt)
			}
			md := b.GGUFMetadata()
			types := md["tokenizer.ggml.token_type"].([]int32)
			toks := md["tokenizer.ggml.tokens"].([]string)
			for _, id := range []int{128000, 128001, 128011, 128013, 128014} {
				if types[id] != TokenControl && types[id] != TokenUserDefined {
					t.Errorf("GGUF token %d %q has type %d", id, toks[id], types[id])
				}
			}
			if toks[128013] != r1Think || md["tokenizer.ggml.bos_token_id"] != uint32(128000) || md["tokenizer.ggml.eos_token_id"] != uint32(128001) || md["tokenizer.ggml.add_bos_token"] != true {
				t.Errorf("GGUF metadata: token 128013 %q, bos %v eos %v add_bos %v", toks[128013], md["tokenizer.ggml.bos_token_id"], md["tokenizer.ggml.eos_token_id"], md["tokenizer.ggml.add_bos_token"])
			}
			// What a GGUF written with it reads back as (llm's GGUF path).
			g, err := FromGGUFMetadata(md)
			if err != nil {
				t.Fatal(err)
			}
			if gb, ok := g.(*BPE); !ok || gb.BOS() != 128000 || gb.EOS() != 128001 || !slices.Equal(gb.Encode(prompt, true), wantIDs) {
				t.Errorf("from GGUF metadata: %T, encodes the chat prompt as %v", g, g.Encode(prompt, true))
			}
		})
	}

}

// ForModelType gives a Llama model R1-Distill-Llama's tokens (what `model
// init --arch llama --tokenizer llama3` writes), leaves a Qwen3 alone,
// and does nothing twice.
func TestForModelTypeLlama3(t *testing.T) {
	llama := loadLlama3(t)
	got, sub := ForModelType(llama, "llama")
	if id, _ := got.TokenID(r1Think); !sub || got.BOS() != 128000 || got.EOS() != 128001 || id != 128013 {
		t.Fatalf("ForModelType(llama 3, llama): substituted %v, bos %d eos %d <think> %d", sub, got.BOS(), got.EOS(), id)
	}
	if again, sub := ForModelType(got, "llama"); sub || again != got {
		t.Error("ForModelType substituted R1's tokens into a vocabulary that has them")
	}
	if _, sub := ForModelType(llama, "qwen3"); sub {
		t.Error("ForModelType substituted R1-Distill-Llama's tokens for a qwen3 model")
	}
}

func TestR1FromLlama3RefusesOtherVocabularies(t *testing.T) {
	_, err := R1FromLlama3(ByteLevelR1())
	if err == nil || !strings.Contains(err.Error(), llama3BOS) {
		t.Errorf("R1FromLlama3 on a byte-level vocabulary: %v", err)
	}
}
