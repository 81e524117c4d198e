package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exitCase is one command line with the exit code and the start of the
// first stderr line it must give (issue 20: one convention, usage 2,
// failure 1, and words that say what is wrong).
type exitCase struct {
	name  string
	args  []string
	code  int
	first string // prefix of stderr's first line
}

func checkExits(t *testing.T, cases []exitCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCaptured(t, c.args...)
			first, _, _ := strings.Cut(stderr, "\n")
			if code != c.code || !strings.HasPrefix(first, c.first) {
				t.Errorf("%v: exit %d, first stderr line %q; want exit %d and %q\nstderr:\n%s", c.args, code, first, c.code, c.first, stderr)
			}
		})
	}
}

// notModels writes files that are not models, as a user might pass them.
func notModels(t *testing.T) map[string]string {
	dir := t.TempDir()
	files := map[string]string{"empty.gguf": "", "three.gguf": "GGU", "notes.txt": "some notes\n", "README.md": "# readme\n"}
	out := map[string]string{}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

// Row 1: a file that is not a model says so, in every command that loads
// one, before anything else happens.
func TestNotAModel(t *testing.T) {
	files := notModels(t)
	want := map[string]string{
		"empty.gguf": "is an empty file, not a model",
		"three.gguf": "is not a GGUF file: only 3 bytes",
		"notes.txt":  "is not a model: pass an HF model directory",
		"README.md":  "is not a model: pass an HF model directory",
	}
	text := filepath.Join(t.TempDir(), "wiki.txt")
	os.WriteFile(text, []byte("some text to score\n"), 0o644)
	var cases []exitCase
	for name, p := range files {
		prefix := "ragtune: model \"" + p + "\" " + want[name]
		for _, cmd := range [][]string{
			{"run", "--model", p, "--prompt", "hi"},
			{"chat", "--model", p},
			{"eval", "perplexity", "--model", p, "--file", text},
			{"compare", "--base", p, "--out", t.TempDir()},
			{"model", "inspect", p},
		} {
			cases = append(cases, exitCase{cmd[0] + "/" + name, cmd, 1, prefix})
		}
	}
	checkExits(t, cases)
}

// Row 19 (second half): a Hub id that was never pulled names the command
// that downloads it.
func TestModelNotPulled(t *testing.T) {
	checkExits(t, []exitCase{{"run", []string{"run", "--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--prompt", "hi"}, 1,
		"ragtune: model \"deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B\" not found: it looks like a Hugging Face id; download it first with 'ragtune model pull deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B'"}})
}

// Row 9: sampling flags are checked before the model loads (the model
// path here does not even exist) and the error names the flag.
func TestSamplingFlagsCheckedFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-model")
	base := []string{"run", "--model", missing, "--prompt", "hi"}
	var cases []exitCase
	for _, c := range []struct{ flag, val, want string }{
		{"--top-p", "2", "ragtune: --top-p must be in [0, 1], not 2"},
		{"--temperature", "NaN", "ragtune: --temperature must be a finite number, not NaN"},
		{"--temperature", "-1", "ragtune: --temperature must be >= 0, not -1"},
		{"--repeat-penalty", "0", "ragtune: --repeat-penalty must be > 0, not 0"},
		{"--min-p", "Inf", "ragtune: --min-p must be a finite number, not +Inf"},
		{"--top-k", "-1", "ragtune: --top-k must be >= 0, not -1"},
		{"--frequency-penalty", "3", "ragtune: --frequency-penalty must be in [-2, 2], not 3"},
	} {
		cases = append(cases, exitCase{c.flag + "=" + c.val, append(append([]string(nil), base...), c.flag, c.val), 2, c.want})
		chat := []string{"chat", "--model", missing, c.flag, c.val}
		cases = append(cases, exitCase{"chat" + c.flag + "=" + c.val, chat, 2, c.want})
	}
	cases = append(cases, exitCase{"compare temperature NaN", []string{"compare", "--base", missing, "--out", t.TempDir(), "--temperature", "NaN"}, 2,
		"ragtune: --temperature must be a finite number, not NaN"})
	checkExits(t, cases)
}

