package quant

import (
	"fmt"
	"strconv"
	"strings"

	"ragtune/weights"
)

// Mix is a quantization recipe as llama-quantize names them (its file
// types): a default block type for the weights plus per-tensor rules that
// give the most sensitive tensors (attn_v, ffn_down of some layers, the
// output head) more bits. TensorType reproduces llama-quantize's choices
// (with or without an importance matrix, MixModel.IMatrix), so `ragtune quantize --type q4_k_m` writes
// the same types (and, through the reference quantizers, the same bytes).
type Mix int

// The mixes ragtune writes, numbered as llama.cpp's llama_ftype (the
// general.file_type a GGUF file records).
const (
	MixQ4_0   Mix = 2
	MixQ8_0   Mix = 7
	MixQ2_K   Mix = 10
	MixQ3_K_S Mix = 11
	MixQ3_K_M Mix = 12
	MixQ3_K_L Mix = 13
	MixQ4_K_S Mix = 14
	MixQ4_K_M Mix = 15
	MixQ5_K_S Mix = 16
	MixQ5_K_M Mix = 17
	MixQ6_K   Mix = 18
)

var mixNames = map[Mix]string{
	MixQ4_0: "q4_0", MixQ8_0: "q8_0", MixQ2_K: "q2_k",
	MixQ3_K_S: "q3_k_s", MixQ3_K_M: "q3_k_m", MixQ3_K_L: "q3_k_l",
	MixQ4_K_S: "q4_k_s", MixQ4_K_M: "q4_k_m",
	MixQ5_K_S: "q5_k_s", MixQ5_K_M: "q5_k_m", MixQ6_K: "q6_k",
}

