package bert

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ragtune/gguf"
	"ragtune/model"
	"ragtune/safetensors"
	"ragtune/tokenizer"
	"ragtune/weights"
)

// TinyConfig is a BERT small enough for unit tests to encode a batch in
// milliseconds, with several heads and layers so attention and the layer
// loop are exercised. VocabSize is replaced by the tokenizer's in Init.
// InitializerRange is larger than BERT's 0.02 so random weights give
// embeddings that differ clearly from text to text.
var TinyConfig = Config{
	Architectures: []string{"BertModel"}, ModelType: "bert",
	HiddenSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, IntermediateSize: 128,
	HiddenAct: "gelu", MaxPositionEmbeddings: 512, TypeVocabSize: 2,
	LayerNormEps: 1e-12, InitializerRange: 0.3,
}

// tensorNames lists an HF BertModel's tensors with their shapes, in the
// order Init writes them.
func tensorNames(c *Config) (names []string, shapes [][]int) {
	C, I := c.HiddenSize, c.IntermediateSize
	add := func(n string, s ...int) { names, shapes = append(names, n), append(shapes, s) }
	add("embeddings.word_embeddings.weight", c.VocabSize, C)
	add("embeddings.position_embeddings.weight", c.MaxPositionEmbeddings, C)
	add("embeddings.token_type_embeddings.weight", c.TypeVocabSize, C)
	add("embeddings.LayerNorm.weight", C)
	add("embeddings.LayerNorm.bias", C)
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, lin := range []struct {
			name   string
			oc, ic int
		}{{"attention.self.query", C, C}, {"attention.self.key", C, C}, {"attention.self.value", C, C}, {"attention.output.dense", C, C}} {
			add(p+lin.name+".weight", lin.oc, lin.ic)
			add(p+lin.name+".bias", lin.oc)
		}
		add(p+"attention.output.LayerNorm.weight", C)
		add(p+"attention.output.LayerNorm.bias", C)
		add(p+"intermediate.dense.weight", I, C)
		add(p+"intermediate.dense.bias", I)
		add(p+"output.dense.weight", C, I)
		add(p+"output.dense.bias", C)
		add(p+"output.LayerNorm.weight", C)
		add(p+"output.LayerNorm.bias", C)
	}
	return names, shapes
}

// randomTensor draws a tensor's values from a PRNG seeded by seed and the
// tensor's name, so every tensor is the same on any machine whatever else
// the model holds: LayerNorm weights 1 + N(0, 0.1) (not exactly 1, so a
// forward pass that skips them differs), everything else N(0, r).
func randomTensor(name string, n int, seed uint64, r float64) []float32 {
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	v := make([]float32, n)
	mean, std := 0.0, r
	if strings.HasSuffix(name, "LayerNorm.weight") {
		mean, std = 1, 0.1
	}
	for i := range v {
		v[i] = float32(mean + std*rng.NormFloat64())
	}
	return v
}

// Init writes an HF BERT directory with deterministic random weights:
// config.json, model.safetensors (F32), vocab.txt from vocab, and
// 1_Pooling/config.json selecting pool. cfg.VocabSize becomes the
// vocabulary's size.
func Init(dir string, cfg Config, pool Pooling, seed uint64, vocab *tokenizer.WordPiece) error {
	return initDir(dir, cfg, pool, seed, vocab, 0)
}

// InitCrossEncoder writes a BertForSequenceClassification directory with
// deterministic random weights, the layout of BERT cross-encoder
// rerankers: encoder tensors under "bert.", the pooler and a classifier of
// labels outputs (1 for a reranker).
func InitCrossEncoder(dir string, cfg Config, seed uint64, vocab *tokenizer.WordPiece, labels int) error {
	if labels < 1 {
		return fmt.Errorf("init BERT cross-encoder: labels must be positive, got %d", labels)
	}
	cfg.Architectures = []string{"BertForSequenceClassification"}
	cfg.ID2Label = map[string]string{}
	for l := range labels {
		cfg.ID2Label[fmt.Sprint(l)] = fmt.Sprintf("LABEL_%d", l)
	}
	return initDir(dir, cfg, PoolCLS, seed, vocab, labels)
}

