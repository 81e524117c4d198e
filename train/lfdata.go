package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ragtune/train/data"
)

// Dataset is one entry of a LLaMA-Factory dataset_info.json, resolved to a
// local file: which columns hold the prompt, answer, system prompt, history
// or conversation, and (for sharegpt) which keys and role names the turns
// use. Defaults are LLaMA-Factory's.
type Dataset struct {
	Name       string
	File       string // absolute or relative to the working directory
	Formatting string // alpaca or sharegpt
	Columns    DatasetColumns
	Tags       DatasetTags
}

// DatasetColumns name the columns of a row (dataset_info.json "columns").
type DatasetColumns struct {
	Prompt   string `json:"prompt,omitempty"`
	Query    string `json:"query,omitempty"`
	Response string `json:"response,omitempty"`
	History  string `json:"history,omitempty"`
	Messages string `json:"messages,omitempty"`
	System   string `json:"system,omitempty"`
}

// DatasetTags name the keys and roles of sharegpt turns
// (dataset_info.json "tags").
type DatasetTags struct {
	RoleTag      string `json:"role_tag,omitempty"`
	ContentTag   string `json:"content_tag,omitempty"`
	UserTag      string `json:"user_tag,omitempty"`
	AssistantTag string `json:"assistant_tag,omitempty"`
	SystemTag    string `json:"system_tag,omitempty"`
}

// datasetInfoEntry is what ragtune reads of a dataset_info.json entry; the
// other fields are checked by name so an entry that needs a feature
// ragtune lacks (a hub download, a preference or multimodal dataset) fails
// with that feature named instead of training on the wrong thing.
type datasetInfoEntry struct {
	FileName   string          `json:"file_name"`
	Formatting string          `json:"formatting"`
	Columns    json.RawMessage `json:"columns"`
	Tags       json.RawMessage `json:"tags"`
}

var datasetUnsupported = map[string]string{
	"hf_hub_url":      "downloading from the Hugging Face hub (fetch the file with 'ragtune model pull REPO --repo-type dataset' and use file_name)",
	"ms_hub_url":      "downloading from ModelScope (download the file and use file_name)",
	"om_hub_url":      "downloading from Modelers (download the file and use file_name)",
	"script_url":      "dataset loading scripts (convert the data to JSON or JSONL and use file_name)",
	"cloud_file_name": "cloud storage (download the file and use file_name)",
	"ranking":         "preference (ranking) datasets: ragtune trains SFT only",
}

var datasetIgnored = map[string]bool{"file_sha1": true, "subset": true, "split": true, "folder": true, "num_samples": true}

// LoadDatasets resolves names (LLaMA-Factory's comma-separated `dataset`)
// through dir/dataset_info.json.
func LoadDatasets(dir string, names []string) ([]Dataset, error) {
	infoPath := filepath.Join(dir, "dataset_info.json")
	b, err := os.ReadFile(infoPath)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w (LLaMA-Factory datasets are described in dataset_dir/dataset_info.json)", err)
	}
	var info map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", infoPath, err)
	}
	var out []Dataset
	for _, name := range names {
		raw, ok := info[name]
		if !ok {
			return nil, fmt.Errorf("dataset %q is not in %s", name, infoPath)
		}
		var e datasetInfoEntry
		for k, v := range raw {
			switch k {
			case "file_name", "formatting", "columns", "tags":
			default:
				if why, bad := datasetUnsupported[k]; bad && string(v) != "false" && string(v) != "null" {
					return nil, fmt.Errorf("%s: dataset %q: not supported: %s (%s)", infoPath, name, k, why)
				}
				if !datasetIgnored[k] && datasetUnsupported[k] == "" {
					return nil, fmt.Errorf("%s: dataset %q: not supported: %s", infoPath, name, k)
				}
			}
		}
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("%s: dataset %q: %w", infoPath, name, err)
		}
		if e.FileName == "" {
			return nil, fmt.Errorf("%s: dataset %q has no file_name", infoPath, name)
		}
		if ext := strings.ToLower(filepath.Ext(e.FileName)); ext != ".json" && ext != ".jsonl" {
			return nil, fmt.Errorf("%s: dataset %q: not supported: file_name %s (ragtune reads .json and .jsonl datasets; convert CSV, Parquet or Arrow files, or a folder, to JSONL first)", infoPath, name, e.FileName)
		}
		d := Dataset{Name: name, File: filepath.Join(dir, e.FileName), Formatting: e.Formatting}
		if d.Formatting == "" {
			d.Formatting = "alpaca"
		}
		if d.Formatting != "alpaca" && d.Formatting != "sharegpt" {
			return nil, fmt.Errorf("%s: dataset %q: formatting %q (use alpaca or sharegpt)", infoPath, name, d.Formatting)
		}
		if err := strictJSON(e.Columns, &d.Columns, "columns"); err != nil {
			return nil, fmt.Errorf("%s: dataset %q: %w", infoPath, name, err)
		}
		if err := strictJSON(e.Tags, &d.Tags, "tags"); err != nil {
			return nil, fmt.Errorf("%s: dataset %q: %w", infoPath, name, err)
		}
		d.defaults()
		out = append(out, d)
	}
	return out, nil
}

// strictJSON decodes an optional object, naming an unknown field (images,
// videos, tools, chosen, ... are features ragtune does not train).
func strictJSON(raw json.RawMessage, v any, what string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	allowed := map[string]bool{}
	for _, k := range []string{"prompt", "query", "response", "history", "messages", "system",
		"role_tag", "content_tag", "user_tag", "assistant_tag", "system_tag"} {
		allowed[k] = true
	}
	for k := range m {
		if !allowed[k] {
			return fmt.Errorf("%s: not supported: %s (ragtune trains text SFT rows only)", what, k)
		}
	}
	return nil
}

