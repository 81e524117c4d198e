package eval

import (
	"fmt"
	"strings"
)

// SuiteData maps a suite to the JSONL file that replaces its built-in
// set (SuiteConfig.Data). As a flag.Value it reads SUITE=FILE, once per
// suite: 'ragtune eval run --data overfit=my_sft.jsonl'.
type SuiteData map[string]string

func (d SuiteData) String() string { return fmt.Sprint(map[string]string(d)) }

// Set adds one SUITE=FILE pair; the suite must be one of AllSuites.
func (d SuiteData) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want SUITE=FILE, got %q", s)
	}
	if _, err := ParseSuites(k); err != nil || k == "all" {
		return fmt.Errorf("unknown suite %q in --data", k)
	}
	d[k] = v
	return nil
}