// TinyXLMRConfig is the shape of the tiny random XLM-RoBERTa models the
// tests check against the PyTorch reference: TinyConfig's sizes with
// RoBERTa's position offset (2) inside max_position_embeddings, one
// token type and LayerNorm eps 1e-5.
var TinyXLMRConfig = Config{
	HiddenSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, IntermediateSize: 128,
	HiddenAct: "gelu", MaxPositionEmbeddings: 130, TypeVocabSize: 1,
	LayerNormEps: 1e-5, InitializerRange: 0.3,
}

// InitXLMR writes an HF XLM-RoBERTa directory with deterministic random
// weights and the Unigram tokenizer.json at tokPath: with labels 0 an
// XLMRobertaModel encoder (bge-m3's dense layout), otherwise an
// XLMRobertaForSequenceClassification cross-encoder (bge-reranker's
// layout: encoder under "roberta.", head classifier.dense and
// classifier.out_proj). Positions start at pad_token_id+1 (1 here, as in
// XLM-R), so max_position_embeddings includes that offset.
func InitXLMR(dir string, cfg Config, pool Pooling, seed uint64, tokPath string, labels int) error {
	tokJSON, err := os.ReadFile(tokPath)
	if err != nil {
		return fmt.Errorf("init XLM-R: %w", err)
	}
	uni, err := tokenizer.LoadUnigram(tokPath)
	if err != nil {
		return fmt.Errorf("init XLM-R: %w", err)
	}
	cfg.VocabSize = uni.VocabSize()
	cfg.ModelType = "xlm-roberta"
	cfg.PadTokenID = 1
	cfg.TypeVocabSize = 1
	cfg.Architectures = []string{"XLMRobertaModel"}
	if labels > 0 {
		cfg.Architectures = []string{"XLMRobertaForSequenceClassification"}
		cfg.ID2Label = map[string]string{}
		for l := range labels {
			cfg.ID2Label[fmt.Sprint(l)] = fmt.Sprintf("LABEL_%d", l)
		}
	}
	if cfg.InitializerRange <= 0 {
		cfg.InitializerRange = 0.02
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("init XLM-R: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "1_Pooling"), 0o755); err != nil {
		return fmt.Errorf("init XLM-R: %w", err)
	}
	if err := model.WriteJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return fmt.Errorf("init XLM-R: %w", err)
	}
	pc := poolingConfig{WordEmbeddingDimension: cfg.HiddenSize, CLS: pool == PoolCLS, Mean: pool == PoolMean}
	if err := model.WriteJSON(filepath.Join(dir, "1_Pooling", "config.json"), pc); err != nil {
		return fmt.Errorf("init XLM-R: %w", err)
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, "tokenizer.json"), tokJSON); err != nil {
		return fmt.Errorf("init XLM-R: %w", err)
	}
	names, shapes := tensorNames(&cfg)
	if labels > 0 {
		for i := range names {
			names[i] = "roberta." + names[i]
		}
		C := cfg.HiddenSize
		names = append(names, "classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias")
		shapes = append(shapes, []int{C, C}, []int{C}, []int{labels, C}, []int{labels})
	}
	return writeRandom(filepath.Join(dir, "model.safetensors"), names, shapes, seed, cfg.InitializerRange)
}