func (d *Dataset) defaults() {
	c, t := &d.Columns, &d.Tags
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	if d.Formatting == "alpaca" {
		def(&c.Prompt, "instruction")
		def(&c.Query, "input")
		def(&c.Response, "output")
	} else {
		def(&c.Messages, "conversations")
	}
	def(&t.RoleTag, "from")
	def(&t.ContentTag, "value")
	def(&t.UserTag, "human")
	def(&t.AssistantTag, "gpt")
	def(&t.SystemTag, "system")
}

// Read reads the dataset's file (JSON array or JSONL) with its column
// mapping into examples.
func (d Dataset) Read(skipBad bool) ([]data.Example, data.Stats, error) {
	b, err := os.ReadFile(d.File)
	if err != nil {
		return nil, data.Stats{}, fmt.Errorf("dataset %q: %w", d.Name, err)
	}
	return data.ReadWith(d.File, b, skipBad, d.parseRow)
}

func (d Dataset) parseRow(raw json.RawMessage) ([]data.Example, error) {
	if raw == nil {
		return nil, errors.New("invalid JSON")
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("row is not a JSON object: %w", err)
	}
	str := func(col string) (string, error) {
		if col == "" || obj[col] == nil {
			return "", nil
		}
		s, ok := obj[col].(string)
		if !ok {
			return "", fmt.Errorf("column %q must be a string", col)
		}
		return s, nil
	}
	var msgs []data.Message
	sys, err := str(d.Columns.System)
	if err != nil {
		return nil, err
	}
	if d.Formatting == "alpaca" {
		if sys != "" {
			msgs = append(msgs, data.Message{Role: "system", Content: sys})
		}
		if h := d.Columns.History; h != "" && obj[h] != nil {
			turns, ok := obj[h].([]any)
			if !ok {
				return nil, fmt.Errorf("column %q must be a list of [prompt, response] pairs", h)
			}
			for i, t := range turns {
				pair, ok := t.([]any)
				if !ok || len(pair) != 2 {
					return nil, fmt.Errorf("history turn %d is not a [prompt, response] pair", i)
				}
				q, ok1 := pair[0].(string)
				a, ok2 := pair[1].(string)
				if !ok1 || !ok2 {
					return nil, fmt.Errorf("history turn %d is not a pair of strings", i)
				}
				msgs = append(msgs, data.Message{Role: "user", Content: q}, assistantTurn(a))
			}
		}
		prompt, err := str(d.Columns.Prompt)
		if err != nil {
			return nil, err
		}
		query, err := str(d.Columns.Query)
		if err != nil {
			return nil, err
		}
		resp, err := str(d.Columns.Response)
		if err != nil {
			return nil, err
		}
		// LLaMA-Factory joins prompt and query with a newline.
		user := prompt
		if query != "" {
			user = strings.TrimRight(prompt+"\n"+query, "\n")
		}
		if strings.TrimSpace(user) == "" {
			return nil, fmt.Errorf("column %q is empty", d.Columns.Prompt)
		}
		if strings.TrimSpace(resp) == "" {
			return nil, fmt.Errorf("column %q is empty", d.Columns.Response)
		}
		msgs = append(msgs, data.Message{Role: "user", Content: user}, assistantTurn(resp))
		return []data.Example{{Messages: msgs}}, nil
	}

	list, ok := obj[d.Columns.Messages].([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("column %q must be a non-empty list of turns", d.Columns.Messages)
	}
	if sys != "" {
		msgs = append(msgs, data.Message{Role: "system", Content: sys})
	}
	t := d.Tags
	for i, it := range list {
		o, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("turn %d is not an object", i)
		}
		role, _ := o[t.RoleTag].(string)
		content, ok := o[t.ContentTag].(string)
		if !ok {
			return nil, fmt.Errorf("turn %d has no string %q", i, t.ContentTag)
		}
		switch role {
		case t.UserTag:
			msgs = append(msgs, data.Message{Role: "user", Content: content})
		case t.AssistantTag:
			msgs = append(msgs, assistantTurn(content))
		case t.SystemTag:
			msgs = append(msgs, data.Message{Role: "system", Content: content})
		default:
			return nil, fmt.Errorf("turn %d has role %q; this dataset's tags name %q (user), %q (assistant) and %q (system)", i, role, t.UserTag, t.AssistantTag, t.SystemTag)
		}
	}
	last := msgs[len(msgs)-1]
	if last.Role != "assistant" {
		return nil, fmt.Errorf("the last turn must be the assistant's (%q)", t.AssistantTag)
	}
	if strings.TrimSpace(last.Content) == "" && strings.TrimSpace(last.ReasoningContent) == "" {
		return nil, errors.New("the last assistant turn is empty")
	}
	return []data.Example{{Messages: msgs}}, nil
}

// assistantTurn splits "<think>\nR\n</think>\n\nA" (how LLaMA-Factory data
// and our export carry DeepSeek-R1 reasoning) into reasoning and answer, so
// data.AssistantTarget renders the same text back.
func assistantTurn(s string) data.Message {
	if rest, ok := strings.CutPrefix(strings.TrimLeft(s, " \n"), "<think>"); ok {
		if r, a, ok := strings.Cut(rest, "</think>"); ok && strings.TrimSpace(r) != "" {
			return data.Message{Role: "assistant", ReasoningContent: strings.TrimSpace(r), Content: strings.TrimLeft(a, "\n")}
		}
	}
	return data.Message{Role: "assistant", Content: s}
}
