package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/model/qwen2"
)

// runArgs runs a command line as main does and returns the exit code,
// stdout and stderr.
func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runMain(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var out string
	captured := captureStdout(t, func() error {
		code, o, stderr := runArgs(t, args...)
		out = o
		if code != 0 {
			t.Fatalf("ragtune %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return nil
	})
	return out + captured
}

// TestArchTiny is issue 18's interface check for each new architecture:
// `model init --preset tiny --arch A` writes an HF directory of that
// model_type with a tokenizer, which tokenize, eval perplexity, run,
// model convert (to GGUF and back) and quantize accept.
func TestArchTiny(t *testing.T) {
	text := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(text, []byte("The quick brown fox 12345 jumps over the lazy dog.\n你好，世界。\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"llama", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			dir := t.TempDir()
			m := filepath.Join(dir, "m")
			mustRun(t, "model", "init", "--preset", "tiny", "--arch", arch, "--out", m)
			cfg, err := qwen2.LoadConfig(m)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ModelType != arch {
				t.Fatalf("model_type %q, want %q", cfg.ModelType, arch)
			}
			switch arch {
			case "llama":
				if cfg.RopeScaling.Kind() != "llama3" || cfg.TieWordEmbeddings {
					t.Errorf("llama config: rope_scaling %+v, tied %v", cfg.RopeScaling, cfg.TieWordEmbeddings)
				}
			case "qwen3":
				if cfg.HeadDimension()*cfg.NumAttentionHeads == cfg.HiddenSize || !cfg.TieWordEmbeddings {
					t.Errorf("qwen3 config: head_dim %d × %d heads vs hidden %d, tied %v", cfg.HeadDimension(), cfg.NumAttentionHeads, cfg.HiddenSize, cfg.TieWordEmbeddings)
				}
			}
			if out := mustRun(t, "tokenize", "--tokenizer", filepath.Join(m, "tokenizer.json"), "--ids", "12 <think>"); !strings.Contains(out, "49 50 32") {
				t.Errorf("tokenize --ids: %q", out)
			}
			if out := mustRun(t, "eval", "perplexity", "--model", m, "--file", text); !strings.Contains(out, "perplexity") {
				t.Errorf("eval perplexity: %q", out)
			}
			mustRun(t, "run", "--model", m, "--prompt", "hi", "--max-tokens", "4", "--temperature", "0")
			g := filepath.Join(dir, "m.gguf")
			mustRun(t, "model", "convert", "--model", m, "--out", g)
			back := filepath.Join(dir, "back")
			mustRun(t, "model", "convert", "--model", g, "--out", back)
			bc, err := qwen2.LoadConfig(back)
			if err != nil {
				t.Fatal(err)
			}
			if bc.ModelType != arch || bc.RopeScaling.Kind() != cfg.RopeScaling.Kind() || bc.HeadDimension() != cfg.HeadDimension() {
				t.Errorf("GGUF round trip config: %s rope %s head %d, want %s %s %d", bc.ModelType, bc.RopeScaling.Kind(), bc.HeadDimension(), arch, cfg.RopeScaling.Kind(), cfg.HeadDimension())
			}
			q := filepath.Join(dir, "q8.gguf")
			mustRun(t, "quantize", "--model", m, "--type", "q8_0", "--out", q)
			if out := mustRun(t, "eval", "perplexity", "--model", q, "--file", text); !strings.Contains(out, "perplexity") {
				t.Errorf("eval perplexity on Q8_0: %q", out)
			}
		})
	}
}