func writeRandom(path string, names []string, shapes [][]int, seed uint64, r float64) error {
	w := safetensors.NewWriter(path)
	for i, name := range names {
		n := 1
		for _, d := range shapes[i] {
			n *= d
		}
		if err := w.Add(name, safetensors.F32, shapes[i], f32Bytes(randomTensor(name, n, seed, r))); err != nil {
			w.Abort()
			return fmt.Errorf("init model weights: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("init model weights: %w", err)
	}
	return nil
}

func initDir(dir string, cfg Config, pool Pooling, seed uint64, vocab *tokenizer.WordPiece, labels int) error {
	cfg.VocabSize = vocab.VocabSize()
	cfg.ModelType = "bert"
	if cfg.InitializerRange <= 0 {
		cfg.InitializerRange = 0.02
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("init BERT: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "1_Pooling"), 0o755); err != nil {
		return fmt.Errorf("init BERT: %w", err)
	}
	cfg.PadTokenID = vocab.Pad()
	if err := model.WriteJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return fmt.Errorf("init BERT: %w", err)
	}
	pc := poolingConfig{WordEmbeddingDimension: cfg.HiddenSize, CLS: pool == PoolCLS, Mean: pool == PoolMean}
	if err := model.WriteJSON(filepath.Join(dir, "1_Pooling", "config.json"), pc); err != nil {
		return fmt.Errorf("init BERT: %w", err)
	}
	var sb strings.Builder
	for id := 0; id < vocab.VocabSize(); id++ {
		sb.WriteString(vocab.Token(id))
		sb.WriteByte('\n')
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, "vocab.txt"), []byte(sb.String())); err != nil {
		return fmt.Errorf("init BERT: %w", err)
	}
	w := safetensors.NewWriter(filepath.Join(dir, "model.safetensors"))
	names, shapes := tensorNames(&cfg)
	if labels > 0 {
		for i := range names {
			names[i] = "bert." + names[i]
		}
		C := cfg.HiddenSize
		names = append(names, "bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias")
		shapes = append(shapes, []int{C, C}, []int{C}, []int{labels, C}, []int{labels})
	}
	for i, name := range names {
		n := 1
		for _, d := range shapes[i] {
			n *= d
		}
		if err := w.Add(name, safetensors.F32, shapes[i], f32Bytes(randomTensor(name, n, seed, cfg.InitializerRange))); err != nil {
			w.Abort()
			return fmt.Errorf("init BERT: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("init BERT: %w", err)
	}
	return nil
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// weights returns m's tensors by HF name, in tensorNames order.
func (m *Model) weights() map[string][]float32 {
	w := map[string][]float32{
		"embeddings.word_embeddings.weight":       m.wte,
		"embeddings.position_embeddings.weight":   m.wpe,
		"embeddings.token_type_embeddings.weight": m.wtt,
		"embeddings.LayerNorm.weight":             m.lnw,
		"embeddings.LayerNorm.bias":               m.lnb,
	}
	for l, L := range m.lays {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for n, v := range map[string][]float32{
			"attention.self.query.weight": L.qw, "attention.self.query.bias": L.qb,
			"attention.self.key.weight": L.kw, "attention.self.key.bias": L.kb,
			"attention.self.value.weight": L.vw, "attention.self.value.bias": L.vb,
			"attention.output.dense.weight": L.ow, "attention.output.dense.bias": L.ob,
			"attention.output.LayerNorm.weight": L.ln1w, "attention.output.LayerNorm.bias": L.ln1b,
			"intermediate.dense.weight": L.upw, "intermediate.dense.bias": L.upb,
			"output.dense.weight": L.dnw, "output.dense.bias": L.dnb,
			"output.LayerNorm.weight": L.ln2w, "output.LayerNorm.bias": L.ln2b,
		} {
			w[p+n] = v
		}
	}
	return w
}

// WriteGGUF writes m as a GGUF file of llama.cpp's "bert" architecture
// (F32 tensors under llama.cpp's names, the WordPiece vocabulary in
// llama.cpp's form, bert.pooling_type from m.Pooling), which llama.cpp
// loads as an embedding model.
func (m *Model) WriteGGUF(path, name string) error {
	if m.Tok == nil || m.head != nil {
		return fmt.Errorf("write BERT GGUF: only plain BERT encoders with a WordPiece vocabulary are exported (not XLM-RoBERTa or cross-encoders)")
	}
	c := &m.Config
	w := gguf.NewWriter(path)
	md := []struct {
		k string
		v any
	}{
		{"general.architecture", "bert"},
		{"general.name", name},
		{"general.file_type", uint32(0)}, // all F32
		{"bert.block_count", uint32(c.NumHiddenLayers)},
		{"bert.context_length", uint32(c.MaxPositionEmbeddings)},
		{"bert.embedding_length", uint32(c.HiddenSize)},
		{"bert.feed_forward_length", uint32(c.IntermediateSize)},
		{"bert.attention.head_count", uint32(c.NumAttentionHeads)},
		{"bert.attention.layer_norm_epsilon", float32(c.LayerNormEps)},
		{"bert.attention.causal", false},
		{"bert.pooling_type", uint32(map[Pooling]int{PoolCLS: ggufPoolCLS, PoolMean: ggufPoolMean}[m.Pooling])},
		{"tokenizer.ggml.token_type_count", uint32(c.TypeVocabSize)},
	}
	for _, kv := range md {
		if err := w.AddMetadata(kv.k, kv.v); err != nil {
			w.Abort()
			return fmt.Errorf("write BERT GGUF: %w", err)
		}
	}
	tok := TokenizerMetadata(m.Tok)
	keys := make([]string, 0, len(tok))
	for k := range tok {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := w.AddMetadata(k, tok[k]); err != nil {
			w.Abort()
			return fmt.Errorf("write BERT GGUF: %w", err)
		}
	}
	vals := m.weights()
	names, shapes := tensorNames(c)
	for i, n := range names {
		g, ok := ggufName(n)
		if !ok {
			w.Abort()
			return fmt.Errorf("write BERT GGUF: no llama.cpp name for %s", n)
		}
		dims := make([]uint64, len(shapes[i]))
		for j, d := range shapes[i] {
			dims[len(dims)-1-j] = uint64(d)
		}
		if err := w.AddTensor(g, weights.F32, dims, f32Bytes(vals[n])); err != nil {
			w.Abort()
			return fmt.Errorf("write BERT GGUF: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write BERT GGUF: %w", err)
	}
	return nil
}

// TokenizerMetadata returns the tokenizer.ggml.* keys llama.cpp reads for
// a WordPiece vocabulary: tokens in its "phantom space" form (a word's
// first piece gains a leading U+2581, "##" continuations lose the "##",
// bracketed tokens stay), the five special tokens as control tokens, and
// their ids.
func TokenizerMetadata(w *tokenizer.WordPiece) map[string]any {
	n := w.VocabSize()
	toks := make([]string, n)
	types := make([]int32, n)
	for id := 0; id < n; id++ {
		t := w.Token(id)
		switch {
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
		case strings.HasPrefix(t, "##"):
			t = t[2:]
		default:
			t = "\u2581" + t
		}
		toks[id], types[id] = t, tokenizer.TokenNormal
	}
	md := map[string]any{
		"tokenizer.ggml.model":      "bert",
		"tokenizer.ggml.pre":        "default",
		"tokenizer.ggml.tokens":     toks,
		"tokenizer.ggml.token_type": types,
	}
	for key, id := range map[string]int{
		"unknown_token_id": w.Unk(), "seperator_token_id": w.SEP(), "padding_token_id": w.Pad(),
		"cls_token_id": w.CLS(), "mask_token_id": w.Mask(), "bos_token_id": w.CLS(),
	} {
		if id >= 0 && id < n {
			md["tokenizer.ggml."+key] = uint32(id)
			types[id] = tokenizer.TokenControl
		}
	}
	return md
}

// TinySeed is the seed of the tiny models whose llama.cpp embeddings are
// the package's goldens (scripts/bert_llamacpp.sh).
const TinySeed = 1

// BGEVocab reads the WordPiece vocabulary of a GGUF file (llama.cpp's
// ggml-vocab-bert-bge.gguf holds bge's, tensors-free).
func BGEVocab(path string) (*tokenizer.WordPiece, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read vocabulary: %w", err)
	}
	defer f.Close()
	t, err := tokenizer.FromGGUFMetadata(f.Metadata)
	if err != nil {
		return nil, fmt.Errorf("read vocabulary %s: %w", path, err)
	}
	w, ok := t.(*tokenizer.WordPiece)
	if !ok {
		return nil, fmt.Errorf("read vocabulary %s: tokenizer is %T, not WordPiece", path, t)
	}
	return w, nil
}
