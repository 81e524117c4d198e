package train

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"ragtune/internal/cli"
	"ragtune/train/data"
)

// RunConfig is one training run as a user states it, on the command line
// or in a LLaMA-Factory YAML file: paths and hyperparameters, before any
// model is loaded. cmd/ragtune binds its flags to these fields;
// LoadLlamaFactory fills them from YAML; ExportLlamaFactory writes them back.
type RunConfig struct {
	Model string
	Data  string    // a JSON/JSONL/text file (--data)
	Sets  []Dataset // or LLaMA-Factory datasets (dataset + dataset_dir)
	Out   string

	Mode string // lora or full
	LoRA LoRAConfig

	LR          float64
	Epochs      int
	MaxSteps    int
	Batch       int
	GradAccum   int
	MaxSeq      int
	Warmup      int
	WarmupRatio float64 // a fraction of the steps; used when Warmup is 0
	Schedule    string
	WeightDecay float64
	Beta1       float64
	Beta2       float64
	Clip        float64 // 0 disables
	ValSplit    float64
	EvalEvery   int
	EarlyStop   int
	SaveEvery   int
	MaxSamples  int // use at most this many examples (0: all)

	GradCheckpoint bool
	Resume         bool
	ResumeFrom     string // the checkpoint a YAML names; it must be the latest
	Force          bool
	SkipBad        bool
	Seed           uint64
	Threads        int
	BaseDType      string
	ChatTemplate   string // "", r1, qwen or a .jinja file
}

// DefaultRunConfig is what `ragtune train` does with no options.
func DefaultRunConfig() RunConfig {
	return RunConfig{Mode: "lora", LoRA: DefaultLoRA(), LR: 2e-4, Epochs: 1, Batch: 1, GradAccum: 1, MaxSeq: 512,
		Schedule: "cosine", Beta1: 0.9, Beta2: 0.999, Clip: 1, ValSplit: 0.05, Seed: 42, BaseDType: "f32"}
}

// Validate checks every value before any work starts and names the
// command-line flag of a bad one (the LLaMA-Factory key in brackets).
func (c *RunConfig) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	finite := func(flag string, v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad("%s must be a finite number, not %v", flag, v)
			return false
		}
		return true
	}
	if _, err := ParseMode(c.Mode); err != nil {
		bad("--mode: %v", err)
	}
	if err := ParseSchedule(c.Schedule); err != nil {
		bad("--schedule: %v", err)
	}
	if finite("--lr (learning_rate)", c.LR) && c.LR <= 0 {
		bad("--lr (learning_rate) must be > 0, not %v", c.LR)
	}
	for _, x := range []struct {
		flag   string
		v, min int
	}{{"--epochs (num_train_epochs)", c.Epochs, 1}, {"--max-steps (max_steps)", c.MaxSteps, 0},
		{"--batch (per_device_train_batch_size)", c.Batch, 1}, {"--grad-accum (gradient_accumulation_steps)", c.GradAccum, 1},
		{"--max-seq (cutoff_len)", c.MaxSeq, 2}, {"--warmup (warmup_steps)", c.Warmup, 0}, {"--eval-every (eval_steps)", c.EvalEvery, 0},
		{"--early-stop", c.EarlyStop, 0}, {"--save-every (save_steps)", c.SaveEvery, 0}, {"--threads", c.Threads, 0},
		{"--lora-r (lora_rank)", c.LoRA.R, 1}, {"max_samples", c.MaxSamples, 0}} {
		if x.v < x.min {
			bad("%s must be >= %d, not %d", x.flag, x.min, x.v)
		}
	}
	if finite("warmup_ratio", c.WarmupRatio) && (c.WarmupRatio < 0 || c.WarmupRatio >= 1) {
		bad("warmup_ratio must be in [0, 1), not %v", c.WarmupRatio)
	}
	if finite("--weight-decay (weight_decay)", c.WeightDecay) && c.WeightDecay < 0 {
		bad("--weight-decay (weight_decay) must be >= 0, not %v", c.WeightDecay)
	}
	for _, x := range []struct {
		flag string
		v    float64
	}{{"--beta1 (adam_beta1)", c.Beta1}, {"--beta2 (adam_beta2)", c.Beta2}, {"--lora-dropout (lora_dropout)", c.LoRA.Dropout}, {"--val-split (val_size)", c.ValSplit}} {
		if finite(x.flag, x.v) && (x.v < 0 || x.v >= 1) {
			bad("%s must be in [0, 1), not %v", x.flag, x.v)
		}
	}
	if finite("--clip (max_grad_norm)", c.Clip) && c.Clip < 0 {
		bad("--clip (max_grad_norm) must be >= 0 (0 disables), not %v", c.Clip)
	}
	if finite("--lora-alpha (lora_alpha)", c.LoRA.Alpha) && c.LoRA.Alpha <= 0 {
		bad("--lora-alpha (lora_alpha) must be > 0, not %v", c.LoRA.Alpha)
	}
	if m, _ := ParseMode(c.Mode); m == ModeLoRA && len(errs) == 0 {
		if err := c.LoRA.Validate(); err != nil {
			bad("%v", err)
		}
	}
	if len(errs) > 0 {
		return errors.New(errs[0])
	}
	return nil
}

