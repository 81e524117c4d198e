// Package conversation is the state of an interactive chat: the system
// message and the turns so far, with the reasoning of each reply kept, and
// their JSON file form for `ragtune chat`'s /save and /load.
//
// It does not render prompts (package llm/chat) or read the terminal
// (package internal/lineedit).
package conversation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"ragtune/internal/atomicfile"
	"ragtune/llm"
)

// Schema names the file layout Save writes.
const Schema = "ragtune.chat/v1"

// Conversation is a system message and the turns after it.
type Conversation struct {
	System string
	Turns  []llm.Message // user and assistant turns, oldest first
}

// Messages returns the conversation as a request's messages: the system
// message first when there is one.
func (c *Conversation) Messages() []llm.Message {
	msgs := make([]llm.Message, 0, len(c.Turns)+1)
	if c.System != "" {
		msgs = append(msgs, llm.Message{Role: "system", Content: c.System})
	}
	return append(msgs, c.Turns...)
}

// Ask adds a user turn.
func (c *Conversation) Ask(text string) {
	c.Turns = append(c.Turns, llm.Message{Role: "user", Content: text})
}

// Answer adds the model's reply to the last user turn, its reasoning kept
// beside the answer (a template such as R1's leaves it out of later
// prompts; a saved file still has it).
func (c *Conversation) Answer(res *llm.Result) {
	c.Turns = append(c.Turns, llm.Message{Role: "assistant", Content: res.Text, ReasoningContent: res.Reasoning})
}

// Retract removes the last turn: a question whose reply was interrupted
// or did not fit, so the next one starts clean.
func (c *Conversation) Retract() {
	if len(c.Turns) > 0 {
		c.Turns = c.Turns[:len(c.Turns)-1]
	}
}

// Clear forgets every turn and keeps the system message.
func (c *Conversation) Clear() { c.Turns = c.Turns[:0] }

// file is the saved form: the messages as an OpenAI-style request would
// carry them, so a saved chat can also be sent to any chat API.
type file struct {
	Schema   string        `json:"schema"`
	Messages []llm.Message `json:"messages"`
}

// Save writes the conversation to path atomically. An existing file is
// replaced only with overwrite; otherwise the error says so.
func Save(path string, c *Conversation, overwrite bool) error {
	if !overwrite {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s exists: choose another name, or /save! %s to replace it", path, path)
		}
	}
	b, err := json.MarshalIndent(file{Schema: Schema, Messages: c.Messages()}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode conversation: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save conversation: %w", err)
	}
	return nil
}

// Load reads a conversation saved by Save, or a bare JSON array of
// messages ({"role", "content", "reasoning_content"}), as chat APIs and
// SFT data write them.
func Load(path string) (*Conversation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load conversation: %w", err)
	}
	var msgs []llm.Message
	trimmed := strings.TrimSpace(string(b))
	if strings.HasPrefix(trimmed, "[") {
		err = json.Unmarshal(b, &msgs)
	} else {
		var f file
		if err = json.Unmarshal(b, &f); err == nil && f.Schema != "" && f.Schema != Schema {
			err = fmt.Errorf("schema %q, want %q", f.Schema, Schema)
		}
		msgs = f.Messages
	}
	if err != nil {
		return nil, fmt.Errorf("load conversation %s: %w (want a file written by /save, or a JSON array of messages)", path, err)
	}
	c := &Conversation{}
	for i, m := range msgs {
		switch {
		case m.Role == "system" && i == 0:
			c.System = m.Content
		case m.Role == "user" || m.Role == "assistant":
			c.Turns = append(c.Turns, m)
		default:
			return nil, fmt.Errorf("load conversation %s: message %d has role %q (want user or assistant, and system only first)", path, i+1, m.Role)
		}
	}
	if len(c.Turns) == 0 {
		return nil, errors.New("load conversation " + path + ": no user or assistant messages")
	}
	return c, nil
}
