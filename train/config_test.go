package train

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/train/data"
)

const lfDir = "testdata/llamafactory"

// TestLlamaFactoryExamples reads LLaMA-Factory's documented LoRA SFT
// examples and checks every mapped value and the data read through
// dataset_info.json.
func TestLlamaFactoryExamples(t *testing.T) {
	c, notes, err := LoadLlamaFactory(filepath.Join(lfDir, "llama3_lora_sft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := LlamaFactoryDefaults()
	want.Model = "meta-llama/Meta-Llama-3-8B-Instruct"
	want.Out = "saves/llama3-8b/lora/sft"
	want.Mode = "lora"
	want.LoRA = LoRAConfig{R: 8, Alpha: 16, Dropout: 0, Targets: ModuleNames[:]}
	want.MaxSeq, want.MaxSamples, want.SaveEvery, want.Force = 1024, 1000, 500, true
	want.Batch, want.GradAccum, want.LR, want.Epochs = 1, 8, 1e-4, 3
	want.Schedule, want.WarmupRatio, want.ValSplit, want.EvalEvery = "cosine", 0.1, 0.1, 500
	want.ChatTemplate = "" // llama3: the model's own template
	got := c
	got.Sets = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("llama3_lora_sft.yaml:\n got %+v\nwant %+v", got, want)
	}
	if len(c.Sets) != 2 || c.Sets[0].Name != "identity" || c.Sets[1].Name != "alpaca_en_demo" {
		t.Fatalf("datasets %+v", c.Sets)
	}
	for _, n := range []string{"bf16", "template llama3", "preprocessing_num_workers"} {
		if !strings.Contains(strings.Join(notes, "\n"), n) {
			t.Errorf("no note about %s in %q", n, notes)
		}
	}
	exs, _, err := c.ReadData()
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 5 {
		t.Fatalf("%d examples, want 2 identity + 3 alpaca", len(exs))
	}
	// prompt and query joined with a newline; history turns before the
	// last one.
	if got := exs[3].Messages[0].Content; got != "Translate the sentence into French.\nThe weather is nice today." {
		t.Errorf("alpaca prompt+query = %q", got)
	}
	// Without a history column (LLaMA-Factory's default) the history field
	// is not read; with one, its turns come before the last.
	if m := exs[4].Messages; len(m) != 2 {
		t.Errorf("history read without a history column: %+v", m)
	}
	sets, err := LoadDatasets(filepath.Join(lfDir, "data"), []string{"alpaca_with_history"})
	if err != nil {
		t.Fatal(err)
	}
	exs, _, err = sets[0].Read(false)
	if err != nil {
		t.Fatal(err)
	}
	if m := exs[2].Messages; len(m) != 4 || m[0].Content != "How do I start a batter?" || m[3].Content != "Then add the milk slowly." {
		t.Errorf("alpaca history = %+v", m)
	}

	c, notes, err = LoadLlamaFactory(filepath.Join(lfDir, "qwen3_lora_sft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "Qwen/Qwen3-4B-Instruct-2507" || c.LoRA.R != 8 || c.LoRA.Alpha != 16 || c.Resume || c.ValSplit != 0 || len(c.Sets) != 1 {
		t.Errorf("qwen3_lora_sft.yaml: %+v", c)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "template qwen3_nothink") {
		t.Errorf("notes %q", notes)
	}

	c, _, err = LoadLlamaFactory(filepath.Join(lfDir, "r1_distill_lora_sft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LoRA.R != 16 || c.LoRA.Alpha != 32 || c.LoRA.Dropout != 0.05 || !reflect.DeepEqual(c.LoRA.Targets, []string{"q", "v"}) ||
		c.Schedule != "constant" || c.Warmup != 10 || !c.Resume || c.ChatTemplate != "r1" || c.Epochs != 2 || c.MaxSeq != 4096 {
		t.Errorf("r1_distill_lora_sft.yaml: %+v", c)
	}
	exs, _, err = c.ReadData()
	if err != nil {
		t.Fatal(err)
	}
	first := exs[0].Messages
	if len(first) != 3 || first[0].Role != "system" || first[2].ReasoningContent == "" || strings.Contains(first[2].Content, "think>") {
		t.Errorf("sharegpt row with system column and <think>: %+v", first)
	}
}

// TestLlamaFactoryErrors: unknown keys, typos and features ragtune lacks
// are errors naming the key and its line.
func TestLlamaFactoryErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"learning_rate: 1e-4\nlerning_rate: 2e-4\n", ":2: unknown key lerning_rate; did you mean learning_rate?"},
		{"foo_bar_baz: 1\n", ":1: unknown key foo_bar_baz (not a LLaMA-Factory training key ragtune knows)"},
		{"use_dora: true\n", ":1: not supported: use_dora (DoRA)"},
		{"stage: dpo\n", "not supported: stage dpo"},
		{"finetuning_type: freeze\n", "not supported: finetuning_type freeze"},
		{"num_train_epochs: 1.5\n", "not supported: num_train_epochs 1.5"},
		{"learning_rate: fast\n", "learning_rate: want a number"},
		{"lora_target: q_proj,x_proj\n", `lora_target: unknown module "x_proj"`},
		{"lr_scheduler_type: polynomial\n", "not supported: lr_scheduler_type polynomial"},
		{"resume_from_checkpoint: /elsewhere/checkpoint-10\n", "not supported: resume_from_checkpoint"},
		{"dataset: hub_only\ndataset_dir: " + filepath.Join(lfDir, "data") + "\n", "not supported: hf_hub_url"},
		{"dataset: nope\ndataset_dir: " + filepath.Join(lfDir, "data") + "\n", `dataset "nope" is not in`},
		{"dataset: csv_data\ndataset_dir: " + filepath.Join(lfDir, "data") + "\n", "not supported: file_name data.csv"},
		{"learning_rate: 1\nlearning_rate: 2\n", "learning_rate is given twice"},
	} {
		p := filepath.Join(dir, "run.yaml")
		os.WriteFile(p, []byte(c.yaml), 0o644)
		_, _, err := LoadLlamaFactory(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestRunConfigValidate(t *testing.T) {
	for _, c := range []struct {
		set  func(*RunConfig)
		want string
	}{
		{func(c *RunConfig) { c.LR = -1 }, "--lr (learning_rate) must be > 0"},
		{func(c *RunConfig) { c.LR = nan() }, "--lr (learning_rate) must be a finite number"},
		{func(c *RunConfig) { c.LoRA.Alpha = nan() }, "--lora-alpha (lora_alpha) must be a finite number"},
		{func(c *RunConfig) { c.WeightDecay = -0.1 }, "--weight-decay (weight_decay) must be >= 0"},
		{func(c *RunConfig) { c.Beta2 = 1 }, "--beta2 (adam_beta2) must be in [0, 1)"},
		{func(c *RunConfig) { c.Clip = inf() }, "--clip (max_grad_norm) must be a finite number"},
		{func(c *RunConfig) { c.Batch = 0 }, "--batch (per_device_train_batch_size) must be >= 1"},
		{func(c *RunConfig) { c.Warmup = -3 }, "--warmup (warmup_steps) must be >= 0"},
	} {
		rc := DefaultRunConfig()
		c.set(&rc)
		if err := rc.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	rc := DefaultRunConfig()
	if err := rc.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestExportLlamaFactoryRoundTrip exports a run and reads the YAML back:
// the training options and the examples (reasoning included) are the same.
func TestExportLlamaFactoryRoundTrip(t *testing.T) {
	c := DefaultRunConfig()
	c.Model, c.Out, c.ChatTemplate = "models/r1-1.5b", "out/lora", "r1"
	c.LoRA = LoRAConfig{R: 8, Alpha: 32, Dropout: 0.1, Targets: []string{"q", "k", "v", "o"}, RSLoRA: true}
	c.LR, c.Epochs, c.Batch, c.GradAccum, c.MaxSeq = 3e-4, 2, 2, 4, 1024
	c.Warmup, c.Schedule, c.WeightDecay, c.Clip, c.ValSplit, c.EvalEvery, c.SaveEvery = 5, "linear", 0.01, 0.5, 0.1, 20, 50
	c.BaseDType, c.Seed = "q4_0", 7
	exs := []data.Example{
		{Messages: []data.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "什么是灾难性遗忘？"},
			{Role: "assistant", ReasoningContent: "The user asks about catastrophic forgetting.", Content: "模型学习新任务时忘记旧知识。"}}},
		{Messages: []data.Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"},
			{Role: "user", Content: "2+2?"}, {Role: "assistant", Content: "4"}}},
	}
	dir := t.TempDir()
	notes, err := ExportLlamaFactory(dir, c, exs, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes %q", notes)
	}
	got, notes, err := LoadLlamaFactory(filepath.Join(dir, "train.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if !strings.Contains(n, "ignored") {
			t.Errorf("unexpected note %q", n)
		}
	}
	if len(got.Sets) != 1 || got.Sets[0].Name != ExportDataset {
		t.Fatalf("datasets %+v", got.Sets)
	}
	back, _, err := got.ReadData()
	if err != nil {
		t.Fatal(err)
	}
	got.Sets = nil
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
	}
	for i := range exs {
		for j := range exs[i].Messages {
			if w, g := exs[i].Messages[j], back[i].Messages[j]; w != g {
				t.Errorf("example %d message %d: got %+v, want %+v", i, j, g, w)
			}
		}
	}
	// The sharegpt file keeps the reasoning as LLaMA-Factory trains it.
	b, _ := os.ReadFile(filepath.Join(dir, "data", ExportDataset+".json"))
	if !strings.Contains(string(b), `"<think>\nThe user asks about catastrophic forgetting.\n</think>\n\n模型学习新任务时忘记旧知识。"`) {
		t.Errorf("exported data lost the <think> block:\n%s", b)
	}
	y, _ := os.ReadFile(filepath.Join(dir, "train.yaml"))
	for _, k := range []string{"template: deepseekr1", "lora_target: q_proj,k_proj,v_proj,o_proj", "quantization_bit: 4", "use_rslora: true"} {
		if !strings.Contains(string(y), k) {
			t.Errorf("train.yaml lacks %q:\n%s", k, y)
		}
	}
}

func nan() float64 { return math.NaN() }
func inf() float64 { return math.Inf(1) }

// TestLlamaFactoryAdapterLoads: LLaMA-Factory writes PEFT adapters with
// lora_target all expanded to every linear module name, in its own order,
// plus fields ragtune does not use; the adapter loads with the same
// weights and all seven modules mapped.
func TestLlamaFactoryAdapterLoads(t *testing.T) {
	dir := t.TempDir()
	tr := newTrainer(t, trainOpts(dir))
	if err := tr.SaveOutput(); err != nil {
		t.Fatal(err)
	}
	cfg := `{"alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
  "bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true, "layers_pattern": null,
  "layers_to_transform": null, "loftq_config": {}, "lora_alpha": 8, "lora_dropout": 0.1, "megatron_config": null,
  "megatron_core": "megatron.core", "modules_to_save": null, "peft_type": "LORA", "r": 4, "rank_pattern": {},
  "revision": null, "target_modules": ["down_proj", "o_proj", "k_proj", "gate_proj", "v_proj", "up_proj", "q_proj"],
  "task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": false}`
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ad, err := LoadAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range ad.Config.Targets {
		got[m] = true
	}
	for _, m := range ModuleNames {
		if !got[m] {
			t.Errorf("module %s not mapped from %v", m, ad.Config.Targets)
		}
	}
	if e, _ := maxAbsDiff(ad.Params.Data, tr.Model.Adapter.Data); e != 0 {
		t.Errorf("weights differ by %g", e)
	}
}

func TestLlamaFactoryResumePath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(p, []byte("output_dir: saves/x\nresume_from_checkpoint: saves/x/checkpoint-500\n"), 0o644)
	c, _, err := LoadLlamaFactory(p)
	if err != nil || !c.Resume || c.ResumeFrom != "saves/x/checkpoint-500" {
		t.Errorf("resume %v from %q: %v", c.Resume, c.ResumeFrom, err)
	}
}

// TestLlamaFactoryKeyTables: a key is mapped, ignored or unsupported,
// never two of these (an ignored key that is also mapped would be dropped).
func TestLlamaFactoryKeyTables(t *testing.T) {
	for _, k := range lfKeys {
		if _, ok := lfIgnored[k]; ok {
			t.Errorf("%s is both mapped and ignored", k)
		}
		if _, ok := lfUnsupported[k]; ok {
			t.Errorf("%s is both mapped and unsupported", k)
		}
	}
	for k := range lfIgnored {
		if _, ok := lfUnsupported[k]; ok {
			t.Errorf("%s is both ignored and unsupported", k)
		}
	}
}

// TestExportNoCheckpoints: a run without --save-every exports
// save_strategy "no", which reads back as no checkpoints (not
// LLaMA-Factory's default of every 500 steps).
func TestExportNoCheckpoints(t *testing.T) {
	c := DefaultRunConfig()
	c.Model, c.Out, c.ChatTemplate = "m", "out", "qwen"
	dir := t.TempDir()
	exs := []data.Example{{Messages: []data.Message{{Role: "user", Content: "q"}, {Role: "assistant", Content: "a"}}}}
	if _, err := ExportLlamaFactory(dir, c, exs, ""); err != nil {
		t.Fatal(err)
	}
	got, _, err := LoadLlamaFactory(filepath.Join(dir, "train.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got.Sets = nil
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
	}
}
