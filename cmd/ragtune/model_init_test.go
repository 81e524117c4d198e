package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"ragtune/model/qwen2"
	"reflect"
	"strings"
	"testing"
)

// runCmdLine runs a command line as main does, with stdout captured, and
// returns the exit code and stderr.
func runCmdLine(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := 0
	captureStdout(t, func() error {
		code = runMain(args, os.Stdout, &stderr)
		return nil
	})
	return code, stderr.String()
}

// TestModelInitShapeOverrides makes a custom shape on top of the tiny
// preset and checks the invalid ones are usage errors that write nothing.
func TestModelInitShapeOverrides(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "custom")
	code, stderr := runCmdLine(t, "model", "init", "--preset", "tiny", "--hidden-size", "96", "--intermediate-size", "256",
		"--layers", "3", "--heads", "6", "--kv-heads", "2", "--max-position", "512", "--out", m)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cfg, err := qwen2.LoadConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	got := [...]int{cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.NumKeyValueHeads,
		cfg.MaxPositionEmbeddings, cfg.SlidingWindow, cfg.MaxWindowLayers}
	if want := [...]int{96, 256, 3, 6, 2, 512, 512, 3}; got != want {
		t.Errorf("config hidden, intermediate, layers, heads, kv heads, max position, sliding window, max window layers = %v, want %v", got, want)
	}
	src, _, err := qwen2.Open(m)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for name, want := range map[string][]int{
		"model.layers.2.mlp.down_proj.weight":    {96, 256},
		"model.layers.2.self_attn.k_proj.weight": {32, 96}, // 2 KV heads of 96/6 = 16
		"model.layers.0.self_attn.q_proj.bias":   {96},
		"model.embed_tokens.weight":              {320, 96},
	} {
		tt, err := src.Tensor(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !reflect.DeepEqual(tt.Shape, want) {
			t.Errorf("%s: shape %v, want %v", name, tt.Shape, want)
		}
	}

	for i, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--heads", "5"}, "hidden_size 64 is not a multiple of num_attention_heads 5"},
		{[]string{"--kv-heads", "3"}, "num_attention_heads 4 is not a multiple of num_key_value_heads 3"},
		{[]string{"--hidden-size", "96", "--heads", "32", "--kv-heads", "4"}, "head dimension 3 must be even"},
		{[]string{"--layers", "0"}, "--layers must be > 0"},
		{[]string{"--max-position", "-1"}, "--max-position must be > 0"},
		{[]string{"--hidden-size", "x"}, `--hidden-size "x": not a valid integer`},
	} {
		out := filepath.Join(dir, fmt.Sprintf("bad%d", i))
		code, stderr := runCmdLine(t, append(append([]string{"model", "init"}, tc.args...), "--out", out)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tc.args, code, stderr, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: an invalid shape wrote %s", tc.args, out)
		}
	}
}
