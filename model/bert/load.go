package bert

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"ragtune/gguf"
	"ragtune/quant"
	"ragtune/safetensors"
	"ragtune/tokenizer"
	"ragtune/weights"
)

// layer holds one encoder block's weights (PyTorch layouts: a Linear
// weight is (out, in)).
type layer struct {
	qw, kw, vw []float32 // (C, C) each
	qb, kb, vb []float32 // (C)
	ow, ob     []float32 // attention.output.dense (C, C), (C)
	ln1w, ln1b []float32 // attention.output.LayerNorm (C)
	upw, upb   []float32 // intermediate.dense (I, C), (I)
	dnw, dnb   []float32 // output.dense (C, I), (C)
	ln2w, ln2b []float32 // output.LayerNorm (C)
}

// Model is a loaded encoder: immutable weights plus its tokenizer, safe
// for concurrent Embed calls.
type Model struct {
	Config  Config
	Pooling Pooling
	Tok     *tokenizer.WordPiece // BERT checkpoints
	// Uni is the SentencePiece Unigram tokenizer of XLM-RoBERTa
	// checkpoints (bge-m3, bge-reranker); Tok is nil then.
	Uni *tokenizer.Unigram
	// posOffset is where position ids start: RoBERTa numbers positions
	// from padding_idx+1, BERT from 0.
	posOffset int

	wte  []float32 // word_embeddings (V, C)
	wpe  []float32 // position_embeddings (P, C)
	wtt  []float32 // token_type_embeddings (TV, C); row 0 is added to every token
	lnw  []float32 // embeddings.LayerNorm (C)
	lnb  []float32
	lays []layer

	head *head // sequence-classification head (cross-encoders), nil for plain encoders
}

// Dim returns the embedding size.
func (m *Model) Dim() int { return m.Config.HiddenSize }

// MaxTokens returns the longest input in tokens, [CLS] and [SEP] included;
// longer texts are truncated.
func (m *Model) MaxTokens() int { return m.Config.MaxPositionEmbeddings - m.posOffset }

// Load opens an encoder from an HF directory (config.json with model_type
// "bert", model.safetensors, vocab.txt or tokenizer.json, optional
// 1_Pooling/config.json) or a GGUF file of architecture "bert".
func Load(path string) (*Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load BERT model: %w", err)
	}
	if fi.IsDir() {
		return loadHF(path)
	}
	if strings.HasSuffix(path, ".safetensors") {
		return loadHF(filepath.Dir(path))
	}
	return loadGGUF(path)
}

// getter returns a tensor by its HF name (without any "bert." prefix).
type getter func(name string) (*weights.Tensor, error)

// reader copies weights out through get as float32, checking each shape,
// and collects every problem so a load reports them all at once.
type reader struct {
	get  getter
	errs []error
}

func (r *reader) read(name string, shape ...int) []float32 {
	t, err := r.get(name)
	if err != nil {
		r.errs = append(r.errs, err)
		return nil
	}
	if !slices.Equal(t.Shape, shape) {
		r.errs = append(r.errs, fmt.Errorf("tensor %s has shape %v, want %v", name, t.Shape, shape))
		return nil
	}
	v, err := quant.Float32(t)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("tensor %s: %w", name, err))
	}
	return v
}

