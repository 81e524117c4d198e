// Package data reads supervised fine-tuning data (JSON or JSONL in the
// alpaca, messages/sharegpt, medical-o1 and question/answer-pair forms),
// renders each example through a chat template and tokenizes it with a loss
// mask that covers only the final assistant turn.
//
// It does not batch or shuffle for training (package train does) and does
// not implement chat templates or tokenizers (llm/chat, tokenizer): callers
// pass them in as a Renderer and an Encoder.
package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"ragtune/llm/chat"
)

// Message is one chat turn, the type chat templates render (an alias, so
// an Example's messages go to chat.Template.Render without copying).
// ReasoningContent is an assistant's chain of thought, trained inside
// <think>…</think> before Content.
type Message = chat.Message

// Example is one training conversation; the last message is the assistant
// turn the model learns.
type Example struct {
	Messages []Message
	Text     string // a plain-text pre-training document instead (see text.go)
	Source   string // file:line
}

// Stats counts what reading skipped.
type Stats struct {
	Rows    int // rows read
	Skipped int // malformed rows skipped (SkipBad)
	// FirstSkip describes the first skipped row, for the log.
	FirstSkip string
}

// ReadFile reads a .json (array of objects, or one object per line) or
// .jsonl file (a .txt/.md file is one plain-text document, and rows with
// a "text" field are documents too: see text.go). A malformed row fails with file:line, unless skipBad, in
// which case it is skipped and counted in Stats.
func ReadFile(path string, skipBad bool) ([]Example, Stats, error) {
	if IsTextFile(path) {
		return ReadTextFile(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("read training data: %w", err)
	}
	return Read(path, b, skipBad)
}

// Read parses data already in memory; name labels errors.
func Read(name string, b []byte, skipBad bool) ([]Example, Stats, error) {
	return ReadWith(name, b, skipBad, parseRow)
}

// RowParser turns one JSON row into examples; ReadWith calls it per row.
type RowParser func(raw json.RawMessage) ([]Example, error)

// ReadWith is Read with the caller's row parser, for data whose columns
// are described elsewhere (a LLaMA-Factory dataset_info.json entry). A nil
// raw means the line is not valid JSON.
func ReadWith(name string, b []byte, skipBad bool, parseRow RowParser) ([]Example, Stats, error) {
	var st Stats
	var out []Example
	row := func(line int, raw json.RawMessage) error {
		st.Rows++
		src := fmt.Sprintf("%s:%d", name, line)
		ex, err := parseRow(raw)
		if err != nil {
			if skipBad {
				st.Skipped++
				if st.FirstSkip == "" {
					st.FirstSkip = src + ": " + err.Error()
				}
				return nil
			}
			return fmt.Errorf("%s: %w (fix the row or pass --skip-bad)", src, err)
		}
		for i := range ex {
			ex[i].Source = src
		}
		out = append(out, ex...)
		return nil
	}
	trim := bytes.TrimLeft(b, " \t\r\n\ufeff")
	if len(trim) > 0 && trim[0] == '[' {
		if err := readArray(name, b, row); err != nil {
			return nil, st, err
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<30)
		for line := 1; sc.Scan(); line++ {
			l := bytes.TrimSpace(sc.Bytes())
			if len(l) == 0 {
				continue
			}
			if !json.Valid(l) {
				if err := row(line, nil); err != nil {
					return nil, st, err
				}
				continue
			}
			if err := row(line, append(json.RawMessage(nil), l...)); err != nil {
				return nil, st, err
			}
		}
		if err := sc.Err(); err != nil {
			return nil, st, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(out) == 0 {
		return nil, st, fmt.Errorf("%s: no usable examples (%d rows, %d skipped)", name, st.Rows, st.Skipped)
	}
	return out, st, nil
}

// readArray walks a JSON array, calling row with each element and the line
// it starts on.
func readArray(name string, b []byte, row func(int, json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s: invalid JSON: %w", name, err)
	}
	lines := lineStarts(b)
	for dec.More() {
		// InputOffset is the end of the previous token; the element starts
		// at the next non-space, non-comma byte.
		off := int(dec.InputOffset())
		for off < len(b) && strings.ContainsRune(" \t\r\n,", rune(b[off])) {
			off++
		}
		line := 1 + sort.SearchInts(lines, off+1)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s:%d: invalid JSON: %w", name, line, err)
		}
		if err := row(line, raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: invalid JSON at the end of the array: %w", name, err)
	}
	return nil
}

// lineStarts returns the offsets at which lines 2, 3, … start, so
// SearchInts(off+1) is the 1-based line of off.
func lineStarts(b []byte) []int {
	var s []int
	for i, c := range b {
		if c == '\n' {
			s = append(s, i+1)
		}
	}
	return s
}

// parseRow recognises one row's form by its keys. A bilingual pair row
// ({q_en, a_en, q_zh, a_zh}) yields one example per language.
func parseRow(raw json.RawMessage) ([]Example, error) {
	if raw == nil {
		return nil, errors.New("invalid JSON")
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("row is not a JSON object: %w", err)
	}
	str := func(k string) (string, bool) {
		v, ok := obj[k]
		if !ok || v == nil {
			return "", false
		}
		s, ok := v.(string)
		return s, ok
	}
	need := func(k string) (string, error) {
		s, ok := str(k)
		if !ok {
			return "", fmt.Errorf("%q must be a string", k)
		}
		if strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("%q is empty", k)
		}
		return s, nil
	}
	var sys []Message
	if s, ok := str("system"); ok && s != "" {
		sys = []Message{{Role: "system", Content: s}}
	}
	one := func(m ...Message) ([]Example, error) {
		return []Example{{Messages: append(sys, m...)}}, nil
	}
	switch {
	case obj["messages"] != nil || obj["conversations"] != nil:
		list := obj["messages"]
		if list == nil {
			list = obj["conversations"]
		}
		msgs, err := parseMessages(list)
		if err != nil {
			return nil, err
		}
		return []Example{{Messages: msgs}}, nil
	case obj["instruction"] != nil:
		ins, err := need("instruction")
		if err != nil {
			return nil, err
		}
		outp, err := need("output")
		if err != nil {
			return nil, err
		}
		if in, ok := str("input"); ok && strings.TrimSpace(in) != "" {
			ins += "\n\n" + in
		}
		return one(Message{Role: "user", Content: ins}, Message{Role: "assistant", Content: outp})
	case obj["Question"] != nil:
		q, err := need("Question")
		if err != nil {
			return nil, err
		}
		r, err := need("Response")
		if err != nil {
			return nil, err
		}
		cot, _ := str("Complex_CoT")
		return one(Message{Role: "user", Content: q}, Message{Role: "assistant", Content: r, ReasoningContent: cot})
	}
	for _, k := range [][2]string{{"question", "answer"}, {"prompt", "response"}, {"prompt", "completion"}, {"q", "a"}} {
		if obj[k[0]] != nil {
			q, err := need(k[0])
			if err != nil {
				return nil, err
			}
			a, err := need(k[1])
			if err != nil {
				return nil, err
			}
			return one(Message{Role: "user", Content: q}, Message{Role: "assistant", Content: a})
		}
	}
	// Bilingual pairs: q_<lang> with a_<lang>, one example per language.
	var langs []string
	for k := range obj {
		if l, ok := strings.CutPrefix(k, "q_"); ok {
			if _, ok := obj["a_"+l]; ok {
				langs = append(langs, l)
			}
		}
	}
	if len(langs) > 0 {
		sort.Strings(langs)
		var out []Example
		for _, l := range langs {
			q, err := need("q_" + l)
			if err != nil {
				return nil, err
			}
			a, err := need("a_" + l)
			if err != nil {
				return nil, err
			}
			out = append(out, Example{Messages: append(append([]Message(nil), sys...), Message{Role: "user", Content: q}, Message{Role: "assistant", Content: a})})
		}
		return out, nil
	}
	if s, ok := str("text"); ok {
		return textRow(s)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return nil, fmt.Errorf("unrecognized row with keys %v (expected messages, conversations, instruction/output, Question/Response, question/answer or q_<lang>/a_<lang>)", keys)
}

// parseMessages reads OpenAI-style {role, content, reasoning_content} or
// ShareGPT-style {from, value} turns.
func parseMessages(v any) ([]Message, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, errors.New("messages must be a non-empty array")
	}
	var msgs []Message
	for i, it := range list {
		o, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("message %d is not an object", i)
		}
		get := func(keys ...string) string {
			for _, k := range keys {
				if s, ok := o[k].(string); ok {
					return s
				}
			}
			return ""
		}
		role := get("role", "from")
		switch role {
		case "human", "user":
			role = "user"
		case "gpt", "assistant", "model", "chatgpt", "bot":
			role = "assistant"
		case "system":
		default:
			return nil, fmt.Errorf("message %d has unknown role %q (use system, user or assistant)", i, role)
		}
		content, hasContent := o["content"].(string)
		if !hasContent {
			content, hasContent = o["value"].(string)
		}
		if !hasContent {
			return nil, fmt.Errorf("message %d has no string content", i)
		}
		msgs = append(msgs, Message{Role: role, Content: content, ReasoningContent: get("reasoning_content", "reasoning")})
	}
	last := msgs[len(msgs)-1]
	if last.Role != "assistant" {
		return nil, fmt.Errorf("the last message must be the assistant's (got %q)", last.Role)
	}
	if strings.TrimSpace(last.Content) == "" && strings.TrimSpace(last.ReasoningContent) == "" {
		return nil, errors.New("the last assistant message is empty")
	}
	return msgs, nil
}

// AssistantTarget is the text the model learns for an assistant turn: the
// reasoning inside <think>…</think> (DeepSeek-R1's form) before the answer.
func AssistantTarget(m Message) string {
	if strings.TrimSpace(m.ReasoningContent) == "" {
		return m.Content
	}
	return "<think>\n" + strings.TrimSpace(m.ReasoningContent) + "\n</think>\n\n" + m.Content
}
