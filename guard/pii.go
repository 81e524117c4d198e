package guard

import (
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind names what a finding is.
type Kind string

// Finding kinds.
const (
	KindLexicon  Kind = "lexicon"
	KindPhone    Kind = "phone"     // mainland China mobile number
	KindIDCard   Kind = "id_card"   // resident identity card number
	KindBankCard Kind = "bank_card" // payment card number passing Luhn
	KindEmail    Kind = "email"
	KindIPv4     Kind = "ipv4"
	KindIPv6     Kind = "ipv6"
	KindURL      Kind = "url"
)

// PII is personal data found in a text: [Start, End) are byte offsets into
// the original text, Value the normalized form (digits only for numbers).
type PII struct {
	Kind       Kind
	Start, End int
	Value      string
}

// FindPII runs every personal-data detector and returns the findings in
// text order. Numbers are judged as whole runs of digits (single spaces or
// dashes may group them), so a phone number inside a longer number is not
// one; where the whole run is nothing, its space-separated groups are tried
// one by one. Full-width digits count as digits, zero-width characters are
// ignored. A run that contains the mask character '*' is never reported,
// so masked text stays masked.
func FindPII(text string) []PII {
	m := foldedMap(text)
	clean := string(m.clean)
	var out []PII
	add := func(k Kind, a, b int, v string) {
		s, e := m.orig(a, b)
		out = append(out, PII{Kind: k, Start: s, End: e, Value: v})
	}
	findNumbers(clean, add)
	// The regular expressions run only where their anchor character occurs.
	if strings.Contains(clean, "@") {
		for _, loc := range emailRE.FindAllStringIndex(clean, -1) {
			addr := clean[loc[0]:loc[1]]
			if s, e := m.orig(loc[0], loc[1]); strings.ContainsAny(text[s:e], "[({<") {
				// Spelled out ("me [at] noon [dot] ok" is prose): only
				// with a known top-level domain.
				if !tlds[strings.ToLower(addr[strings.LastIndexByte(addr, '.')+1:])] {
					continue
				}
			}
			add(KindEmail, loc[0], loc[1], strings.ToLower(addr))
		}
	}
	if strings.Contains(clean, ".") {
		findIPv4(clean, add)
	}
	if strings.Count(clean, ":") >= 2 {
		findIPv6(clean, add)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

type addFunc func(k Kind, a, b int, value string)

func findNumbers(clean string, add addFunc) {
	for _, r := range digitRuns(clean) {
		for _, g := range r.candidates(clean) {
			a := g.start
			if g.kind == KindPhone && a > 0 && clean[a-1] == '+' && strings.HasPrefix(g.digits, "86") {
				a--
			}
			add(g.kind, a, g.end, g.value)
		}
	}
}

// findIPv4 accepts dotted quads that are not part of a longer dotted
// number such as a version string.
func findIPv4(clean string, add addFunc) {
	for _, loc := range ipv4RE.FindAllStringIndex(clean, -1) {
		a, b := loc[0], loc[1]
		if (a > 0 && (isDigit(clean[a-1]) || clean[a-1] == '.' || clean[a-1] == '*')) ||
			(b < len(clean) && (isDigit(clean[b]) || clean[b] == '*' || (clean[b] == '.' && b+1 < len(clean) && isDigit(clean[b+1])))) {
			continue
		}
		if ip, err := netip.ParseAddr(clean[a:b]); err == nil && ip.Is4() {
			add(KindIPv4, a, b, ip.String())
		}
	}
}

// findIPv6 takes runs of hex digits, colons and dots and keeps those that
// parse as IPv6 and stand alone (not "std::vector", not a clock time).
func findIPv6(clean string, add addFunc) {
	for _, loc := range ipv6RE.FindAllStringIndex(clean, -1) {
		a, b := loc[0], loc[1]
		for b > a && (clean[b-1] == '.' || (clean[b-1] == ':' && !strings.HasSuffix(clean[a:b], "::"))) {
			b--
		}
		if strings.Count(clean[a:b], ":") < 2 || (a > 0 && isIdentChar(clean[a-1])) || (b < len(clean) && isIdentChar(clean[b])) {
			continue
		}
		if !strings.ContainsAny(clean[a:b], "0123456789abcdefABCDEF") {
			continue
		}
		if ip, err := netip.ParseAddr(clean[a:b]); err == nil && ip.Is6() {
			add(KindIPv6, a, b, ip.String())
		}
	}
}

var (
	// An address: a local part of ASCII letters, digits and ._%+- (at
	// most 64), or of up to 16 CJK, Cyrillic or Greek letters (张三@例子.中国;
	// not mixed, so "邮箱zhang@…" starts at z), and a domain with a
	// Latin, Punycode or Chinese top-level label.
	emailRE = regexp.MustCompile(`(?:[A-Za-z0-9._%+\-]{1,64}|[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Cyrillic}\p{Greek}]{1,16})@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9\-]{1,59}|\p{Han}{2,8})`)
	ipv4RE  = regexp.MustCompile(`\d{1,3}(?:\.\d{1,3}){3}`)
	ipv6RE  = regexp.MustCompile(`[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*`)
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isIdentChar reports characters that glue an address to a longer token;
// '*' counts, so that text masked once is read the same way again.
func isIdentChar(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '*'
}

// digitRun is a maximal run of digit groups (and mask stars) joined by
// separators of one or two characters (space, '-', '.', '/', and runs of
// two such as "  " or "--"), possibly ending in an ID-card X. Phone
// numbers, IDs and cards are written with such separators, dates,
// versions and decimals too; what is reported is decided by validation.
type digitRun struct {
	groups []numGroup
	dead   bool // contains '*' or sits inside a number with ',' grouping
}

type numGroup struct {
	start, end int    // clean byte offsets
	digits     string // digits (X for a final ID check character)
	star       bool
	sep        string // the separator before this group ("" for the first)
	paren      bool   // written "(010)", brackets around the group
}

// numCandidate is a validated number inside a run.
type numCandidate struct {
	start, end int
	digits     string
	kind       Kind
	value      string
}

// candidates returns the numbers a run holds, left to right, without
// overlaps. A run is cut into stretches joined by one separator each: a
// stretch that is a number as a whole counts (138.0013.8000, 110105--
// 19491231002X, +86 138 0013 8000); where it is not and its separator is
// a space or dash, each group counts on its own ("订单2023 13812345678");
// '.' and '/' join only stretches of three groups or more of three
// digits or more, so decimals (13.800138000), versions and two-part
// numbers are never read as one. A landline
// is an area code 0XX or 0XXX followed by a subscriber number of one
// group or two.
func (r digitRun) candidates(clean string) []numCandidate {
	if r.dead {
		return nil
	}
	var out []numCandidate
	try := func(from, to int) bool { // groups[from:to] as one number
		var sb strings.Builder
		for _, g := range r.groups[from:to] {
			if g.star {
				return false
			}
			sb.WriteString(g.digits)
		}
		k, v := classifyNumber(sb.String())
		if k == "" {
			return false
		}
		c := numCandidate{start: r.groups[from].start, end: r.groups[to-1].end, digits: sb.String(), kind: k, value: v}
		if k == KindPhone && len(c.digits) == 11 && from > 0 && r.groups[from-1].digits == "86" {
			// "+86 138-1234-5678": the country code, whatever separates it.
			c.start, c.digits = r.groups[from-1].start, "86"+c.digits
		}
		out = append(out, c)
		return true
	}
	n := len(r.groups)
	decimal := -1 // the last group of a dotted stretch that was no number
	for i := 0; i < n; {
		// The stretch from i on with one separator.
		j := i + 1
		for j < n && (j == i+1 || r.groups[j].sep == r.groups[i+1].sep) {
			j++
		}
		sep := ""
		if j > i+1 {
			sep = r.groups[i+1].sep
		}
		dotted := strings.ContainsAny(sep, "./")
		if l := landline(r.groups[i:min(i+3, n)]); l > 0 {
			g := r.groups[i : i+l]
			var sb strings.Builder
			for _, x := range g {
				sb.WriteString(x.digits)
			}
			start := g[0].start
			if g[0].paren {
				start-- // the '(' of the area code
			}
			out = append(out, numCandidate{start: start, end: g[l-1].end, digits: sb.String(), kind: KindPhone, value: sb.String()})
			i += l
			continue
		}
		if (!dotted || j-i >= 3 && minGroup(r.groups[i:j]) >= 3) && (j > i+1 || i != decimal) && try(i, j) {
			i = j
			continue
		}
		if !dotted && j > i+1 {
			// Group by group, up to the last one, which may begin the
			// next stretch.
			for k := i; k < j-1; k++ {
				if k != decimal {
					try(k, k+1)
				}
			}
			i = j - 1
			continue
		}
		if j == i+1 {
			if i != decimal {
				try(i, j)
			}
			i = j
			continue
		}
		// A dotted stretch that is no number (3.13812345678): its last
		// group may begin the next stretch, but is not a number alone.
		i, decimal = j-1, j-1
	}
	return out
}

func minGroup(gs []numGroup) int {
	n := len(gs[0].digits)
	for _, g := range gs[1:] {
		n = min(n, len(g.digits))
	}
	return n
}

// landline reports how many of gs (1 to 3) make a mainland landline
// number: an area code written apart (0 then 2 or 3 digits: 010, 021,
// 0755) and a 7- or 8-digit subscriber number that does not start with 0,
// in one group or in two. It returns 0 when they do not.
func landline(gs []numGroup) int {
	if len(gs) < 2 {
		return 0
	}
	area := gs[0].digits
	if gs[0].star || len(area) < 3 || len(area) > 4 || area[0] != '0' || !allDigits(area) {
		return 0
	}
	// 010 and 02X have three digits; the other codes four.
	if short := area[1] == '1' || area[1] == '2'; short != (len(area) == 3) {
		return 0
	}
	if strings.ContainsAny(gs[1].sep, "./") {
		return 0
	}
	for l := min(len(gs), 3); l >= 2; l-- {
		var sub strings.Builder
		ok := true
		for _, g := range gs[1:l] {
			ok = ok && !g.star && allDigits(g.digits)
			sub.WriteString(g.digits)
		}
		if l == 3 && (gs[2].sep != gs[1].sep && !gs[0].paren || len(gs[1].digits) < 3 || len(gs[2].digits) != 4) {
			continue
		}
		d := sub.String()
		if ok && (len(d) == 7 || len(d) == 8) && d[0] != '0' {
			return l
		}
	}
	return 0
}

// isNumSep reports separators that may join digit groups.
func isNumSep(c byte) bool { return c == ' ' || c == '-' || c == '.' || c == '/' }

func digitRuns(s string) []digitRun {
	var runs []digitRun
	isNum := func(c byte) bool { return isDigit(c) || c == '*' }
	for i := 0; i < len(s); {
		if !isNum(s[i]) {
			i++
			continue
		}
		var run digitRun
		// "1,381…": a run after a digit separator continues a number
		// that started earlier.
		if i >= 2 && s[i-1] == ',' && isNum(s[i-2]) {
			run.dead = true
		}
		j := i
		sep := ""
		for {
			g := numGroup{start: j, sep: sep}
			var sb strings.Builder
			for j < len(s) && isNum(s[j]) {
				if s[j] == '*' {
					g.star = true
				}
				sb.WriteByte(s[j])
				j++
			}
			if j < len(s) && (s[j] == 'X' || s[j] == 'x') && (j+1 >= len(s) || !isIdentChar(s[j+1])) {
				sb.WriteByte('X')
				j++
			}
			g.end, g.digits = j, sb.String()
			// "(010) 6234 5678": the area code in brackets.
			k := j
			if g.start > 0 && s[g.start-1] == '(' && k < len(s) && s[k] == ')' {
				g.paren = true
				k++
			}
			run.groups = append(run.groups, g)
			e := k
			for e < len(s) && e-k < 2 && isNumSep(s[e]) {
				e++
			}
			if (e > k || g.paren) && e < len(s) && isNum(s[e]) && !strings.HasSuffix(g.digits, "X") && (e-k < 2 || s[e-1] == s[k]) {
				sep, j = s[j:e], e
				continue
			}
			break
		}
		if j+1 < len(s) && s[j] == ',' && isNum(s[j+1]) {
			run.dead = true
		}
		runs = append(runs, run)
		i = j
	}
	return runs
}

// classifyNumber decides what a digit string is, most specific first: a
// resident ID (checksum and birth date), a mobile number, a bank card.
func classifyNumber(d string) (Kind, string) {
	switch {
	case ValidResidentID(d):
		return KindIDCard, d
	case ValidMobile(d):
		return KindPhone, d
	case len(d) == 13 && strings.HasPrefix(d, "86") && ValidMobile(d[2:]):
		return KindPhone, d[2:]
	case len(d) >= 13 && len(d) <= 19 && d[0] >= '2' && d[0] <= '6' && LuhnValid(d):
		return KindBankCard, d
	}
	return "", ""
}

// ValidMobile reports a mainland China mobile number: 11 digits, 1 then 3–9.
func ValidMobile(d string) bool {
	if len(d) != 11 || d[0] != '1' || d[1] < '3' || d[1] > '9' {
		return false
	}
	return allDigits(d)
}

func allDigits(d string) bool {
	for i := 0; i < len(d); i++ {
		if !isDigit(d[i]) {
			return false
		}
	}
	return len(d) > 0
}

// LuhnValid reports whether a digit string passes the Luhn (mod 10) check
// used by payment card numbers.
func LuhnValid(d string) bool {
	if len(d) < 2 || !allDigits(d) {
		return false
	}
	sum := 0
	for i := 0; i < len(d); i++ {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// idWeights are the ISO 7064 MOD 11-2 weights 2^(17−i) mod 11 of GB 11643.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// IDCheckDigit computes the check character of an 18-digit resident ID
// from its first 17 digits.
func IDCheckDigit(first17 string) (byte, bool) {
	if len(first17) != 17 || !allDigits(first17) {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11], true
}

// provinceCodes are the first two digits of mainland, Taiwan, Hong Kong and
// Macao administrative division codes.
var provinceCodes = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// ValidResidentID checks an 18-digit resident ID (province code, birth date
// not in the future, check digit; a final x is accepted as X) or a 15-digit
// first-generation one (province code, birth date in 19xx).
func ValidResidentID(id string) bool {
	switch len(id) {
	case 18:
		id = strings.ToUpper(id)
		if !provinceCodes[id[:2]] || !validBirth(id[6:14]) {
			return false
		}
		c, ok := IDCheckDigit(id[:17])
		return ok && c == id[17]
	case 15:
		return allDigits(id) && provinceCodes[id[:2]] && validBirth("19"+id[6:12])
	}
	return false
}

func validBirth(yyyymmdd string) bool {
	if !allDigits(yyyymmdd) {
		return false
	}
	t, err := time.Parse("20060102", yyyymmdd)
	if err != nil || t.Year() < 1900 || t.After(time.Now()) {
		return false
	}
	return strconv.Itoa(t.Year()) == yyyymmdd[:4]
}

// chineseDigit returns the value of a Chinese numeral digit as people
// write phone numbers (一三八…, 〇 and 零 for zero, 幺 for one as it is
// read aloud), or -1.
func chineseDigit(r rune) int {
	switch r {
	case '〇', '零':
		return 0
	case '一', '幺':
		return 1
	case '二':
		return 2
	case '三':
		return 3
	case '四':
		return 4
	case '五':
		return 5
	case '六':
		return 6
	case '七':
		return 7
	case '八':
		return 8
	case '九':
		return 9
	}
	return -1
}
