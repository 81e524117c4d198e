package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"

	"ragtune/internal/shareddata"
)

// vector is one llama.cpp tokenizer test case.
type vector struct {
	text string
	ids  []int
}

// readVectors reads llama.cpp's .inp/.out pair. Each input in .inp is
// followed by "\n__ggml_vocab_test__\n" (so the newline before the marker
// is not part of the input); .out has one line of space-separated ids per
// input, without BOS.
func readVectors(t *testing.T, inp, out string) []vector {
	t.Helper()
	in, err := os.ReadFile(inp)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	texts := strings.Split(string(in), sep)
	if texts[len(texts)-1] != "" {
		t.Fatalf("%s does not end with the separator", inp)
	}
	texts = texts[:len(texts)-1]
	lines := strings.Split(strings.TrimSuffix(string(ex), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s has %d inputs but %s has %d lines", inp, len(texts), out, len(lines))
	}
	vs := make([]vector, len(texts))
	for i, s := range texts {
		vs[i].text = s
		for _, f := range strings.Fields(lines[i]) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s line %d: %v", out, i+1, err)
			}
			vs[i].ids = append(vs[i].ids, id)
		}
	}
	return vs
}

var (
	qwenOnce sync.Once
	qwenTok  *BPE
	qwenErr  error
)

// qwen loads the shared Qwen2.5 tokenizer once per test binary.
func qwen(t testing.TB) *BPE {
	t.Helper()
	p := shareddata.Path(t, "qwen2.5-tokenizer", "tokenizer.json")
	qwenOnce.Do(func() { qwenTok, qwenErr = Load(p) })
	if qwenErr != nil {
		t.Fatal(qwenErr)
	}
	return qwenTok
}

// diffIDs describes where got and want first differ, with the tokens.
func diffIDs(tk interface{ Token(int) string }, got, want []int) string {
	var sb strings.Builder
	n := max(len(got), len(want))
	first := -1
	for i := 0; i < n; i++ {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			first = i
			break
		}
	}
	fmt.Fprintf(&sb, "first difference at index %d\n", first)
	show := func(name string, ids []int) {
		fmt.Fprintf(&sb, "  %s:", name)
		for i, id := range ids {
			mark := ""
			if i == first {
				mark = ">>"
			}
			fmt.Fprintf(&sb, " %s%d(%q)", mark, id, tk.Token(id))
		}
		sb.WriteByte('\n')
	}
	show("got ", got)
	show("want", want)
	return sb.String()
}

func equalIDs(a, b []int) bool {
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

func checkVectors(t *testing.T, tk *BPE, name string) {
	t.Helper()
	vs := readVectors(t, shareddata.Path(t, "tokenizer-tests", name+".inp"), shareddata.Path(t, "tokenizer-tests", name+".out"))
	if len(vs) != 46 {
		t.Errorf("%s: %d vectors, want 46", name, len(vs))
	}
	failed := 0
	for i, v := range vs {
		got := tk.Encode(v.text, false)
		if !equalIDs(got, v.ids) {
			failed++
			t.Errorf("%s vector %d %q:\n%s", name, i+1, v.text, diffIDs(tk, got, v.ids))
		}
		if dec, want := tk.Decode(got), norm.NFC.String(v.text); dec != want {
			t.Errorf("%s vector %d: decode(encode(x)) = %q, want NFC(x) = %q", name, i+1, dec, want)
		}
	}
	if failed > 0 {
		t.Errorf("%s: %d of %d vectors differ", name, failed, len(vs))
	}
}

func TestQwen2Vectors(t *testing.T) {
	checkVectors(t, qwen(t), "ggml-vocab-qwen2.gguf")
}

func TestR1Vectors(t *testing.T) {
	checkVectors(t, R1FromQwen(qwen(t)), "ggml-vocab-deepseek-r1-qwen.gguf")
}

// The vocabulary written as GGUF metadata must read back into a
// tokenizer that still passes every vector.
func TestGGUFMetadataRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name, vectors, pre string
		tk                 *BPE
		bos                int
	}{
		{"qwen2", "ggml-vocab-qwen2.gguf", "qwen2", qwen(t), -1},
		{"r1", "ggml-vocab-deepseek-r1-qwen.gguf", "deepseek-r1-qwen", R1FromQwen(qwen(t)), 151646},
	} {
		md := c.tk.GGUFMetadata()
		if got := md["tokenizer.ggml.pre"]; got != c.pre {
			t.Errorf("%s: pre = %v, want %s", c.name, got, c.pre)
		}
		back, err := FromGGUFMetadata(md)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b := back.(*BPE)
		checkVectors(t, b, c.vectors)
		if got := b.Encode("hi", true); len(got) == 0 || (c.bos >= 0) != (got[0] == c.bos) {
			t.Errorf("%s: Encode(hi, true) = %v, BOS %d", c.name, got, c.bos)
		}
		if got, want := b.VocabSize(), c.tk.VocabSize(); got != want {
			t.Errorf("%s: vocab size %d, want %d", c.name, got, want)
		}
		types := md["tokenizer.ggml.token_type"].([]int32)
		if got := types[151648]; c.name == "r1" && got != TokenUserDefined {
			t.Errorf("r1 <think> token type %d, want user-defined", got)
		}
		if got := types[151643]; got != TokenControl {
			t.Errorf("%s: token 151643 type %d, want control", c.name, got)
		}
	}
	if _, err := FromGGUFMetadata(map[string]any{"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": []string{"a"}}); err == nil {
		t.Error("SentencePiece model accepted")
	}
	if _, err := FromGGUFMetadata(map[string]any{}); err == nil {
		t.Error("empty metadata accepted")
	}
}

// Hugging Face's tokenizers.js, loading the R1 tokenizer.json and
// tokenizer_config.json that WriteJSON/WriteConfig produced, encoded ~300
// strings (scripts/tokenizer_hf_goldens.sh); we must give the same ids,
// with and without BOS.
func TestHFReference(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "hf_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []struct {
		Text       string `json:"text"`
		IDs        []int  `json:"ids"`
		IDsSpecial []int  `json:"ids_special"`
	}
	if err := json.Unmarshal(data, &refs); err != nil {
		t.Fatal(err)
	}
	r1 := R1FromQwen(qwen(t))
	failed := 0
	for _, r := range refs {
		for _, c := range []struct {
			add  bool
			want []int
		}{{false, r.IDs}, {true, r.IDsSpecial}} {
			if got := r1.Encode(r.Text, c.add); !equalIDs(got, c.want) {
				failed++
				t.Errorf("Encode(%q, %v):\n%s", r.Text, c.add, diffIDs(r1, got, c.want))
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d encodings differ from tokenizers.js", failed, 2*len(refs))
	}
}
