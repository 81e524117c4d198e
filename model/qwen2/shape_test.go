package qwen2_test

import (
	"sort"
	"testing"

	"ragtune/model/qwen2"
)

func TestReshape(t *testing.T) {
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SlidingWindow, cfg.MaxWindowLayers = 4096, cfg.NumHiddenLayers
	keep := cfg
	if err := cfg.Reshape(qwen2.Shape{HiddenSize: 96, Layers: 3, Heads: 6, KVHeads: 2, MaxPosition: 512}); err != nil {
		t.Fatal(err)
	}
	if cfg.HiddenSize != 96 || cfg.NumHiddenLayers != 3 || cfg.NumAttentionHeads != 6 || cfg.NumKeyValueHeads != 2 || cfg.MaxPositionEmbeddings != 512 {
		t.Errorf("sizes not replaced: %+v", cfg)
	}
	if cfg.IntermediateSize != keep.IntermediateSize {
		t.Errorf("intermediate size %d, want the preset's %d", cfg.IntermediateSize, keep.IntermediateSize)
	}
	// Every layer was full-attention in the preset, so every layer still is;
	// the window shrinks to the context.
	if cfg.MaxWindowLayers != 3 || cfg.SlidingWindow != 512 {
		t.Errorf("max_window_layers %d, sliding_window %d; want 3 and 512", cfg.MaxWindowLayers, cfg.SlidingWindow)
	}
	bad := keep
	if err := bad.Reshape(qwen2.Shape{Heads: 5}); err == nil {
		t.Error("5 heads over a hidden size of 64 validated")
	}
}

func TestNumParams(t *testing.T) {
	cfg := tinyConfig(t, "float32")
	h, i, l, v := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.NumHiddenLayers), int64(cfg.VocabSize)
	hd := h / int64(cfg.NumAttentionHeads)
	kv := hd * int64(cfg.NumKeyValueHeads)
	perLayer := h*h + h + 2*(kv*h+kv) + h*h + 3*h*i + 2*h
	want := l*perLayer + h // + final norm
	want += v * h          // embedding
	if !cfg.TieWordEmbeddings {
		want += v * h
	}
	if got := qwen2.NumParams(&cfg); got != want {
		t.Errorf("NumParams = %d, want %d", got, want)
	}
}

func TestPresetNames(t *testing.T) {
	names := qwen2.PresetNames()
	if len(names) != len(qwen2.Presets) || !sort.StringsAreSorted(names) {
		t.Fatalf("names %v: want all %d presets, sorted", names, len(qwen2.Presets))
	}
	for _, n := range names {
		if _, err := qwen2.Preset(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}
