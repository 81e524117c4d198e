package guard

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Action is what a policy does with text; higher is stricter.
type Action int

// Actions.
const (
	Allow  Action = iota // pass the text unchanged
	Mask                 // pass it with the findings masked
	Refuse               // do not pass it
)

var actionNames = []string{"allow", "mask", "refuse"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// MarshalText writes the action's name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads "allow", "mask" or "refuse".
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if string(b) == n {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("guard: unknown action %q (use allow, mask or refuse)", b)
}

// Stage is where text meets the model.
type Stage int

// Stages.
const (
	StageInput     Stage = iota // the user's prompt
	StageOutput                 // the model's answer
	StageRetrieved              // passages retrieved for RAG
)

var stageNames = []string{"input", "output", "retrieved"}

func (s Stage) String() string {
	if s >= 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// MarshalText writes the stage's name.
func (s Stage) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "input", "output" or "retrieved".
func (s *Stage) UnmarshalText(b []byte) error {
	for i, n := range stageNames {
		if string(b) == n {
			*s = Stage(i)
			return nil
		}
	}
	return fmt.Errorf("guard: unknown stage %q (use input, output or retrieved)", b)
}

// Finding is one thing a policy found. Category is the lexicon category
// for KindLexicon and the link verdict for KindURL; Detail the normalized
// value (digits, lowercased e-mail, ASCII host). Action is set by Check.
type Finding struct {
	Kind     Kind   `json:"kind"`
	Category string `json:"category,omitempty"`
	Start    int    `json:"start"`
	End      int    `json:"end"`
	Text     string `json:"text"`
	Detail   string `json:"detail,omitempty"`
	Action   Action `json:"action"`
	// cut marks a finding clipped to one part of a stream: masked with
	// stars whatever the style, as a partial mask of a piece would
	// show more than one of the whole.
	cut bool
}

// Rule maps findings to an action; empty lists match anything.
type Rule struct {
	Stages     []Stage  `json:"stages,omitempty"`
	Kinds      []Kind   `json:"kinds,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Action     Action   `json:"action"`
}

func (r Rule) matches(stage Stage, f Finding) bool {
	return (len(r.Stages) == 0 || contains(r.Stages, stage)) &&
		(len(r.Kinds) == 0 || contains(r.Kinds, f.Kind)) &&
		(len(r.Categories) == 0 || contains(r.Categories, f.Category))
}

func contains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// MaskStyle chooses how masked spans are written.
type MaskStyle int

// Mask styles.
const (
	// MaskStars replaces every character with '*'.
	MaskStars MaskStyle = iota
	// MaskPartial keeps what people commonly show: a phone's first 3 and
	// last 4 digits, an ID's first 6 and last 4, a card's last 4, an
	// e-mail's first character and domain; everything else becomes '*'.
	MaskPartial
	// MaskLabel writes the kind in brackets: [PHONE], [LEXICON:DRUGS].
	MaskLabel
)

// PIIKinds are the personal-data finding kinds.
var PIIKinds = []Kind{KindPhone, KindIDCard, KindBankCard, KindEmail, KindIPv4, KindIPv6}

// Policy applies the lexicon, the PII detectors and the link policy to a
// text and maps each finding to an action by the first matching rule
// (none matching: allow). A Policy is safe for concurrent use once built.
type Policy struct {
	Lexicon *Lexicon // nil: no lexicon
	Links   LinkPolicy
	Rules   []Rule
	Mask    MaskStyle
}

// DefaultPolicy uses the default lexicon and refuses its terms in prompts
// and answers, masks them in retrieved passages, masks personal data in
// answers and passages (a user may give their own number in a prompt), and
// masks denied links everywhere. Its link lists are empty; add your own.
func DefaultPolicy() *Policy {
	return &Policy{
		Lexicon: DefaultLexicon(),
		Rules: []Rule{
			{Stages: []Stage{StageInput, StageOutput}, Kinds: []Kind{KindLexicon}, Action: Refuse},
			{Stages: []Stage{StageRetrieved}, Kinds: []Kind{KindLexicon}, Action: Mask},
			{Kinds: []Kind{KindURL}, Categories: []string{LinkDenied}, Action: Mask},
			{Stages: []Stage{StageOutput, StageRetrieved}, Kinds: PIIKinds, Action: Mask},
		},
	}
}

// Scan returns every finding in text order, without actions.
func (p *Policy) Scan(text string) []Finding {
	var out []Finding
	if p.Lexicon != nil {
		for _, m := range p.Lexicon.FindAll(text) {
			out = append(out, Finding{Kind: KindLexicon, Category: m.Category, Start: m.Start, End: m.End, Text: text[m.Start:m.End], Detail: m.Term})
		}
	}
	for _, f := range FindPII(text) {
		out = append(out, Finding{Kind: f.Kind, Start: f.Start, End: f.End, Text: text[f.Start:f.End], Detail: f.Value})
	}
	for _, l := range p.Links.FindLinks(text) {
		out = append(out, Finding{Kind: KindURL, Category: p.Links.Verdict(l), Start: l.Start, End: l.End, Text: text[l.Start:l.End], Detail: l.Host})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].End > out[j].End
	})
	return out
}

// Result is the outcome of Check: the strictest action of the findings,
// the text with every finding whose action is Mask or Refuse masked, and
// the findings with their actions.
type Result struct {
	Action   Action    `json:"action"`
	Text     string    `json:"text"`
	Findings []Finding `json:"findings,omitempty"`
}

// Check applies the policy to text at a stage.
func (p *Policy) Check(stage Stage, text string) Result {
	fs := p.Scan(text)
	res := Result{Action: Allow, Findings: fs}
	var masked []Finding
	for i := range fs {
		fs[i].Action = Allow
		for _, r := range p.Rules {
			if r.matches(stage, fs[i]) {
				fs[i].Action = r.Action
				break
			}
		}
		res.Action = max(res.Action, fs[i].Action)
		if fs[i].Action >= Mask {
			masked = append(masked, fs[i])
		}
	}
	res.Text = p.apply(text, masked)
	return res
}

// Redact masks every finding except links that are not denied, whatever
// the rules say, and returns the masked text with all findings. With
// MaskStars and MaskPartial, redacting twice changes nothing more.
func (p *Policy) Redact(text string) (string, []Finding) {
	fs := p.Scan(text)
	var masked []Finding
	for i := range fs {
		if fs[i].Kind == KindURL && fs[i].Category != LinkDenied {
			continue
		}
		fs[i].Action = Mask
		masked = append(masked, fs[i])
	}
	return p.apply(text, masked), fs
}

// Redact masks personal data, default-lexicon terms and nothing else, with
// stars: DefaultPolicy().Redact.
func Redact(text string) (string, []Finding) { return DefaultPolicy().Redact(text) }

// kindRank orders kinds for labels when masked spans overlap.
var kindRank = map[Kind]int{KindIDCard: 0, KindBankCard: 1, KindPhone: 2, KindEmail: 3, KindIPv4: 4, KindIPv6: 5, KindURL: 6, KindLexicon: 7}

// apply masks the union of the findings' spans.
func (p *Policy) apply(text string, fs []Finding) string {
	if len(fs) == 0 {
		return text
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
	var sb strings.Builder
	sb.Grow(len(text))
	pos := 0
	for i := 0; i < len(fs); {
		start, end := fs[i].Start, fs[i].End
		group := []Finding{fs[i]}
		j := i + 1
		for j < len(fs) && fs[j].Start < end {
			end = max(end, fs[j].End)
			group = append(group, fs[j])
			j++
		}
		sb.WriteString(text[pos:start])
		sb.WriteString(p.maskSpan(text[start:end], group))
		pos = end
		i = j
	}
	sb.WriteString(text[pos:])
	return sb.String()
}

func (p *Policy) maskSpan(span string, group []Finding) string {
	switch p.Mask {
	case MaskLabel:
		best := group[0]
		for _, f := range group[1:] {
			if kindRank[f.Kind] < kindRank[best.Kind] {
				best = f
			}
		}
		label := strings.ToUpper(string(best.Kind))
		if best.Kind == KindLexicon {
			label += ":" + strings.ToUpper(best.Category)
		}
		return "[" + label + "]"
	case MaskPartial:
		if len(group) == 1 && !group[0].cut {
			return partialMask(span, group[0].Kind)
		}
	}
	return strings.Repeat("*", utf8.RuneCountInString(span))
}

// partialMask keeps the leading and trailing characters people usually
// show; digits are counted, separators are kept.
func partialMask(span string, k Kind) string {
	keepFirst, keepLast := 0, 0
	switch k {
	case KindPhone:
		keepFirst, keepLast = 3, 4
	case KindIDCard:
		keepFirst, keepLast = 6, 4
	case KindBankCard:
		keepLast = 4
	case KindEmail:
		at := strings.LastIndexByte(span, '@')
		if at <= 0 {
			break
		}
		r, size := utf8.DecodeRuneInString(span)
		return string(r) + strings.Repeat("*", utf8.RuneCountInString(span[size:at])) + span[at:]
	}
	if keepFirst == 0 && keepLast == 0 {
		return strings.Repeat("*", utf8.RuneCountInString(span))
	}
	// Count digit-like characters (ASCII or full-width digits, and X).
	rs := []rune(span)
	isD := func(r rune) bool {
		return r >= '0' && r <= '9' || r >= '０' && r <= '９' || r == 'X' || r == 'x' || r == 'Ｘ' || chineseDigit(r) >= 0
	}
	n := 0
	for _, r := range rs {
		if isD(r) {
			n++
		}
	}
	// A +86 prefix is not part of the number shown.
	skip := 0
	if k == KindPhone && n == 13 {
		skip = 2
	}
	var sb strings.Builder
	d := 0
	for _, r := range rs {
		if !isD(r) {
			sb.WriteRune(r) // separators and a leading '+' stay
			continue
		}
		idx := d - skip
		d++
		if idx >= 0 && (idx < keepFirst || idx >= n-skip-keepLast) || idx < 0 {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('*')
		}
	}
	return sb.String()
}
