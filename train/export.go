package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"ragtune/internal/atomicfile"
	"ragtune/model"
	"ragtune/train/data"
)

// ExportDataset is the dataset name and file an export writes.
const ExportDataset = "ragtune_sft"

// lfRun is the YAML ExportLlamaFactory writes, in the order of
// LLaMA-Factory's examples (model, method, dataset, output, train, eval).
type lfRun struct {
	Model string `yaml:"model_name_or_path"`

	Stage           string   `yaml:"stage"`
	DoTrain         bool     `yaml:"do_train"`
	FinetuningType  string   `yaml:"finetuning_type"`
	LoRARank        int      `yaml:"lora_rank,omitempty"`
	LoRAAlpha       float64  `yaml:"lora_alpha,omitempty"`
	LoRADropout     *float64 `yaml:"lora_dropout,omitempty"`
	LoRATarget      string   `yaml:"lora_target,omitempty"`
	UseRSLoRA       bool     `yaml:"use_rslora,omitempty"`
	QuantizationBit int      `yaml:"quantization_bit,omitempty"`

	Dataset    string `yaml:"dataset"`
	DatasetDir string `yaml:"dataset_dir"`
	Template   string `yaml:"template"`
	CutoffLen  int    `yaml:"cutoff_len"`
	MaxSamples int    `yaml:"max_samples,omitempty"`

	OutputDir    string `yaml:"output_dir"`
	SaveSteps    int    `yaml:"save_steps,omitempty"`
	SaveStrategy string `yaml:"save_strategy,omitempty"`
	PlotLoss     bool   `yaml:"plot_loss"`
	Overwrite    bool   `yaml:"overwrite_output_dir,omitempty"`

	Batch       int     `yaml:"per_device_train_batch_size"`
	GradAccum   int     `yaml:"gradient_accumulation_steps"`
	LR          float64 `yaml:"learning_rate"`
	Epochs      float64 `yaml:"num_train_epochs"`
	MaxSteps    int     `yaml:"max_steps,omitempty"`
	Scheduler   string  `yaml:"lr_scheduler_type"`
	WarmupRatio float64 `yaml:"warmup_ratio,omitempty"`
	WarmupSteps int     `yaml:"warmup_steps,omitempty"`
	WeightDecay float64 `yaml:"weight_decay"`
	Beta1       float64 `yaml:"adam_beta1"`
	Beta2       float64 `yaml:"adam_beta2"`
	MaxGradNorm float64 `yaml:"max_grad_norm"`
	Seed        uint64  `yaml:"seed"`
	GradCkpt    bool    `yaml:"gradient_checkpointing,omitempty"`
	BF16        bool    `yaml:"bf16"`

	ValSize      float64 `yaml:"val_size,omitempty"`
	EvalStrategy string  `yaml:"eval_strategy,omitempty"`
	EvalSteps    int     `yaml:"eval_steps,omitempty"`
}

// ExportLlamaFactory writes the run c, with its examples, as a
// LLaMA-Factory run in dir: data/<ExportDataset>.json in sharegpt form
// (reasoning kept as <think>…</think> before the answer),
// data/dataset_info.json, and train.yaml with the mapped hyperparameters.
// modelTemplate is the model's own chat template text (to name the
// LLaMA-Factory template when c.ChatTemplate is empty). It returns notes
// on options LLaMA-Factory has no key for.
func ExportLlamaFactory(dir string, c RunConfig, exs []data.Example, modelTemplate string) (notes []string, err error) {
	if len(exs) == 0 {
		return nil, errors.New("export: no examples")
	}
	tmpl, err := templateToLlamaFactory(c.ChatTemplate, modelTemplate)
	if err != nil {
		return nil, err
	}
	rows := make([]map[string]any, 0, len(exs))
	for _, ex := range exs {
		if ex.Text != "" || len(ex.Messages) == 0 {
			return nil, fmt.Errorf("export: %s is a plain-text (pre-training) example; --export-llamafactory writes chat (SFT) data only", ex.Source)
		}
		row, err := sharegptRow(ex)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	// <think> stays readable: no HTML escaping.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dataDir, ExportDataset+".json"), buf.Bytes()); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	info := map[string]any{ExportDataset: map[string]any{
		"file_name":  ExportDataset + ".json",
		"formatting": "sharegpt",
		"columns":    DatasetColumns{Messages: "conversations", System: "system"},
		"tags":       DatasetTags{RoleTag: "from", ContentTag: "value", UserTag: "human", AssistantTag: "gpt", SystemTag: "system"},
	}}
	if err := model.WriteJSON(filepath.Join(dataDir, "dataset_info.json"), info); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}

	r := lfRun{Model: c.Model, Stage: "sft", DoTrain: true, FinetuningType: c.Mode,
		Dataset: ExportDataset, DatasetDir: "data", Template: tmpl, CutoffLen: c.MaxSeq, MaxSamples: c.MaxSamples,
		OutputDir: c.Out, SaveSteps: c.SaveEvery, PlotLoss: true, Overwrite: c.Force,
		Batch: c.Batch, GradAccum: c.GradAccum, LR: c.LR, Epochs: float64(c.Epochs), MaxSteps: c.MaxSteps,
		Scheduler: c.Schedule, WarmupRatio: c.WarmupRatio, WarmupSteps: c.Warmup, WeightDecay: c.WeightDecay,
		Beta1: c.Beta1, Beta2: c.Beta2, MaxGradNorm: c.Clip, Seed: c.Seed, GradCkpt: c.GradCheckpoint, BF16: true,
		ValSize: c.ValSplit, EvalSteps: c.EvalEvery}
	if c.Mode == "lora" {
		d := c.LoRA.Dropout
		r.LoRARank, r.LoRAAlpha, r.LoRADropout, r.UseRSLoRA = c.LoRA.R, c.LoRA.Alpha, &d, c.LoRA.RSLoRA
		r.LoRATarget = targetsToLlamaFactory(c.LoRA.Targets)
		switch c.BaseDType {
		case "q4_0":
			r.QuantizationBit = 4
		case "q8_0":
			r.QuantizationBit = 8
		}
	}
	if c.Schedule == "constant" && (c.Warmup > 0 || c.WarmupRatio > 0) {
		r.Scheduler = "constant_with_warmup"
	}
	if c.SaveEvery == 0 {
		r.SaveStrategy = "no"
	}
	if c.EvalEvery > 0 && c.ValSplit > 0 {
		r.EvalStrategy = "steps"
	}
	if c.EarlyStop > 0 {
		notes = append(notes, "--early-stop has no LLaMA-Factory key: not exported")
	}
	if c.BaseDType == "bf16" {
		notes = append(notes, "--base-dtype bf16 has no LLaMA-Factory key (bf16: true is written for the GPU run)")
	}
	y, err := yaml.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	head := "# Written by 'ragtune train --export-llamafactory'. On a machine with LLaMA-Factory:\n" +
		"#   cd " + filepath.Base(filepath.Clean(dir)) + " && llamafactory-cli train train.yaml\n" +
		"# model_name_or_path and output_dir are as given to ragtune: change them to the cluster's paths.\n" +
		"# The PEFT adapter it writes to output_dir loads in ragtune (run/serve --adapter, lora merge, quantize, eval).\n"
	if err := atomicfile.WriteFile(filepath.Join(dir, "train.yaml"), append([]byte(head), y...)); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return notes, nil
}

