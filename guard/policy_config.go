package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

var maskNames = []string{"stars", "partial", "label"}

func (s MaskStyle) String() string {
	if s >= 0 && int(s) < len(maskNames) {
		return maskNames[s]
	}
	return fmt.Sprintf("MaskStyle(%d)", int(s))
}

// MarshalText writes the style's name.
func (s MaskStyle) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "stars", "partial" or "label".
func (s *MaskStyle) UnmarshalText(b []byte) error {
	for i, n := range maskNames {
		if string(b) == n {
			*s = MaskStyle(i)
			return nil
		}
	}
	return fmt.Errorf("guard: unknown mask style %q (use stars, partial or label)", b)
}

// PolicyConfig is the JSON form of a Policy, for files users edit:
//
//	{"lexicon": "default", "lexicon_merge": ["extra.tsv"],
//	 "links": {"allow": ["example.com"], "deny": ["evil.com"], "deny_obfuscated": true},
//	 "rules": [{"stages": ["output"], "kinds": ["phone"], "action": "refuse"}],
//	 "mask": "partial"}
//
// Lexicon is "default" (or empty), "none", or a lexicon file; lexicon_merge
// files are merged over it (see MergeLexiconFile). Without rules the
// default policy's rules apply. Relative paths are read from the config
// file's directory.
type PolicyConfig struct {
	Lexicon      string     `json:"lexicon,omitempty"`
	LexiconMerge []string   `json:"lexicon_merge,omitempty"`
	Links        LinkPolicy `json:"links"`
	Rules        []Rule     `json:"rules,omitempty"`
	Mask         MaskStyle  `json:"mask"`
}

// LoadPolicy reads a PolicyConfig JSON file and builds the policy.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	var c PolicyConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("load policy %q: %w", path, err)
	}
	p, err := c.Build(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load policy %q: %w", path, err)
	}
	return p, nil
}

// Build makes the policy; dir resolves relative lexicon paths.
func (c PolicyConfig) Build(dir string) (*Policy, error) {
	resolve := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	p := DefaultPolicy()
	switch c.Lexicon {
	case "", "default":
	case "none":
		p.Lexicon = nil
	default:
		l, err := LoadLexicon(resolve(c.Lexicon))
		if err != nil {
			return nil, err
		}
		p.Lexicon = l
	}
	for _, m := range c.LexiconMerge {
		l, err := MergeLexiconFile(p.Lexicon, resolve(m))
		if err != nil {
			return nil, err
		}
		p.Lexicon = l
	}
	if err := c.Links.Validate(); err != nil {
		return nil, err
	}
	p.Links = c.Links
	if len(c.Rules) > 0 {
		p.Rules = c.Rules
	}
	p.Mask = c.Mask
	return p, nil
}
