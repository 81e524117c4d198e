package hub

import (
	"os"
	"strings"

	"ragtune/internal/cli"
)

// ResolveModelArg lets a --model value name an Ollama model: "ollama:NAME"
// always, and "NAME:TAG" (deepseek-r1:1.5b) when no file of that name
// exists and the value does not look like a path. Such a value resolves to
// the model's GGUF blob in Ollama's store, which every command then loads
// like any GGUF file; any other value is returned as it is. An "ollama:"
// value that is no valid name is a usage error.
func ResolveModelArg(v string) (string, error) {
	explicit := strings.HasPrefix(v, "ollama:")
	if !explicit {
		if _, err := os.Stat(v); err == nil || !strings.Contains(v, ":") || strings.ContainsAny(v, `\`) || strings.HasPrefix(v, ".") || strings.HasPrefix(v, "/") {
			return v, nil
		}
	}
	name, err := ParseOllamaName(v)
	if err != nil {
		if explicit {
			return "", cli.Usagef("--model: %v", err)
		}
		return v, nil
	}
	m, err := ResolveOllama("", name)
	if err != nil {
		return "", err
	}
	return m.GGUF, nil
}
