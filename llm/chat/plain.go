package chat

import (
	"fmt"
	"strings"
)

// Plain renders messages for a model without a chat template (a base
// model, a test model): "User: …" / "Assistant: …" lines, ending with
// "Assistant:" when a reply is wanted. The eval suites and a grounded
// answer (package rag) use it when a model has no template.
func Plain(msgs []Message, gen bool) string {
	var b strings.Builder
	for _, m := range msgs {
		role := m.Role
		if role != "" {
			role = strings.ToUpper(role[:1]) + role[1:]
		}
		fmt.Fprintf(&b, "%s: %s\n", role, m.Content)
	}
	if gen {
		b.WriteString("Assistant:")
	}
	return b.String()
}