// Row 13: an unknown flag is one line with a suggestion and where to look,
// for every command, not the whole flag list.
func TestUnknownFlagSuggests(t *testing.T) {
	var cases []exitCase
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--modle", "x"}, "ragtune: unknown flag --modle; did you mean --model?"},
		{[]string{"train", "--lr-rate", "1"}, "ragtune: unknown flag --lr-rate"},
		{[]string{"train", "--epoch", "1"}, "ragtune: unknown flag --epoch; did you mean --epochs?"},
		{[]string{"ingest", "--chunksize", "5"}, "ragtune: unknown flag --chunksize; did you mean --chunk-size?"},
		{[]string{"quantize", "--typ", "q8_0"}, "ragtune: unknown flag --typ; did you mean --type?"},
		{[]string{"model", "convert", "--outt", "x"}, "ragtune: unknown flag --outt; did you mean --out?"},
		{[]string{"serve", "--adr", ":1"}, "ragtune: unknown flag --adr; did you mean --addr?"},
		{[]string{"eval", "perplexity", "--windw", "5"}, "ragtune: unknown flag --windw; did you mean --window?"},
	} {
		cases = append(cases, exitCase{strings.Join(c.args[:len(c.args)-1], " "), c.args, 2, c.want})
	}
	checkExits(t, cases)
	code, _, stderr := runCaptured(t, "run", "--modle", "x")
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code != 2 || len(lines) != 2 || lines[1] != "(see 'ragtune run --help')" {
		t.Errorf("run --modle: exit %d, stderr %q: want two lines, the second pointing at --help", code, stderr)
	}
}