// ReadData reads the run's examples: the LLaMA-Factory datasets or the
// --data file, capped at MaxSamples per dataset as LLaMA-Factory does.
func (c *RunConfig) ReadData() ([]data.Example, data.Stats, error) {
	if len(c.Sets) == 0 {
		exs, st, err := data.ReadFile(c.Data, c.SkipBad)
		if err == nil && c.MaxSamples > 0 && len(exs) > c.MaxSamples {
			exs = exs[:c.MaxSamples]
		}
		return exs, st, err
	}
	var all []data.Example
	var st data.Stats
	for _, d := range c.Sets {
		exs, s, err := d.Read(c.SkipBad)
		if err != nil {
			return nil, st, err
		}
		if c.MaxSamples > 0 && len(exs) > c.MaxSamples {
			exs = exs[:c.MaxSamples]
		}
		st.Rows += s.Rows
		st.Skipped += s.Skipped
		if st.FirstSkip == "" {
			st.FirstSkip = s.FirstSkip
		}
		all = append(all, exs...)
	}
	return all, st, nil
}

// WarmupSteps is Warmup, or WarmupRatio of total steps rounded up, as
// transformers computes warmup_ratio.
func (c *RunConfig) WarmupSteps(total int) int {
	if c.Warmup > 0 || c.WarmupRatio == 0 {
		return c.Warmup
	}
	return int(math.Ceil(c.WarmupRatio * float64(total)))
}

