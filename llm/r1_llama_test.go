package llm

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"ragtune/internal/shareddata"
	"ragtune/llm/chat"
	"ragtune/model"
	"ragtune/tokenizer"
)

// replayModel is a decoder that, once the prompt it expects has been run,
// writes reply one token at a time (one-hot logits), then token 1000
// forever: an engine that ignores EOS runs on into it.
type replayModel struct {
	vocab         int
	prompt, reply []int
}

func (m *replayModel) VocabSize() int     { return m.vocab }
func (m *replayModel) MaxContext() int    { return 0 }
func (m *replayModel) NewState(int) State { return &replayState{m: m} }

type replayState struct {
	m   *replayModel
	seq []int
}

func (s *replayState) Pos() int         { return len(s.seq) }
func (s *replayState) Truncate(pos int) { s.seq = s.seq[:min(pos, len(s.seq))] }
func (s *replayState) Forward(toks []int) ([]float32, error) {
	s.seq = append(s.seq, toks...)
	next := 1000
	if k := len(s.seq) - len(s.m.prompt); k >= 0 && k < len(s.m.reply) && slices.Equal(s.seq[:len(s.m.prompt)], s.m.prompt) {
		next = s.m.reply[k]
	}
	logits := make([]float32, s.m.vocab)
	logits[next] = 100
	return logits, nil
}

// A model directory with DeepSeek-R1-Distill-Llama's tokenizer (Llama 3's
// vocabulary with DeepSeek's special tokens, as `model init --arch llama
// --tokenizer llama3` writes it, chat template included) renders an R1
// chat prompt with BOS and the opened reasoning block, splits what the
// model writes at </think>, and stops at <｜end▁of▁sentence｜> (128001)
// from both tokenizer_config.json and generation_config.json.
func TestR1DistillLlamaChat(t *testing.T) {
	llama, err := tokenizer.Load(shareddata.Path(t, "llama3-tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	r1, err := tokenizer.R1FromLlama3(llama)
	if err != nil {
		t.Fatal(err)
	}
	r1.ChatTemplate = chat.TemplateForVocab(r1)
	if r1.ChatTemplate != chat.R1Template {
		t.Fatal("R1-Distill-Llama's vocabulary did not get R1's chat template")
	}
	dir := t.TempDir()
	if err := r1.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	if err := r1.WriteConfig(dir); err != nil {
		t.Fatal(err)
	}
	gen := model.GenerationConfig{BOSTokenID: 128000, EOSTokenID: 128001, Temperature: 0.6, TopP: 0.95}
	if err := model.WriteJSON(filepath.Join(dir, "generation_config.json"), gen); err != nil {
		t.Fatal(err)
	}

	v, err := loadVocab(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.tmpl == nil {
		t.Fatalf("no chat template: %v", v.tmplErr)
	}
	tok := v.tok
	prompt := tok.Encode("<｜User｜>你好<｜Assistant｜><think>\n", true)
	if prompt[0] != 128000 || prompt[1] != 128011 || !slices.Equal(prompt[len(prompt)-3:len(prompt)-1], []int{128012, 128013}) {
		t.Fatalf("prompt ids %v: want BOS 128000, <｜User｜> 128011 … <｜Assistant｜> 128012, <think> 128013, newline", prompt)
	}
	reply := append(tok.Encode("Greet back.\n</think>\n\nHello!", false), 128001)
	if !slices.Contains(reply, 128014) {
		t.Fatalf("reply %v does not hold </think> as one token (128014)", reply)
	}
	m := &replayModel{vocab: 128256, prompt: prompt, reply: reply}
	for _, eos := range [][]int{nil, v.gen.EOSTokenIDs()} {
		l, err := NewLocal(m, tok, v.tmpl, LocalOptions{EOS: eos, Sampling: &Sampling{Temperature: 0}})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := l.Prompt(Request{Messages: user("你好")})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, prompt) {
			t.Fatalf("chat prompt %v (%q), want %v", ids, tok.Decode(ids), prompt)
		}
		res, err := collect(t, l, context.Background(), Request{Messages: user("你好"), MaxTokens: 64})
		if err != nil {
			t.Fatal(err)
		}
		if res.Reasoning != "Greet back." || res.Text != "Hello!" || res.FinishReason != FinishEOS {
			t.Errorf("EOS from %v: reasoning %q, answer %q, finish %q; want %q, %q, eos", eos, res.Reasoning, res.Text, res.FinishReason, "Greet back.", "Hello!")
		}
		if got := res.TokenIDs; len(got) != len(reply) || got[len(got)-1] != 128001 {
			t.Errorf("generated %v, want the reply ending in EOS 128001", got)
		}
		l.Close()
	}
}
