package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"ragtune/internal/atomicfile"
	"sort"
	"strconv"
	"strings"
)

// WriteJSON writes b as an HF tokenizer.json (vocabulary ordered by id,
// merges as "left right", added tokens with their flags, NFC, the split
// pattern and byte-level steps, and a BOS template when b prepends BOS),
// so Hugging Face tokenizers, transformers and ragtune load the same
// tokenizer. The file is written to a temporary name and renamed.
func (b *BPE) WriteJSON(path string) error {
	var buf bytes.Buffer
	buf.Grow(len(b.tokens)*24 + len(b.mergeList)*16)
	o := newObj(&buf, "")
	o.raw("version", `"1.0"`)
	o.raw("truncation", "null")
	o.raw("padding", "null")
	o.key("added_tokens")
	buf.WriteString("[")
	for i, a := range b.added {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, "\n    {\"id\": %d, \"content\": %s, \"single_word\": %v, \"lstrip\": %v, \"rstrip\": %v, \"normalized\": %v, \"special\": %v}",
			a.ID, jsonString(a.Content), a.SingleWord, a.LStrip, a.RStrip, a.Normalized, a.Special)
	}
	buf.WriteString("\n  ]")
	if b.nfc {
		o.raw("normalizer", `{"type": "NFC"}`)
	} else {
		o.raw("normalizer", "null")
	}
	byteLevel := func(useRegex bool) string {
		return fmt.Sprintf(`{"type": "ByteLevel", "add_prefix_space": %v, "trim_offsets": false, "use_regex": %v}`, b.prefixSpace, useRegex)
	}
	switch b.pattern {
	case GPT2Pattern:
		o.raw("pre_tokenizer", byteLevel(true))
	case "":
		o.raw("pre_tokenizer", byteLevel(false))
	default:
		o.raw("pre_tokenizer", `{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": `+
			jsonString(b.pattern)+`}, "behavior": "Isolated", "invert": false}, `+byteLevel(false)+`]}`)
	}
	if b.AddsBOS() {
		bos := jsonString(b.tokens[b.bos])
		tok := func(typeID int) string {
			return fmt.Sprintf(`{"SpecialToken": {"id": %s, "type_id": %d}}`, bos, typeID)
		}
		o.raw("post_processor", fmt.Sprintf(`{"type": "TemplateProcessing", "single": [%s, {"Sequence": {"id": "A", "type_id": 0}}], `+
			`"pair": [%s, {"Sequence": {"id": "A", "type_id": 0}}, %s, {"Sequence": {"id": "B", "type_id": 1}}], `+
			`"special_tokens": {%s: {"id": %s, "ids": [%d], "tokens": [%s]}}}`,
			tok(0), tok(0), tok(1), bos, bos, b.bos, bos))
	} else {
		o.raw("post_processor", byteLevel(false))
	}
	o.raw("decoder", byteLevel(false))
	o.key("model")
	buf.WriteString(`{"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "", ` +
		`"fuse_unk": false, "byte_fallback": false, "ignore_merges": ` + strconv.FormatBool(b.ignoreMerges) + `, "vocab": {`)
	ids := make([]int, 0, len(b.vocab))
	for _, id := range b.vocab {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for i, id := range ids {
		if i > 0 {
			buf.WriteString(", ")
		}
		buf.WriteString(jsonString(b.tokens[id]))
		buf.WriteString(": ")
		buf.WriteString(strconv.Itoa(id))
	}
	buf.WriteString(`}, "merges": [`)
	// The "a b" form is read by every tokenizers version; a token with a
	// space in it (never the case for byte-level tokens) needs the pair form.
	pairForm := false
	for _, m := range b.mergeList {
		pairForm = pairForm || strings.Contains(m[0], " ") || strings.Contains(m[1], " ")
	}
	for i, m := range b.mergeList {
		if i > 0 {
			buf.WriteString(", ")
		}
		if pairForm {
			buf.WriteString("[" + jsonString(m[0]) + ", " + jsonString(m[1]) + "]")
		} else {
			buf.WriteString(jsonString(m[0] + " " + m[1]))
		}
	}
	buf.WriteString("]}")
	o.end()
	if !json.Valid(buf.Bytes()) {
		return fmt.Errorf("write tokenizer %q: produced invalid JSON (bug)", path)
	}
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write tokenizer %q: %w", path, err)
	}
	return nil
}

// WriteConfig writes tokenizer_config.json into dir: bos/eos/pad tokens,
// add_bos_token, the added tokens and ChatTemplate (when set). R1-shaped
// tokenizers (BOS prepended) are declared LlamaTokenizerFast as the
// published R1-Distill models are; others Qwen2Tokenizer.
func (b *BPE) WriteConfig(dir string) error {
	path := filepath.Join(dir, "tokenizer_config.json")
	name := func(id int) any {
		if id < 0 || id >= len(b.tokens) {
			return nil
		}
		return b.tokens[id]
	}
	class := "Qwen2Tokenizer"
	if b.AddsBOS() {
		class = "LlamaTokenizerFast"
	}
	var buf bytes.Buffer
	o := newObj(&buf, "")
	o.val("add_bos_token", b.addBOS)
	o.val("add_eos_token", b.addEOS)
	o.key("added_tokens_decoder")
	buf.WriteString("{")
	for i, a := range b.added {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, "\n    %q: {\"content\": %s, \"lstrip\": %v, \"normalized\": %v, \"rstrip\": %v, \"single_word\": %v, \"special\": %v}",
			strconv.Itoa(a.ID), jsonString(a.Content), a.LStrip, a.Normalized, a.RStrip, a.SingleWord, a.Special)
	}
	buf.WriteString("\n  }")
	o.val("bos_token", name(b.bos))
	o.val("clean_up_tokenization_spaces", false)
	o.val("eos_token", name(b.eos))
	o.val("legacy", true)
	o.val("model_max_length", 131072)
	o.val("pad_token", name(b.pad))
	o.val("tokenizer_class", class)
	o.val("unk_token", nil)
	if b.ChatTemplate != "" {
		o.val("chat_template", b.ChatTemplate)
	}
	o.end()
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write tokenizer config %q: %w", path, err)
	}
	return nil
}

// obj writes a JSON object with keys in the order given, which
// encoding/json cannot do for maps.
type obj struct {
	buf   *bytes.Buffer
	n     int
	inset string
}

func newObj(buf *bytes.Buffer, inset string) *obj {
	buf.WriteString("{")
	return &obj{buf: buf, inset: inset}
}

func (o *obj) key(k string) {
	if o.n > 0 {
		o.buf.WriteString(",")
	}
	o.n++
	o.buf.WriteString("\n  " + o.inset + jsonString(k) + ": ")
}

func (o *obj) raw(k, v string) { o.key(k); o.buf.WriteString(v) }

func (o *obj) val(k string, v any) {
	o.key(k)
	if s, ok := v.(string); ok {
		o.buf.WriteString(jsonString(s))
		return
	}
	data, _ := json.Marshal(v)
	o.buf.Write(data)
}

func (o *obj) end() { o.buf.WriteString("\n" + o.inset + "}\n") }

// writeAtomic writes data to a temporary file beside path and renames it
// into place, so readers never see a half-written file.
func writeAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data)
}