func loadHF(dir string) (*Model, error) {
	cfg, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	pool, err := loadPooling(dir)
	if err != nil {
		return nil, err
	}
	roberta := cfg.ModelType == "xlm-roberta" || cfg.ModelType == "roberta"
	var (
		tok *tokenizer.WordPiece
		uni *tokenizer.Unigram
	)
	if roberta {
		if uni, err = tokenizer.LoadUnigram(dir); err != nil {
			return nil, fmt.Errorf("load XLM-RoBERTa tokenizer from %s: %w (the encoder needs a SentencePiece Unigram tokenizer.json)", dir, err)
		}
	} else if tok, err = tokenizer.LoadWordPiece(dir); err != nil {
		return nil, fmt.Errorf("load BERT tokenizer from %s: %w (the encoder needs vocab.txt or a WordPiece tokenizer.json)", dir, err)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open BERT weights in %s: %w", dir, err)
	}
	defer set.Close()
	// BertModel checkpoints name tensors "embeddings…"; checkpoints saved
	// from BertFor* heads prefix them with "bert.".
	prefix := ""
	if _, err := set.Tensor("embeddings.word_embeddings.weight"); err != nil {
		prefix = "bert."
		if roberta {
			prefix = "roberta."
		}
	}
	get := func(name string) (*weights.Tensor, error) {
		t, err := set.Tensor(prefix + name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		dt, err := safetensors.WeightsDType(t.DType)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		return &weights.Tensor{Name: t.Name, DType: dt, Shape: t.Shape, Data: t.Data}, nil
	}
	m, err := build(*cfg, pool, tok, get)
	if err != nil {
		return nil, err
	}
	if roberta {
		if uni.VocabSize() > cfg.VocabSize {
			return nil, fmt.Errorf("tokenizer has %d tokens but the model's vocab_size is %d: tokenizer and weights do not belong together", uni.VocabSize(), cfg.VocabSize)
		}
		m.Uni, m.posOffset = uni, cfg.PadTokenID+1
		if cfg.MaxPositionEmbeddings <= m.posOffset+2 {
			return nil, fmt.Errorf("%s: max_position_embeddings %d leaves no room after the position offset %d", dir, cfg.MaxPositionEmbeddings, m.posOffset)
		}
	}
	// Head tensor names are absolute (classifier.weight sits beside the
	// prefixed encoder, pooler under it).
	if m.head, err = loadHead(cfg.HiddenSize, func(name string) (*weights.Tensor, error) {
		if strings.HasPrefix(name, prefix) {
			return get(strings.TrimPrefix(name, prefix))
		}
		t, err := set.Tensor(name)
		if err != nil {
			return nil, err
		}
		dt, err := safetensors.WeightsDType(t.DType)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		return &weights.Tensor{Name: t.Name, DType: dt, Shape: t.Shape, Data: t.Data}, nil
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// ggufNames maps HF BERT tensor names to llama.cpp's; per-layer names use
// "%d" for the layer.
var ggufNames = map[string]string{
	"embeddings.word_embeddings.weight":       "token_embd.weight",
	"embeddings.position_embeddings.weight":   "position_embd.weight",
	"embeddings.token_type_embeddings.weight": "token_types.weight",
	"embeddings.LayerNorm.weight":             "token_embd_norm.weight",
	"embeddings.LayerNorm.bias":               "token_embd_norm.bias",
}

var ggufLayerNames = map[string]string{
	"attention.self.query":       "attn_q",
	"attention.self.key":         "attn_k",
	"attention.self.value":       "attn_v",
	"attention.output.dense":     "attn_output",
	"attention.output.LayerNorm": "attn_output_norm",
	"intermediate.dense":         "ffn_up",
	"output.dense":               "ffn_down",
	"output.LayerNorm":           "layer_output_norm",
}

// ggufName maps an HF BERT tensor name to its GGUF name.
func ggufName(hf string) (string, bool) {
	if g, ok := ggufNames[hf]; ok {
		return g, true
	}
	rest, ok := strings.CutPrefix(hf, "encoder.layer.")
	if !ok {
		return "", false
	}
	num, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	for _, suffix := range []string{".weight", ".bias"} {
		if base, ok := strings.CutSuffix(rest, suffix); ok {
			if g, ok := ggufLayerNames[base]; ok {
				return "blk." + num + "." + g + suffix, true
			}
		}
	}
	return "", false
}

func loadGGUF(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load BERT model: %w", err)
	}
	defer f.Close()
	if arch, _ := f.String("general.architecture"); arch != "bert" {
		return nil, fmt.Errorf("load BERT model %s: general.architecture is %q, not \"bert\"", path, arch)
	}
	u := func(key string) int {
		v, _ := f.Uint("bert." + key)
		return int(v)
	}
	cfg := Config{
		ModelType: "bert", HiddenAct: "gelu",
		HiddenSize:            u("embedding_length"),
		NumHiddenLayers:       u("block_count"),
		NumAttentionHeads:     u("attention.head_count"),
		IntermediateSize:      u("feed_forward_length"),
		MaxPositionEmbeddings: u("context_length"),
		TypeVocabSize:         2,
	}
	cfg.LayerNormEps, _ = f.Float("bert.attention.layer_norm_epsilon")
	if causal, ok := f.Metadata["bert.attention.causal"].(bool); ok && causal {
		return nil, fmt.Errorf("load BERT model %s: bert.attention.causal is true; an encoder attends both ways", path)
	}
	if t, err := f.Tensor("token_embd.weight"); err == nil && len(t.Dims) == 2 {
		cfg.VocabSize = int(t.Dims[1])
	}
	if t, err := f.Tensor("token_types.weight"); err == nil && len(t.Dims) == 2 {
		cfg.TypeVocabSize = int(t.Dims[1])
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pool := PoolCLS
	if v, ok := f.Uint("bert.pooling_type"); ok {
		switch v {
		case ggufPoolCLS:
		case ggufPoolMean:
			pool = PoolMean
		default:
			return nil, fmt.Errorf("load BERT model %s: bert.pooling_type %d is not supported (want 1 mean or 2 cls)", path, v)
		}
	}
	t, err := tokenizer.FromGGUFMetadata(f.Metadata)
	if err != nil {
		return nil, fmt.Errorf("load BERT tokenizer from %s: %w", path, err)
	}
	tok, ok := t.(*tokenizer.WordPiece)
	if !ok {
		return nil, fmt.Errorf("load BERT model %s: tokenizer is %T, not WordPiece", path, t)
	}
	get := func(name string) (*weights.Tensor, error) {
		g, ok := ggufName(name)
		if !ok {
			return nil, fmt.Errorf("no GGUF name for %s: %w", name, weights.ErrNotFound)
		}
		ti, err := f.Tensor(g)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &weights.Tensor{Name: g, DType: ti.Type, Shape: ti.Shape(), Data: ti.Data}, nil
	}
	return build(cfg, pool, tok, get)
}

// build reads every weight through get (copying it out of the mapped
// file) and checks shapes against cfg.
func build(cfg Config, pool Pooling, tok *tokenizer.WordPiece, get getter) (*Model, error) {
	if tok != nil && tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model's vocab_size is %d: tokenizer and weights do not belong together", tok.VocabSize(), cfg.VocabSize)
	}
	C, I := cfg.HiddenSize, cfg.IntermediateSize
	rd := &reader{get: get}
	read := rd.read
	m := &Model{Config: cfg, Pooling: pool, Tok: tok}
	m.wte = read("embeddings.word_embeddings.weight", cfg.VocabSize, C)
	m.wpe = read("embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, C)
	m.wtt = read("embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, C)
	m.lnw = read("embeddings.LayerNorm.weight", C)
	m.lnb = read("embeddings.LayerNorm.bias", C)
	for l := 0; l < cfg.NumHiddenLayers && len(rd.errs) == 0; l++ {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		m.lays = append(m.lays, layer{
			qw: read(p+"attention.self.query.weight", C, C), qb: read(p+"attention.self.query.bias", C),
			kw: read(p+"attention.self.key.weight", C, C), kb: read(p+"attention.self.key.bias", C),
			vw: read(p+"attention.self.value.weight", C, C), vb: read(p+"attention.self.value.bias", C),
			ow: read(p+"attention.output.dense.weight", C, C), ob: read(p+"attention.output.dense.bias", C),
			ln1w: read(p+"attention.output.LayerNorm.weight", C), ln1b: read(p+"attention.output.LayerNorm.bias", C),
			upw: read(p+"intermediate.dense.weight", I, C), upb: read(p+"intermediate.dense.bias", I),
			dnw: read(p+"output.dense.weight", C, I), dnb: read(p+"output.dense.bias", C),
			ln2w: read(p+"output.LayerNorm.weight", C), ln2b: read(p+"output.LayerNorm.bias", C),
		})
	}
	if err := errors.Join(rd.errs...); err != nil {
		return nil, fmt.Errorf("load BERT weights: %w", err)
	}
	return m, nil
}
