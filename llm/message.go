package llm

// Message is one chat turn.
//
// TODO(H4): becomes `type Message = chat.Message` once package llm/chat lands.
type Message struct {
	Role             string `json:"role"`
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content,omitempty"`
}