// Rows 4 and 11: every command that writes a model refuses to overwrite
// one without --force, and checks its output path before the work.
func TestOutputsNeedForce(t *testing.T) {
	model := genTestModel(t)
	dir := t.TempDir()
	gguf := filepath.Join(dir, "model.gguf")
	if code, _, stderr := runCaptured(t, "quantize", "--model", model, "--type", "q8_0", "--out", gguf); code != 0 {
		t.Fatalf("quantize: exit %d\n%s", code, stderr)
	}
	hf := filepath.Join(dir, "hf")
	if code, _, stderr := runCaptured(t, "model", "convert", "--model", gguf, "--out", hf); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	adapter := t.TempDir()
	os.WriteFile(filepath.Join(adapter, "adapter_config.json"), []byte("{}"), 0o644)
	missingDir := filepath.Join(dir, "missing", "x.gguf")
	checkExits(t, []exitCase{
		{"quantize existing", []string{"quantize", "--model", model, "--type", "q8_0", "--out", gguf}, 2,
			"ragtune: --out " + gguf + " already exists: choose another --out or pass --force to overwrite it"},
		{"quantize missing dir", []string{"quantize", "--model", model, "--type", "q8_0", "--out", missingDir}, 2,
			"ragtune: --out " + missingDir + ": directory " + filepath.Dir(missingDir) + " does not exist"},
		{"quantize out is dir", []string{"quantize", "--model", model, "--type", "q8_0", "--out", dir}, 2,
			"ragtune: --out " + dir + " is a directory"},
		{"convert to gguf twice", []string{"model", "convert", "--model", model, "--out", gguf}, 2,
			"ragtune: --out " + gguf + " already exists"},
		{"convert to hf twice", []string{"model", "convert", "--model", gguf, "--out", hf}, 2,
			"ragtune: --out " + hf + " is not empty"},
		{"merge into existing", []string{"lora", "merge", "--model", model, "--adapter", adapter, "--out", hf}, 2,
			"ragtune: --out " + hf + " is not empty"},
		{"quantize not a model", []string{"quantize", "--model", notModels(t)["empty.gguf"], "--type", "q8_0", "--out", filepath.Join(dir, "y.gguf")}, 1,
			"ragtune: model "},
	})
	if code, _, stderr := runCaptured(t, "quantize", "--model", model, "--type", "q8_0", "--out", gguf, "--force"); code != 0 {
		t.Errorf("quantize --force: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCaptured(t, "model", "convert", "--model", gguf, "--out", hf, "--force"); code != 0 {
		t.Errorf("convert --force: exit %d\n%s", code, stderr)
	}
}

// Row 19: an unreachable hub fails at once, with the ways around it. The
// .invalid name never resolves (RFC 2606), online or not.
func TestPullOffline(t *testing.T) {
	code, _, stderr := runCaptured(t, "model", "pull", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--endpoint", "http://ragtune-test.invalid", "--out", t.TempDir())
	first, _, _ := strings.Cut(stderr, "\n")
	if code != 1 || !strings.HasPrefix(first, "ragtune: cannot reach http://ragtune-test.invalid: ") || !strings.Contains(first, "HF_ENDPOINT") ||
		strings.Contains(stderr, "retrying") || strings.Contains(stderr, "list files") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// Row 16: the same kind of problem gives the same exit code in every
// command: a missing model is a failure (1), malformed data a failure
// (1), a missing required flag a usage error (2); 'ragtune help' says so.
func TestExitCodeConvention(t *testing.T) {
	model := genTestModel(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-model")
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"instruction\": \"hi\"}\nnot json\n"), 0o644)
	text := filepath.Join(dir, "t.txt")
	os.WriteFile(text, []byte("text\n"), 0o644)
	notFound := "ragtune: model \"" + missing + "\" not found"
	checkExits(t, []exitCase{
		{"run missing model", []string{"run", "--model", missing, "--prompt", "x"}, 1, notFound},
		{"train missing model", []string{"train", "--model", missing, "--data", bad, "--out", filepath.Join(dir, "o1")}, 1, notFound},
		{"quantize missing model", []string{"quantize", "--model", missing, "--type", "q8_0", "--out", filepath.Join(dir, "q.gguf")}, 1, notFound},
		{"perplexity missing model", []string{"eval", "perplexity", "--model", missing, "--file", text}, 1, notFound},
		{"bench missing model", []string{"bench", "--model", missing}, 1, notFound},
		{"merge missing model", []string{"lora", "merge", "--model", missing, "--adapter", dir, "--out", filepath.Join(dir, "m")}, 1, notFound},
		{"convert missing model", []string{"model", "convert", "--model", missing, "--out", filepath.Join(dir, "c.gguf")}, 1, notFound},
		{"train malformed data", []string{"train", "--model", model, "--data", bad, "--out", filepath.Join(dir, "o2")}, 1, "ragtune: " + bad + ":1: "},
		{"compare malformed data", []string{"compare", "--base", model, "--data", bad, "--out", filepath.Join(dir, "cmp")}, 1, "ragtune: "},
		{"train no flags", []string{"train"}, 2, "ragtune: --model, --data and --out are required"},
		{"quantize no flags", []string{"quantize"}, 2, "ragtune: --model, --type and --out are required"},
		{"run no model", []string{"run", "--prompt", "x"}, 2, "ragtune: --model is required"},
	})
	code, stdout, _ := runCaptured(t, "help")
	if code != 0 || !strings.Contains(stdout, "Exit status (every command):") || !strings.Contains(stdout, "130  interrupted") {
		t.Errorf("'ragtune help' does not document the exit codes:\n%s", stdout)
	}
}

func TestUnknownSubcommandSuggests(t *testing.T) {
	checkExits(t, []exitCase{{"model conver", []string{"model", "conver"}, 2, `ragtune: unknown subcommand "conver" for "model"; did you mean "convert"?`}})
}