// How each LLaMA-Factory key is treated. A key in no table is reported as
// unknown (with the nearest known key), so a typo never silently falls
// back to a default.
var (
	// lfIgnored have no effect on what ragtune computes; each is named on
	// stderr when present so the user knows it was read.
	lfIgnored = map[string]string{
		"trust_remote_code":              "ragtune runs no model code",
		"overwrite_cache":                "ragtune keeps no dataset cache",
		"preprocessing_num_workers":      "data is read in one pass",
		"dataloader_num_workers":         "data is read in one pass",
		"logging_steps":                  "every step is logged to train_log.jsonl",
		"plot_loss":                      "loss.svg is always written",
		"save_only_model":                "checkpoints always hold the optimizer state (for exact resume)",
		"report_to":                      "logs go to train_log.jsonl",
		"bf16":                           "ragtune trains in float32 on the CPU",
		"fp16":                           "ragtune trains in float32 on the CPU",
		"pure_bf16":                      "ragtune trains in float32 on the CPU",
		"ddp_timeout":                    "ragtune trains on one machine",
		"deepspeed":                      "ragtune trains on one machine",
		"per_device_eval_batch_size":     "validation uses the training batch size",
		"flash_attn":                     "ragtune has its own attention kernels",
		"do_train":                       "",
		"do_eval":                        "",
		"eval_strategy":                  "eval_steps decides",
		"evaluation_strategy":            "eval_steps decides",
		"run_name":                       "",
		"logging_dir":                    "",
		"optim":                          "ragtune uses AdamW (adamw_torch semantics)",
		"save_total_limit":               "the last two checkpoints are kept",
		"include_num_input_tokens_seen":  "token counts are always logged",
		"disable_gradient_checkpointing": "ragtune checkpoints activations only with --grad-checkpoint",
		"lora_parameters":                "",
		"max_new_tokens":                 "",
		"enable_thinking":                "the chat template and the data decide",
	}
	// lfUnsupported are LLaMA-Factory features ragtune does not have: an
	// error, because training without them would not be the run asked for.
	lfUnsupported = map[string]string{
		"adapter_name_or_path":    "continuing another adapter (merge it with 'ragtune lora merge' and train on the result)",
		"quantization_method":     "bitsandbytes/HQQ/EETQ quantization (ragtune's QLoRA-style base is quantization_bit 4 or 8)",
		"use_dora":                "DoRA",
		"pissa_init":              "PiSSA",
		"use_unsloth":             "unsloth",
		"loraplus_lr_ratio":       "LoRA+",
		"additional_target":       "extra trainable modules",
		"neftune_noise_alpha":     "NEFTune",
		"rope_scaling":            "RoPE scaling at training time",
		"packing":                 "sequence packing",
		"neat_packing":            "sequence packing",
		"eval_dataset":            "a separate validation dataset (use val_size)",
		"tokenized_path":          "pre-tokenized datasets",
		"mix_strategy":            "dataset mixing strategies (datasets are concatenated)",
		"interleave_probs":        "dataset interleaving",
		"streaming":               "streamed datasets",
		"freeze_trainable_layers": "freeze tuning (finetuning_type freeze)",
		"image_max_pixels":        "multimodal training",
		"video_max_pixels":        "multimodal training",
		"lr_scheduler_kwargs":     "scheduler options",
		"label_smoothing_factor":  "label smoothing",
		"train_on_prompt":         "loss on the prompt (ragtune trains only the last assistant turn)",
		"mask_history":            "history masking (ragtune trains only the last assistant turn)",
	}
	// lfKeys are the keys ragtune maps (see LoadLlamaFactory).
	lfKeys = []string{"model_name_or_path", "stage", "finetuning_type", "lora_rank", "lora_alpha", "lora_dropout",
		"lora_target", "use_rslora", "quantization_bit", "dataset", "dataset_dir", "template", "cutoff_len", "max_samples",
		"val_size", "output_dir", "overwrite_output_dir", "save_steps", "eval_steps", "per_device_train_batch_size",
		"gradient_accumulation_steps", "learning_rate", "num_train_epochs", "max_steps", "lr_scheduler_type",
		"warmup_ratio", "warmup_steps", "weight_decay", "adam_beta1", "adam_beta2", "max_grad_norm", "seed",
		"resume_from_checkpoint", "gradient_checkpointing", "save_strategy"}
)

// LlamaFactoryDefaults is the run a LLaMA-Factory YAML describes before
// its keys are read: keys left out take LLaMA-Factory's (and transformers')
// defaults, not ragtune's, so the same file trains the same run in both.
func LlamaFactoryDefaults() RunConfig {
	c := DefaultRunConfig()
	c.LoRA = LoRAConfig{R: 8, Alpha: 16, Dropout: 0, Targets: ModuleNames[:]}
	c.LR, c.Epochs, c.Batch, c.GradAccum, c.MaxSeq = 5e-5, 3, 8, 1, 2048
	c.Schedule, c.ValSplit, c.SaveEvery = "linear", 0, 500
	return c
}

// LoadLlamaFactory reads a LLaMA-Factory training YAML (the keys of its
// examples/train_lora and train_full configs) over LlamaFactoryDefaults.
// Relative paths (dataset_dir, output_dir) are taken from the
// directory the command runs in, as llamafactory-cli does. It returns the
// notes to print for keys read but without effect. Unknown keys and
// features ragtune lacks are errors naming the key and its line.
func LoadLlamaFactory(path string) (RunConfig, []string, error) {
	c := LlamaFactoryDefaults()
	notes, err := loadLlamaFactory(path, &c)
	return c, notes, err
}