// sharegptRow writes one example as LLaMA-Factory sharegpt: a leading
// system message goes to the system column, assistant reasoning goes back
// inside <think>…</think> (data.AssistantTarget), so no training text is
// lost.
func sharegptRow(ex data.Example) (map[string]any, error) {
	row := map[string]any{}
	msgs := ex.Messages
	if msgs[0].Role == "system" {
		row["system"] = msgs[0].Content
		msgs = msgs[1:]
	}
	turns := make([]map[string]string, 0, len(msgs))
	for _, m := range msgs {
		switch m.Role {
		case "user":
			turns = append(turns, map[string]string{"from": "human", "value": m.Content})
		case "assistant":
			turns = append(turns, map[string]string{"from": "gpt", "value": data.AssistantTarget(m)})
		default:
			return nil, fmt.Errorf("export: %s: a %s message inside the conversation has no sharegpt form", ex.Source, m.Role)
		}
	}
	row["conversations"] = turns
	return row, nil
}

func targetsToLlamaFactory(ts []string) string {
	if len(ts) == len(ModuleNames) {
		all := true
		for _, n := range ModuleNames {
			found := false
			for _, t := range ts {
				found = found || strings.TrimSuffix(t, "_proj") == n
			}
			all = all && found
		}
		if all {
			return "all"
		}
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = strings.TrimSuffix(t, "_proj") + "_proj"
	}
	return strings.Join(out, ",")
}

// templateToLlamaFactory names the LLaMA-Factory template that renders
// what ragtune's chat template does.
func templateToLlamaFactory(choice, modelTemplate string) (string, error) {
	switch {
	case choice == "r1":
		return "deepseekr1", nil
	case choice == "qwen":
		return "qwen", nil
	case choice != "":
		return "", fmt.Errorf("export: --chat-template %s has no LLaMA-Factory template name; use r1 or qwen", choice)
	case strings.Contains(modelTemplate, "<｜Assistant｜>"):
		return "deepseekr1", nil
	case strings.Contains(modelTemplate, "<|im_start|>") && strings.Contains(modelTemplate, "<think>"):
		// Qwen3's ChatML with reasoning is LLaMA-Factory's qwen3 template.
		return "qwen3", nil
	case strings.Contains(modelTemplate, "<|im_start|>"):
		return "qwen", nil
	}
	return "", errors.New("export: cannot tell which LLaMA-Factory template matches the model's chat template; pass --chat-template r1 or qwen")
}

// ModelChatTemplate returns the chat_template of dir's
// tokenizer_config.json, or "" (a GGUF file, a Hub id, no template).
func ModelChatTemplate(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return ""
	}
	var tc struct {
		ChatTemplate any `json:"chat_template"`
	}
	if json.Unmarshal(b, &tc) != nil {
		return ""
	}
	switch v := tc.ChatTemplate.(type) {
	case string:
		return v
	case []any: // named templates: [{"name": "default", "template": "..."}]
		for _, t := range v {
			if m, ok := t.(map[string]any); ok && m["name"] == "default" {
				s, _ := m["template"].(string)
				return s
			}
		}
	}
	return ""
}
