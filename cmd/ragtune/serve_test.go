package main

import (
	"errors"
	"strings"
	"testing"
)

func TestServeFlagErrors(t *testing.T) {
	t.Setenv("RAGTUNE_API_KEYS", "")
	cases := []struct {
		args []string
		want string
	}{
		{nil, "exactly one of --model"},
		{[]string{"--model", "m", "--backend", "http://x"}, "exactly one of --model"},
		{[]string{"--backend", "http://x", "--adapter", "a"}, "--adapter needs --model"},
		{[]string{"--backend", "http://127.0.0.1:1", "--addr", "0.0.0.0:0"}, "give API keys"},
		{[]string{"--backend", "http://127.0.0.1:1", "--addr", ":0"}, "give API keys"},
		{[]string{"--backend", "127.0.0.1:1"}, "http://"},
		{[]string{"--model", "m", "--parallel", "-1"}, "--parallel"},
		{[]string{"--backend", "http://127.0.0.1:1", "--max-extract", "-1"}, "--max-extract"},
	}
	for _, tc := range cases {
		err := runServe(tc.args)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %q: %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
	}
}
