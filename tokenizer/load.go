package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hfFile is the part of an HF tokenizer.json that ragtune reads.
type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		UnkToken                *string         `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int             `json:"max_input_chars_per_word"`
		IgnoreMerges            bool            `json:"ignore_merges"`
		ByteFallback            bool            `json:"byte_fallback"`
	} `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfComponent struct {
	Type           string          `json:"type"`
	Pretokenizers  []hfComponent   `json:"pretokenizers"`
	Normalizers    []hfComponent   `json:"normalizers"`
	Pattern        json.RawMessage `json:"pattern"`
	Behavior       string          `json:"behavior"`
	Invert         bool            `json:"invert"`
	AddPrefixSpace bool            `json:"add_prefix_space"`
	UseRegex       *bool           `json:"use_regex"`
	// BertNormalizer
	CleanText          *bool `json:"clean_text"`
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`
	// TemplateProcessing
	Single []map[string]struct {
		ID string `json:"id"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		ID  string `json:"id"`
		IDs []int  `json:"ids"`
	} `json:"special_tokens"`
	// BertProcessing
	Cls []any `json:"cls"`
	Sep []any `json:"sep"`
}

// tokenizerConfig is the part of tokenizer_config.json that matters for encoding.
type tokenizerConfig struct {
	AddBOS       *bool           `json:"add_bos_token"`
	AddEOS       *bool           `json:"add_eos_token"`
	BOS          json.RawMessage `json:"bos_token"`
	EOS          json.RawMessage `json:"eos_token"`
	Pad          json.RawMessage `json:"pad_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
	DoLowerCase  *bool           `json:"do_lower_case"`
}

// tokenName reads a bos/eos/pad entry, which is a string, null or an
// object with "content".
func tokenName(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct{ Content string }
	if json.Unmarshal(raw, &o) == nil {
		return o.Content
	}
	return ""
}

func (c *tokenizerConfig) template() string {
	if len(c.ChatTemplate) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(c.ChatTemplate, &s) == nil {
		return s
	}
	// Newer files hold a list of named templates.
	var list []struct{ Name, Template string }
	if json.Unmarshal(c.ChatTemplate, &list) == nil {
		for _, t := range list {
			if t.Name == "default" {
				return t.Template
			}
		}
		if len(list) > 0 {
			return list[0].Template
		}
	}
	return ""
}

// ChatConfig is what chat templating reads from tokenizer_config.json.
type ChatConfig struct {
	BOS, EOS string // texts of the bos/eos tokens ("" when unset)
	Template string // chat_template (the "default" one of a named list)
}

// ReadChatConfig reads the tokenizer_config.json at path, for package
// llm/chat, so the file's quirks (token entries as objects, named template
// lists) are handled in one place.
func ReadChatConfig(path string) (ChatConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ChatConfig{}, err
	}
	var c tokenizerConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return ChatConfig{}, fmt.Errorf("%q: %w", path, err)
	}
	return ChatConfig{BOS: tokenName(c.BOS), EOS: tokenName(c.EOS), Template: c.template()}, nil
}

// resolvePath accepts tokenizer.json or a directory holding one, and
// returns the file and the directory (for tokenizer_config.json).
func resolvePath(path string) (file, dir string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", "", fmt.Errorf("load tokenizer %q: %w (give a tokenizer.json or a model directory holding one)", path, err)
	}
	if st.IsDir() {
		return filepath.Join(path, "tokenizer.json"), path, nil
	}
	return path, filepath.Dir(path), nil
}

func readHF(file string) (*hfFile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", file, err)
	}
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("load tokenizer %q: not a valid tokenizer.json: %w", file, err)
	}
	if f.Model.Type == "" && len(f.Model.Vocab) == 0 {
		return nil, fmt.Errorf("load tokenizer %q: no \"model\" section (is this a tokenizer.json?)", file)
	}
	return &f, nil
}

// readConfig reads tokenizer_config.json next to the tokenizer, if any.
func readConfig(dir string) (*tokenizerConfig, error) {
	p := filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", p, err)
	}
	var c tokenizerConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("read %q: %w", p, err)
	}
	return &c, nil
}

// Load reads a byte-level BPE tokenizer from an HF tokenizer.json, or from
// a model directory holding one. A tokenizer_config.json beside it
// supplies add_bos_token, bos/eos/pad and the chat template.
func Load(path string) (*BPE, error) {
	file, dir, err := resolvePath(path)
	if err != nil {
		return nil, err
	}
	f, err := readHF(file)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", file, err)
	}
	b, err := bpeFromHF(f, cfg)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", file, err)
	}
	return b, nil
}

// LoadAny loads whichever model a tokenizer.json (or directory) holds:
// *BPE for byte-level BPE, *WordPiece for WordPiece; a vocab.txt (or a
// directory with only a vocab.txt) loads as WordPiece, and a .gguf file
// as LoadGGUF reads it.
func LoadAny(path string) (Tokenizer, error) {
	if strings.HasSuffix(strings.ToLower(path), ".gguf") {
		return LoadGGUF(path)
	}
	if strings.HasSuffix(path, ".txt") {
		return LoadWordPiece(path)
	}
	file, _, err := resolvePath(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if vt := filepath.Join(filepath.Dir(file), "vocab.txt"); fileExists(vt) {
			return LoadWordPiece(vt)
		}
	}
	f, err := readHF(file)
	if err != nil {
		return nil, err
	}
	if f.Model.Type == "WordPiece" {
		return LoadWordPiece(path)
	}
	return Load(path)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func bpeFromHF(f *hfFile, cfg *tokenizerConfig) (*BPE, error) {
	if f.Model.Type != "BPE" && f.Model.Type != "" {
		return nil, fmt.Errorf("model type %q is not byte-level BPE (WordPiece loads with LoadWordPiece; others are unsupported)", f.Model.Type)
	}
	if f.Model.ByteFallback {
		return nil, errors.New("byte_fallback BPE (SentencePiece style) is not supported")
	}
	sp := bpeSpec{bos: -1, eos: -1, pad: -1, ignoreMerges: f.Model.IgnoreMerges}
	if err := json.Unmarshal(f.Model.Vocab, &sp.vocab); err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	merges, err := parseMerges(f.Model.Merges)
	if err != nil {
		return nil, err
	}
	sp.merges = merges
	for _, a := range f.AddedTokens {
		sp.added = append(sp.added, AddedToken{ID: a.ID, Content: a.Content, Special: a.Special,
			SingleWord: a.SingleWord, LStrip: a.LStrip, RStrip: a.RStrip, Normalized: a.Normalized})
	}
	// Added tokens that are also plain vocabulary entries stay added tokens.
	nfc, err := parseNormalizer(f.Normalizer)
	if err != nil {
		return nil, err
	}
	sp.nfc = nfc
	if err := parsePreTokenizer(f.PreTokenizer, &sp); err != nil {
		return nil, err
	}
	byName := func(name string) int {
		for _, a := range sp.added {
			if a.Content == name {
				return a.ID
			}
		}
		if id, ok := sp.vocab[name]; ok {
			return id
		}
		return -1
	}
	// A TemplateProcessing post-processor says which tokens wrap a sequence.
	if len(f.PostProcessor) > 0 && string(f.PostProcessor) != "null" {
		var pp hfComponent
		if err := json.Unmarshal(f.PostProcessor, &pp); err != nil {
			return nil, fmt.Errorf("post_processor: %w", err)
		}
		if pp.Type == "TemplateProcessing" {
			seenSeq := false
			for _, piece := range pp.Single {
				if _, ok := piece["Sequence"]; ok {
					seenSeq = true
				}
				if st, ok := piece["SpecialToken"]; ok {
					if seenSeq {
						sp.addEOS, sp.eos = true, byName(st.ID)
					} else {
						sp.addBOS, sp.bos = true, byName(st.ID)
					}
				}
			}
		}
	}
	if cfg != nil {
		if n := tokenName(cfg.BOS); n != "" {
			sp.bos = byName(n)
		}
		if n := tokenName(cfg.EOS); n != "" {
			sp.eos = byName(n)
		}
		if n := tokenName(cfg.Pad); n != "" {
			sp.pad = byName(n)
		}
		if cfg.AddBOS != nil {
			sp.addBOS = *cfg.AddBOS
		}
		if cfg.AddEOS != nil {
			sp.addEOS = *cfg.AddEOS
		}
	}
	sp.pre = guessPre(&sp)
	b, err := newBPE(sp)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		b.ChatTemplate = cfg.template()
	}
	return b, nil
}

// guessPre names the GGUF pre-tokenizer llama.cpp uses for this vocabulary.
func guessPre(sp *bpeSpec) string {
	if sp.pattern != Qwen2Pattern {
		switch sp.pattern {
		case GPT2Pattern:
			return "gpt2"
		case Llama3Pattern:
			return "llama-bpe"
		}
		return ""
	}
	for _, a := range sp.added {
		if a.Content == r1BOS {
			return "deepseek-r1-qwen"
		}
	}
	return "qwen2"
}

// parseMerges accepts both the "a b" string form and the ["a","b"] form.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("model.merges[%d] = %q is not \"left right\"", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("model.merges: neither \"a b\" strings nor [a, b] pairs: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("model.merges[%d] has %d elements, want 2", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

func parseNormalizer(raw json.RawMessage) (nfc bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return false, fmt.Errorf("normalizer: %w", err)
	}
	var walk func(c hfComponent) error
	walk = func(c hfComponent) error {
		switch c.Type {
		case "NFC":
			nfc = true
		case "Sequence":
			for _, n := range c.Normalizers {
				if err := walk(n); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("normalizer %q is not supported for byte-level BPE", c.Type)
		}
		return nil
	}
	return nfc, walk(c)
}

func parsePreTokenizer(raw json.RawMessage, sp *bpeSpec) error {
	if len(raw) == 0 || string(raw) == "null" {
		return errors.New("no pre_tokenizer: not a byte-level BPE tokenizer")
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("pre_tokenizer: %w", err)
	}
	list := []hfComponent{c}
	if c.Type == "Sequence" {
		list = c.Pretokenizers
	}
	byteLevel := false
	for _, p := range list {
		switch p.Type {
		case "Split":
			if sp.pattern != "" {
				return errors.New("pre_tokenizer: more than one split pattern is not supported")
			}
			var pat struct{ Regex, String *string }
			if err := json.Unmarshal(p.Pattern, &pat); err != nil || pat.Regex == nil {
				return fmt.Errorf("pre_tokenizer Split: only a Regex pattern is supported (got %s)", p.Pattern)
			}
			if p.Behavior != "Isolated" || p.Invert {
				return fmt.Errorf("pre_tokenizer Split: behavior %q invert %v is not supported (want Isolated)", p.Behavior, p.Invert)
			}
			sp.pattern = *pat.Regex
		case "ByteLevel":
			byteLevel = true
			sp.prefixSp = p.AddPrefixSpace
			if p.UseRegex == nil || *p.UseRegex {
				if sp.pattern != "" {
					return errors.New("pre_tokenizer: ByteLevel with use_regex after a Split is not supported")
				}
				sp.pattern = GPT2Pattern
			}
		default:
			return fmt.Errorf("pre_tokenizer %q is not supported", p.Type)
		}
	}
	if !byteLevel {
		return errors.New("pre_tokenizer has no ByteLevel step: not a byte-level BPE tokenizer")
	}
	return nil
}

// jsonString encodes s as a JSON string without HTML escaping, so tokens
// such as <think> are written as themselves.
func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}
