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
			add(KindEmail, loc[0], loc[1], strings.ToLower(clean[loc[0]:loc[1]]))
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
		for _, g := range r.candidates() {
			if k, v := classifyNumber(g.digits); k != "" {
				a := g.start
				if k == KindPhone && a > 0 && clean[a-1] == '+' && strings.HasPrefix(g.digits, "86") {
					a--
				}
				add(k, a, g.end, v)
			}
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
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,63}`)
	ipv4RE  = regexp.MustCompile(`\d{1,3}(?:\.\d{1,3}){3}`)
	ipv6RE  = regexp.MustCompile(`[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*`)
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isIdentChar reports characters that glue an address to a longer token;
// '*' counts, so that text masked once is read the same way again.
func isIdentChar(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '*'
}

// digitRun is a maximal run of digits (and mask stars) joined by single
// spaces or dashes, possibly ending in an ID-card X.
type digitRun struct {
	groups []numGroup
	dead   bool // contains '*' or sits inside a decimal number
}

type numGroup struct {
	start, end int // clean byte offsets
	digits     string
	star       bool
}

func (r digitRun) candidates() []numGroup {
	if r.dead {
		return nil
	}
	whole := numGroup{start: r.groups[0].start, end: r.groups[len(r.groups)-1].end}
	var sb strings.Builder
	for _, g := range r.groups {
		sb.WriteString(g.digits)
		whole.star = whole.star || g.star
	}
	whole.digits = sb.String()
	if whole.star {
		return nil
	}
	if k, _ := classifyNumber(whole.digits); k != "" || len(r.groups) == 1 {
		return []numGroup{whole}
	}
	return r.groups
}

func digitRuns(s string) []digitRun {
	var runs []digitRun
	isNum := func(c byte) bool { return isDigit(c) || c == '*' }
	for i := 0; i < len(s); {
		if !isNum(s[i]) {
			i++
			continue
		}
		var run digitRun
		// "3.138…" and "1,381…": a run after a decimal point or digit
		// separator continues a number that started earlier.
		if i >= 2 && (s[i-1] == '.' || s[i-1] == ',') && isNum(s[i-2]) {
			run.dead = true
		}
		j := i
		for {
			g := numGroup{start: j}
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
			run.groups = append(run.groups, g)
			if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isNum(s[j+1]) && !strings.HasSuffix(g.digits, "X") {
				j++
				continue
			}
			break
		}
		if j+1 < len(s) && (s[j] == '.' || s[j] == ',') && isNum(s[j+1]) {
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