func loadLlamaFactory(path string, c *RunConfig) (notes []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want key: value pairs at the top level", path)
	}
	vals := map[string]*yaml.Node{}
	lines := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if _, dup := vals[k.Value]; dup {
			return nil, fmt.Errorf("%s:%d: %s is given twice", path, k.Line, k.Value)
		}
		vals[k.Value], lines[k.Value] = v, k.Line
	}
	known := map[string]bool{}
	for _, k := range lfKeys {
		known[k] = true
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lines[keys[i]] < lines[keys[j]] })
	for _, k := range keys {
		at := fmt.Sprintf("%s:%d", path, lines[k])
		if why, ok := lfUnsupported[k]; ok {
			if v := vals[k]; v.Tag == "!!null" || v.Value == "false" {
				continue
			}
			return nil, fmt.Errorf("%s: not supported: %s (%s)", at, k, why)
		}
		if why, ok := lfIgnored[k]; ok {
			if why != "" {
				notes = append(notes, fmt.Sprintf("%s: %s ignored: %s", at, k, why))
			}
			continue
		}
		if !known[k] {
			all := append(append([]string(nil), lfKeys...), mapKeys(lfIgnored)...)
			if s := cli.Suggest(k, all); s != "" {
				return nil, fmt.Errorf("%s: unknown key %s; did you mean %s?", at, k, s)
			}
			return nil, fmt.Errorf("%s: unknown key %s (not a LLaMA-Factory training key ragtune knows)", at, k)
		}
	}

	get := func(k string, dst any) error {
		v, ok := vals[k]
		if !ok || v.Tag == "!!null" {
			return nil
		}
		if err := v.Decode(dst); err != nil {
			return fmt.Errorf("%s:%d: %s: want %s, got %q", path, lines[k], k, kindOf(dst), v.Value)
		}
		return nil
	}
	var (
		model, stage, ftype, target, dataset, template, out, sched, resume, saveStrategy string
		dataDir                                                                          = "data"
		epochs                                                                           float64
		quantBits                                                                        int
		overwrite, rslora, gradCkpt                                                      bool
	)
	for _, g := range []struct {
		k string
		p any
	}{
		{"model_name_or_path", &model}, {"stage", &stage}, {"finetuning_type", &ftype}, {"lora_rank", &c.LoRA.R},
		{"lora_alpha", &c.LoRA.Alpha}, {"lora_dropout", &c.LoRA.Dropout}, {"lora_target", &target}, {"use_rslora", &rslora},
		{"quantization_bit", &quantBits}, {"dataset", &dataset}, {"dataset_dir", &dataDir}, {"template", &template},
		{"cutoff_len", &c.MaxSeq}, {"max_samples", &c.MaxSamples}, {"val_size", &c.ValSplit}, {"output_dir", &out},
		{"overwrite_output_dir", &overwrite}, {"save_steps", &c.SaveEvery}, {"eval_steps", &c.EvalEvery},
		{"per_device_train_batch_size", &c.Batch}, {"gradient_accumulation_steps", &c.GradAccum},
		{"learning_rate", &c.LR}, {"num_train_epochs", &epochs}, {"max_steps", &c.MaxSteps},
		{"lr_scheduler_type", &sched}, {"warmup_ratio", &c.WarmupRatio}, {"warmup_steps", &c.Warmup},
		{"weight_decay", &c.WeightDecay}, {"adam_beta1", &c.Beta1}, {"adam_beta2", &c.Beta2},
		{"max_grad_norm", &c.Clip}, {"seed", &c.Seed}, {"gradient_checkpointing", &gradCkpt}, {"save_strategy", &saveStrategy},
	} {
		if err := get(g.k, g.p); err != nil {
			return nil, err
		}
	}
	// resume_from_checkpoint is null, a boolean or a path.
	if v, ok := vals["resume_from_checkpoint"]; ok && v.Tag != "!!null" {
		resume = v.Value
	}
	at := func(k string) string { return fmt.Sprintf("%s:%d", path, lines[k]) }

	if model != "" {
		c.Model = model
	}
	if out != "" {
		c.Out = out
	}
	c.Force = c.Force || overwrite
	c.GradCheckpoint = c.GradCheckpoint || gradCkpt
	switch saveStrategy {
	case "", "steps":
	case "no":
		c.SaveEvery = 0
	default:
		return nil, fmt.Errorf("%s: not supported: save_strategy %s (use steps with save_steps, or no)", at("save_strategy"), saveStrategy)
	}
	switch stage {
	case "", "sft":
	case "pt":
		// Pre-training rows are {"text": ...}; data.ReadFile recognizes them.
	default:
		return nil, fmt.Errorf("%s: not supported: stage %s (ragtune trains sft and pt)", at("stage"), stage)
	}
	switch ftype {
	case "":
		// LLaMA-Factory's default is lora, as ragtune's.
	case "lora", "full":
		c.Mode = ftype
	default:
		return nil, fmt.Errorf("%s: not supported: finetuning_type %s (use lora or full)", at("finetuning_type"), ftype)
	}
	if _, ok := vals["lora_alpha"]; !ok {
		// LLaMA-Factory's default alpha is twice the rank.
		c.LoRA.Alpha = 2 * float64(c.LoRA.R)
	}
	c.LoRA.RSLoRA = c.LoRA.RSLoRA || rslora
	if target != "" {
		t, err := ParseTargets(target)
		if err != nil {
			return nil, fmt.Errorf("%s: lora_target: %w", at("lora_target"), err)
		}
		c.LoRA.Targets = t
	}
	switch quantBits {
	case 0:
	case 4:
		c.BaseDType = "q4_0"
	case 8:
		c.BaseDType = "q8_0"
	default:
		return nil, fmt.Errorf("%s: not supported: quantization_bit %d (use 4 or 8)", at("quantization_bit"), quantBits)
	}
	if _, ok := vals["num_train_epochs"]; ok {
		if epochs != math.Trunc(epochs) || epochs < 1 {
			return nil, fmt.Errorf("%s: not supported: num_train_epochs %v (ragtune trains whole epochs; use an integer or max_steps)", at("num_train_epochs"), epochs)
		}
		c.Epochs = int(epochs)
	}
	if sched != "" {
		switch sched {
		case "cosine", "linear", "constant":
			c.Schedule = sched
		case "constant_with_warmup":
			c.Schedule = "constant"
		default:
			return nil, fmt.Errorf("%s: not supported: lr_scheduler_type %s (use cosine, linear, constant or constant_with_warmup)", at("lr_scheduler_type"), sched)
		}
	}
	if template != "" {
		t, note := templateFromLlamaFactory(template)
		if note != "" {
			notes = append(notes, at("template")+": "+note)
		}
		c.ChatTemplate = t
	}
	switch resume {
	case "", "false", "False":
	case "true", "True":
		c.Resume = true
	default:
		// A checkpoint path: ragtune resumes from the latest checkpoint
		// of output_dir, so the path must be one of its own.
		if c.Out == "" || filepath.Clean(filepath.Dir(resume)) != filepath.Clean(c.Out) {
			return nil, fmt.Errorf("%s: not supported: resume_from_checkpoint %s (ragtune resumes from the latest checkpoint in output_dir: set it to true)", at("resume_from_checkpoint"), resume)
		}
		c.Resume, c.ResumeFrom = true, resume
	}
	if dataset != "" {
		var names []string
		for _, n := range strings.Split(dataset, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		// dataset_dir is relative to the working directory, as in
		// LLaMA-Factory; failing that, to the YAML file's directory, so
		// an exported run works from anywhere.
		if _, err := os.Stat(filepath.Join(dataDir, "dataset_info.json")); err != nil && !filepath.IsAbs(dataDir) {
			if alt := filepath.Join(filepath.Dir(path), dataDir); alt != dataDir {
				if _, err := os.Stat(filepath.Join(alt, "dataset_info.json")); err == nil {
					dataDir = alt
				}
			}
		}
		sets, err := LoadDatasets(dataDir, names)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at("dataset"), err)
		}
		c.Sets = sets
	}
	return notes, nil
}