// MixNames lists the names ParseMix accepts, in size order.
func MixNames() []string {
	return []string{"q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_0", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k", "q8_0"}
}

func (m Mix) String() string {
	if s, ok := mixNames[m]; ok {
		return s
	}
	return "mix(" + strconv.Itoa(int(m)) + ")"
}

// FileType is the mix's llama_ftype, GGUF's general.file_type.
func (m Mix) FileType() uint32 { return uint32(m) }

// ParseMix reads a mix name as users type it ("q4_k_m", "Q4_K_M"; "q4_k"
// means q4_k_m, "q3_k" q3_k_m and "q5_k" q5_k_m, as llama-quantize's
// aliases do).
func ParseMix(s string) (Mix, error) {
	l := strings.ToLower(s)
	switch l {
	case "q3_k":
		return MixQ3_K_M, nil
	case "q4_k":
		return MixQ4_K_M, nil
	case "q5_k":
		return MixQ5_K_M, nil
	}
	for m, name := range mixNames {
		if name == l {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown quantization type %q (use one of %s)", s, strings.Join(MixNames(), ", "))
}

// DefaultType is the block type of the mix's ordinary weights.
func (m Mix) DefaultType() weights.DType {
	switch m {
	case MixQ4_0:
		return weights.Q4_0
	case MixQ8_0:
		return weights.Q8_0
	case MixQ2_K:
		return weights.Q2_K
	case MixQ3_K_S, MixQ3_K_M, MixQ3_K_L:
		return weights.Q3_K
	case MixQ4_K_S, MixQ4_K_M:
		return weights.Q4_K
	case MixQ5_K_S, MixQ5_K_M:
		return weights.Q5_K
	case MixQ6_K:
		return weights.Q6_K
	}
	return weights.F32
}

// MixModel is what the per-tensor rules depend on.
type MixModel struct {
	Layers         int  // decoder layers
	Heads, KVHeads int  // attention heads and key/value heads (GQA factor Heads/KVHeads)
	Tied           bool // no separate output head: token_embd serves as head
	// Is70B marks llama.cpp's 70B model class (80 layers with grouped
	// KV heads), whose attn_v gets Q5_K instead of Q3_K/Q4_K.
	Is70B bool
	// IMatrix is set when an importance matrix weighs the quantization:
	// llama-quantize then guards a Q4_0 model's first ffn_down layers
	// with Q4_1, which it does not do without one.
	IMatrix bool
}

// blockOf returns a block type's values per block.
func blockOf(d weights.DType) int {
	if IsKQuant(d) {
		return QK_K
	}
	return BlockSize
}

// TensorType returns the type llama-quantize gives tensor name (llama.cpp's
// GGUF name, "blk.3.attn_v.weight") of PyTorch shape [rows, cols] in this
// mix, and false for tensors it keeps as they are (1-D tensors, norms).
// pure is llama-quantize's --pure: every quantized tensor gets the default
// type, only narrow rows still fall back.
func (m Mix) TensorType(model MixModel, name string, shape []int, pure bool) (weights.DType, bool) {
	if len(shape) < 2 || !strings.HasSuffix(name, "weight") || strings.Contains(name, "_norm.weight") {
		return 0, false
	}
	cols := shape[len(shape)-1]
	t := m.DefaultType()
	if !pure {
		t = m.rule(model, name, cols, t)
	}
	return fallback(t, cols), true
}

// rule is llama-quantize's per-tensor choice for the tensor roles of the
// architectures ragtune runs (dense decoders; no experts, no fused QKV).
func (m Mix) rule(model MixModel, name string, cols int, t weights.DType) weights.DType {
	layer := -1
	if rest, ok := strings.CutPrefix(name, "blk."); ok {
		if i := strings.IndexByte(rest, '.'); i > 0 {
			layer, _ = strconv.Atoi(rest[:i])
		}
	}
	n := model.Layers
	// Layers where more bits pay off: the first and last eighth, and every
	// third layer in between.
	moreBits := func(i int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }
	gqa := 1
	if model.KVHeads > 0 {
		gqa = model.Heads / model.KVHeads
	}
	switch {
	case name == "output.weight" || (model.Tied && name == "token_embd.weight"):
		if cols%blockOf(t) != 0 {
			return weights.Q8_0
		}
		if t != weights.Q8_0 {
			return weights.Q6_K
		}
		return t
	case name == "token_embd.weight":
		return t
	case strings.Contains(name, "attn_v.weight"):
		switch {
		case m == MixQ2_K && gqa >= 4:
			t = weights.Q4_K
		case m == MixQ2_K:
			t = weights.Q3_K
		case m == MixQ3_K_M && layer < 2:
			t = weights.Q5_K
		case m == MixQ3_K_M:
			t = weights.Q4_K
		case m == MixQ3_K_L:
			t = weights.Q5_K
		case (m == MixQ4_K_M || m == MixQ5_K_M) && moreBits(layer):
			t = weights.Q6_K
		case m == MixQ4_K_S && layer < 4:
			t = weights.Q5_K
		}
		if model.Is70B && (t == weights.Q3_K || t == weights.Q4_K) {
			t = weights.Q5_K
		}
	case strings.Contains(name, "ffn_down"):
		switch {
		case m == MixQ2_K:
			t = weights.Q3_K
		case m == MixQ3_K_M && layer < n/16:
			t = weights.Q5_K
		case m == MixQ3_K_M:
			t = weights.Q4_K
		case m == MixQ3_K_L:
			t = weights.Q5_K
		case (m == MixQ4_K_M || m == MixQ5_K_M) && moreBits(layer):
			t = weights.Q6_K
		case m == MixQ4_K_S && layer < n/8:
			t = weights.Q5_K
		case m == MixQ4_0 && model.IMatrix && layer < n/8:
			t = weights.Q4_1
		}
	case strings.Contains(name, "attn_output.weight"):
		switch m {
		case MixQ2_K:
			t = weights.Q3_K
		case MixQ3_K_M:
			t = weights.Q4_K
		case MixQ3_K_L:
			t = weights.Q5_K
		}
	}
	return t
}

// fallback is llama-quantize's answer to rows too narrow for a block
// type: 256-value types step down to a 32-value type of similar size, and
// rows that are not a multiple of 32 stay F16.
func fallback(t weights.DType, cols int) weights.DType {
	if cols%blockOf(t) == 0 {
		return t
	}
	switch t {
	case weights.Q2_K, weights.Q3_K:
		t = weights.Q4_0
	case weights.Q4_K:
		t = weights.Q5_0
	case weights.Q5_K:
		t = weights.Q5_1
	case weights.Q6_K:
		t = weights.Q8_0
	}
	if cols%BlockSize != 0 {
		return weights.F16
	}
	return t
}

// Encoder returns the row quantizer of a block type ragtune writes and its
// geometry (values and bytes per block).
func Encoder(d weights.DType) (fn func(dst []byte, src []float32), block, blockBytes int, ok bool) {
	switch d {
	case weights.Q8_0:
		return QuantizeQ8_0, BlockSize, Q8_0BlockBytes, true
	case weights.Q4_0:
		return QuantizeQ4_0, BlockSize, Q4_0BlockBytes, true
	case weights.Q4_1:
		return QuantizeQ4_1, BlockSize, Q4_1BlockBytes, true
	case weights.Q5_0:
		return QuantizeQ5_0, BlockSize, Q5_0BlockBytes, true
	case weights.Q5_1:
		return QuantizeQ5_1, BlockSize, Q5_1BlockBytes, true
	}
	if k, ok := kTypeOf(d); ok {
		return k.quantize, QK_K, k.blockBytes, true
	}
	return nil, 0, 0, false
}
