package llm

import "ragtune/llm/chat"

// Message is one chat turn; it is chat.Message, so callers of llm need not
// import llm/chat.
type Message = chat.Message