// ParseTargets reads LoRA targets: "all", or a comma list of module names
// with or without the _proj suffix (LLaMA-Factory and PEFT write q_proj).
func ParseTargets(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return ModuleNames[:], nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if moduleIndex(t) < 0 {
			return nil, fmt.Errorf("unknown module %q (use all, or some of %s, with or without _proj)", t, strings.Join(ModuleNames[:], ","))
		}
		out = append(out, strings.TrimSuffix(t, "_proj"))
	}
	if len(out) == 0 {
		return nil, errors.New("no module named")
	}
	return out, nil
}

// templateFromLlamaFactory maps LLaMA-Factory template names onto the chat
// templates ragtune renders: deepseekr1/deepseek3 and qwen by name; any
// other name means the model's own chat template (tokenizer_config.json),
// which for an instruct model is the format LLaMA-Factory's template of
// the same family writes; the note says so.
func templateFromLlamaFactory(name string) (tmpl, note string) {
	switch name {
	case "deepseekr1", "deepseek3":
		return "r1", ""
	case "qwen":
		return "qwen", ""
	}
	return "", "template " + name + ": ragtune renders the model's own chat template (tokenizer_config.json); --chat-template r1, qwen or a .jinja file chooses another"
}

func kindOf(v any) string {
	switch v.(type) {
	case *int, *uint64:
		return "an integer"
	case *float64:
		return "a number"
	case *bool:
		return "true or false"
	}
	return "a string"
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
