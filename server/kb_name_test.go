package server

import (
	"strings"
	"testing"
)

// TestValidKBName: the commands' name rule (rag.ValidKBName) with the
// API's 64-character limit, counted in characters, not bytes.
func TestValidKBName(t *testing.T) {
	for name, want := range map[string]bool{
		"docs":                  true,
		"医学知识库-v1.2":            true,
		strings.Repeat("知", 64): true,
		strings.Repeat("a", 65): false,
		strings.Repeat("知", 65): false,
		"":                      false,
		".hidden":               false,
		"../etc":                false,
		"a/b":                   false,
		"a b":                   false,
	} {
		if got := validKBName(name); got != want {
			t.Errorf("validKBName(%q) = %v, want %v", name, got, want)
		}
	}
}
