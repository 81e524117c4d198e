package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// TestArchTrainMergeBench runs the rest of the pipeline on the tiny Llama 3
// and Qwen3 models: LoRA training (PEFT module names), run with the
// adapter, compare (base against base+adapter on the built-in questions),
// lora merge, full training, and bench on a Q8_0 file. The numbers are
// checked against PyTorch and llama.cpp elsewhere (train, model/qwen2);
// this shows the commands accept these architectures end to end and keep
// their configs (rope_scaling, head_dim, tied head) through training.
func TestArchTrainMergeBench(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny models")
	}
	data := filepath.Join(t.TempDir(), "qa.jsonl")
	var b strings.Builder
	for i := range 16 {
		b.WriteString(`{"instruction": "What is ` + strconv.Itoa(i) + ` doubled?", "output": "<think>\nadd it to itself\n</think>\n\n` + strconv.Itoa(2*i) + `"}` + "\n")
	}
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(text, []byte("What is 7 doubled? It is 14.\n七的两倍是十四。\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"llama", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			dir := t.TempDir()
			m := filepath.Join(dir, "m")
			mustRun(t, "model", "init", "--preset", "tiny", "--arch", arch, "--out", m)
			want, err := qwen2.LoadConfig(m)
			if err != nil {
				t.Fatal(err)
			}
			lora := filepath.Join(dir, "lora")
			mustRun(t, "train", "--model", m, "--data", data, "--out", lora, "--max-steps", "3", "--val-split", "0", "--lora-r", "2")
			var ac struct {
				TargetModules []string `json:"target_modules"`
				PeftType      string   `json:"peft_type"`
			}
			raw, err := os.ReadFile(filepath.Join(lora, "adapter_config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &ac); err != nil {
				t.Fatal(err)
			}
			if ac.PeftType != "LORA" || !slices.Contains(ac.TargetModules, "q_proj") || !slices.Contains(ac.TargetModules, "down_proj") {
				t.Errorf("adapter_config: %+v", ac)
			}
			mustRun(t, "run", "--model", m, "--adapter", lora, "--prompt", "hi", "--max-tokens", "4", "--temperature", "0")
			cmp := filepath.Join(dir, "compare")
			mustRun(t, "compare", "--base", m, "--adapter", lora, "--out", cmp, "--max-tokens", "4")
			if _, err := os.Stat(filepath.Join(cmp, "report.json")); err != nil {
				t.Errorf("compare wrote no report: %v", err)
			}
			merged := filepath.Join(dir, "merged")
			mustRun(t, "lora", "merge", "--model", m, "--adapter", lora, "--out", merged)
			full := filepath.Join(dir, "full")
			mustRun(t, "train", "--model", m, "--data", data, "--out", full, "--max-steps", "2", "--val-split", "0", "--mode", "full")
			for _, out := range []string{merged, full} {
				got, err := qwen2.LoadConfig(out)
				if err != nil {
					t.Fatal(err)
				}
				if got.ModelType != arch || got.RopeScaling.Kind() != want.RopeScaling.Kind() || got.HeadDimension() != want.HeadDimension() || got.TieWordEmbeddings != want.TieWordEmbeddings {
					t.Errorf("%s: config %s rope %s head %d tied %v, want %s %s %d %v", out, got.ModelType, got.RopeScaling.Kind(), got.HeadDimension(), got.TieWordEmbeddings,
						arch, want.RopeScaling.Kind(), want.HeadDimension(), want.TieWordEmbeddings)
				}
				mustRun(t, "eval", "perplexity", "--model", out, "--file", text)
			}
			q := filepath.Join(dir, "q8.gguf")
			mustRun(t, "quantize", "--model", merged, "--type", "q8_0", "--out", q)
			if out := mustRun(t, "bench", "--model", q, "--prompt", "16", "--gen", "4", "--json"); !strings.Contains(out, "decode") {
				t.Errorf("bench --json: %q", out)
			}
		})
	}
}

// TestArchPull pulls tiny Llama 3 and Qwen3 repositories by name from a
// hub served in Hugging Face's layout (as TestModelPullWritesLoadableModel
// does for Qwen2), and the pulled directories run.
func TestArchPull(t *testing.T) {
	for _, arch := range []string{"llama", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			mustRun(t, "model", "init", "--preset", "tiny", "--arch", arch, "--out", src)
			entries, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			repo := "ragtune/tiny-" + arch
			const commit = "0123456789abcdef0123456789abcdef01234567"
			var sibs []map[string]any
			for _, e := range entries {
				st, err := os.Stat(filepath.Join(src, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				sibs = append(sibs, map[string]any{"rfilename": e.Name(), "size": st.Size()})
			}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/models/"+repo+"/revision/main", func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": sibs})
			})
			mux.HandleFunc("GET /"+repo+"/resolve/"+commit+"/{file}", func(w http.ResponseWriter, r *http.Request) {
				http.ServeFile(w, r, filepath.Join(src, r.PathValue("file")))
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			out := filepath.Join(t.TempDir(), "pulled")
			mustRun(t, "model", "pull", repo, "--endpoint", srv.URL, "--out", out, "--quiet")
			cfg, err := qwen2.LoadConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ModelType != arch {
				t.Errorf("pulled model_type %q, want %q", cfg.ModelType, arch)
			}
			mustRun(t, "run", "--model", out, "--prompt", "hi", "--max-tokens", "2", "--temperature", "0")
		})
	}
}
