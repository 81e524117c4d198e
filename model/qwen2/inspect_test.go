package qwen2_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"ragtune/model/qwen2"
	"ragtune/weights"
)

func TestWriteConfigTable(t *testing.T) {
	cfg := tinyConfig(t, "float32")
	var b bytes.Buffer
	if err := qwen2.WriteConfigTable(&b, "m", &cfg); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	got := map[string]string{}
	var order []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 {
			t.Fatalf("line %q has no value", l)
		}
		k := strings.Join(f[:len(f)-1], " ")
		got[k] = f[len(f)-1]
		order = append(order, k)
	}
	for k, v := range map[string]string{"model": "m", "hidden_size": "64", "vocab_size": "320", "torch_dtype": "float32", "q/k/v bias": "true"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q\n%s", k, got[k], v, b.String())
		}
	}
	if order[0] != "model" || order[len(order)-1] != "q/k/v bias" {
		t.Errorf("order %v: want model first and q/k/v bias last", order)
	}
}

func TestTensorTotals(t *testing.T) {
	src, cfg := openModel(t, initTiny(t, "float32", 1))
	defer src.Close()
	var want int64
	for _, s := range qwen2.Tensors(cfg) {
		n := int64(1)
		for _, d := range s.Shape {
			n *= int64(d)
		}
		want += n
	}
	params, size, err := qwen2.TensorTotals(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if params != want || size != 4*want {
		t.Errorf("%d params, %d bytes; want %d and %d (f32)", params, size, want, 4*want)
	}
	var b bytes.Buffer
	if p2, _, err := qwen2.TensorTotals(src, &b); err != nil || p2 != params {
		t.Fatalf("with a table: %d params, %v", p2, err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(src.Names())+1 || strings.Join(strings.Fields(lines[0]), " ") != "name dtype shape bytes" {
		t.Errorf("table has %d lines for %d tensors:\n%s", len(lines), len(src.Names()), b.String())
	}
	if !strings.Contains(b.String(), "model.embed_tokens.weight") {
		t.Errorf("table lacks the embedding:\n%s", b.String())
	}
}

func TestInspect(t *testing.T) {
	dir := initTiny(t, "float32", 1)
	src, cfg := openModel(t, dir)
	defer src.Close()
	var b bytes.Buffer
	if err := qwen2.Inspect(&b, dir, src, cfg, false, true); err != nil {
		t.Fatal(err)
	}
	params := qwen2.NumParams(cfg)
	want := fmt.Sprintf("\n%d tensors, %s parameters (%d), ", len(src.Names()), weights.FormatCount(params), params)
	if got := b.String(); !strings.HasPrefix(got, "model") || !strings.Contains(got, want) || strings.Contains(got, "warning") || strings.Contains(got, "embed_tokens") {
		t.Errorf("inspect:\n%s\nwant the config, then %q, no table, no warning", got, want)
	}
	b.Reset()
	if err := qwen2.Inspect(&b, dir, src, cfg, true, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "model.embed_tokens.weight") {
		t.Errorf("no tensor table:\n%s", b.String())
	}
	// A config that does not match the tensors is shown, with a warning.
	wrong := *cfg
	wrong.NumHiddenLayers++
	b.Reset()
	if err := qwen2.Inspect(&b, dir, src, &wrong, false, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\nwarning: ") {
		t.Errorf("no warning for a mismatched config:\n%s", b.String())
	}
}
