package qwen2

import "sort"

// Shape holds the sizes that replace a preset's for a custom model (a
// small one to pre-train from scratch, say); a zero keeps the preset's.
type Shape struct {
	HiddenSize       int // hidden_size
	IntermediateSize int // intermediate_size
	Layers           int // num_hidden_layers
	Heads            int // num_attention_heads
	KVHeads          int // num_key_value_heads
	MaxPosition      int // max_position_embeddings
}

// Reshape replaces c's sizes by the non-zero ones of s, keeps the
// sliding-window fields consistent with them, and validates the result.
func (c *Config) Reshape(s Shape) error {
	presetLayers := c.NumHiddenLayers
	for _, f := range []struct {
		v   int
		dst *int
	}{
		{s.HiddenSize, &c.HiddenSize}, {s.IntermediateSize, &c.IntermediateSize}, {s.Layers, &c.NumHiddenLayers},
		{s.Heads, &c.NumAttentionHeads}, {s.KVHeads, &c.NumKeyValueHeads}, {s.MaxPosition, &c.MaxPositionEmbeddings},
	} {
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	// max_window_layers counts the layers below which attention is full
	// when sliding-window attention is on: a preset whose every layer is
	// full keeps that, and no shape counts more layers than it has. A
	// window longer than the context means nothing, so it shrinks with it.
	if c.MaxWindowLayers >= presetLayers || c.MaxWindowLayers > c.NumHiddenLayers {
		c.MaxWindowLayers = c.NumHiddenLayers
	}
	c.SlidingWindow = min(c.SlidingWindow, c.MaxPositionEmbeddings)
	return c.Validate()
}

// NumParams is the number of parameters of a model of config c: the sum
// over its tensor table.
func NumParams(c *Config) int64 {
	var params int64
	for _, s := range Tensors(c) {
		n := int64(1)
		for _, d := range s.Shape {
			n *= int64(d)
		}
		params += n
	}
	return params
}

// PresetNames lists the presets' names in order, for help texts.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
