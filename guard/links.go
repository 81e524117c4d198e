package guard

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Link is a URL or bare domain found in a text. [Start, End) are byte
// offsets into the original text; URL is the de-obfuscated form, Host its
// domain in ASCII (Punycode) or an IP address.
type Link struct {
	Start, End int
	URL        string
	Host       string
	// Obfuscated is set when the original was written to dodge link
	// detection: hxxp://, example[.]com, example(dot)com, full-width or
	// ideographic dots, dots with spaces around them.
	Obfuscated bool
}

// Link verdicts of a LinkPolicy.
const (
	LinkAllowed  = "allowed"
	LinkDenied   = "denied"
	LinkUnlisted = "unlisted"
)

// LinkPolicy decides about links by domain. A list entry matches its domain
// and every subdomain ("example.com" covers "www.example.com", not
// "badexample.com"); IP addresses match exactly. The longest matching entry
// decides; on a tie, deny wins.
type LinkPolicy struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
	// DenyUnlisted denies domains on neither list (allow-list mode).
	DenyUnlisted bool `json:"deny_unlisted,omitempty"`
	// DenyObfuscated denies obfuscated links that are not allow-listed: a
	// link disguised as plain text is rarely benign.
	DenyObfuscated bool `json:"deny_obfuscated,omitempty"`
}

// Verdict says whether the policy allows a link.
func (p LinkPolicy) Verdict(l Link) string {
	allow, deny := longestMatch(l.Host, p.Allow), longestMatch(l.Host, p.Deny)
	switch {
	case deny > 0 && deny >= allow:
		return LinkDenied
	case allow > 0:
		return LinkAllowed
	case p.DenyUnlisted, p.DenyObfuscated && l.Obfuscated:
		return LinkDenied
	}
	return LinkUnlisted
}

// longestMatch returns the length of the longest entry matching host, or 0.
func longestMatch(host string, entries []string) int {
	best := 0
	for _, e := range entries {
		d, err := DomainToASCII(strings.TrimSpace(e))
		if err != nil {
			continue
		}
		if (host == d || strings.HasSuffix(host, "."+d)) && len(d) > best {
			best = len(d)
		}
	}
	return best
}

// tlds are the top-level domains a bare domain (one without a scheme or
// "www.") must end in to count as a link. Country codes that are common
// file extensions (md, py, sh, rs, pl) are left out on purpose; the TLDs of
// a policy's own list entries are added when it searches.
var tlds = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`com net org edu gov mil int info biz name pro io ai co app dev
		cloud xyz top site online shop store tech me tv cc ws us uk cn hk tw mo jp kr sg de fr ru
		in br au ca es it nl se no ch eu asia mobi club vip work live news link wang ltd group
		xn--fiqs8s xn--fiqz9s xn--55qx5d xn--io0a7i xn--3ds443g xn--ses554g xn--czru2d
		中国 中國 公司 网络 网址 在线 商城 香港 台湾 台灣`) {
		tlds[t] = true
	}
}

var (
	schemeURLRE = regexp.MustCompile("(?i)\\b(?:https?|ftp)://[^\\s<>\"'`，。；！？、）】」《》（【「]+")
	// A label is ASCII, Latin with diacritics, or Han; the last label is
	// the TLD. Mixed Han-and-ASCII labels are not recognized without a
	// scheme, since Chinese prose runs into them.
	bareDomainRE = regexp.MustCompile(`(?i)(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|[\p{Latin}0-9][\p{Latin}0-9-]*|\p{Han}+)\.)+(?:xn--[a-z0-9-]{1,59}|[a-z]{2,63}|\p{Latin}{2,63}|\p{Han}{2,})(?::\d{1,5})?(?:/[^\s<>"'，。；！？、）】」《》（【「]*)?`)
)

// dotForms are spellings of "." used to hide domains; matched without
// regard to case.
var dotForms = []string{"[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}", "<dot>", "【.】", "（.）", "[点]", "(点)", "（点）", "【点】"}

// deobfuscate rewrites the disguised forms back to plain URL syntax,
// recording where each byte came from; changed reports whether it did.
func deobfuscate(text string) (m *textMap, changed bool) {
	m = newTextMap(len(text))
	lastASCIIWord := func() bool {
		return len(m.clean) > 0 && isHostByte(m.clean[len(m.clean)-1])
	}
	for i := 0; i < len(text); {
		rest := text[i:]
		if len(rest) >= 4 && strings.EqualFold(rest[:4], "hxxp") && (strings.HasPrefix(rest[4:], "://") || strings.HasPrefix(rest[4:], "s://") || strings.HasPrefix(rest[4:], "[:]//") || strings.HasPrefix(rest[4:], "s[:]//")) {
			m.replace("http", i, i+4)
			i += 4
			changed = true
			continue
		}
		if strings.HasPrefix(rest, "[:]") {
			m.replace(":", i, i+3)
			i += 3
			changed = true
			continue
		}
		if dot := matchDotForm(rest); dot > 0 && lastWordRune(m) {
			// Spaces around a disguised dot go too: "example [.] com".
			from := i - m.trimTrailingSpaces()
			i += dot
			for i < len(text) && text[i] == ' ' {
				i++
			}
			m.replace(".", from, i)
			changed = true
			continue
		}
		r, size := utf8.DecodeRuneInString(rest)
		switch {
		case isInvisible(r):
			m.replace("", i, i+size)
			i += size
			continue
		case (r == '。' || r == '｡' || r == '．') && lastASCIIWord():
			if next, _ := utf8.DecodeRuneInString(text[i+size:]); next < utf8.RuneSelf && isHostByte(byte(next)) || next >= 0xFF10 && next <= 0xFF5A {
				m.replace(".", i, i+size)
				i += size
				changed = true
				continue
			}
		case r == ' ' && lastASCIIWord():
			if n := spacedDot(text[i:]); n > 0 {
				m.replace(".", i, i+n)
				i += n
				changed = true
				continue
			}
		case r >= 0xFF10 && r <= 0xFF1A || r >= 0xFF21 && r <= 0xFF3A || r >= 0xFF41 && r <= 0xFF5A || r == 0xFF0F || r == 0xFF0D:
			// Full-width letters, digits, ':', '/' and '-' spell URLs;
			// full-width punctuation such as '，' ends them, so it stays.
			m.replaceRune(r-0xFF01+'!', i, i+size)
			i += size
			continue
		}
		m.copyStr(text[i : i+size])
		i += size
	}
	return m, changed
}

// lastWordRune reports whether the copy so far ends, spaces aside, in a
// letter or digit of any script: a disguised dot must follow a label.
func lastWordRune(m *textMap) bool {
	b := m.clean
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	r, _ := utf8.DecodeLastRune(b)
	return len(b) > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

func matchDotForm(s string) int {
	switch s[0] {
	case '[', '(', '{', '<', 0xE3, 0xEF: // ASCII brackets, 【 and （
	default:
		return 0
	}
	for _, f := range dotForms {
		if len(s) >= len(f) && strings.EqualFold(s[:len(f)], f) {
			return len(f)
		}
	}
	return 0
}

// spacedDot matches " . com"-style gaps: spaces, a period, spaces (at
// least one space in all), then a label that is a known TLD. It returns
// the bytes up to the label.
func spacedDot(s string) int {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '.' {
		return 0
	}
	i++
	j := i
	for j < len(s) && s[j] == ' ' {
		j++
	}
	k := j
	for k < len(s) && isHostByte(s[k]) && s[k] != '-' {
		k++
	}
	if k == j || !tlds[strings.ToLower(s[j:k])] {
		return 0
	}
	return j
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// FindLinks finds URLs with a scheme and bare domains with a known TLD,
// after undoing common obfuscations. Domains of e-mail addresses are not
// links.
func FindLinks(text string) []Link { return findLinks(text, nil) }

func findLinks(text string, extraTLDs map[string]bool) []Link {
	m, _ := deobfuscate(text)
	clean := string(m.clean)
	var out []Link
	taken := make([]bool, len(clean)+1)
	emit := func(a, b int, raw, host string, mustKnowTLD bool) {
		ascii, ok := normalizeHost(host)
		if !ok {
			return
		}
		if mustKnowTLD && !strings.HasPrefix(ascii, "www.") {
			tld := ascii[strings.LastIndexByte(ascii, '.')+1:]
			if !tlds[tld] && !extraTLDs[tld] {
				return
			}
		}
		s, e := m.orig(a, b)
		obf := text[s:e] != raw
		out = append(out, Link{Start: s, End: e, URL: raw, Host: ascii, Obfuscated: obf})
		for k := a; k < b; k++ {
			taken[k] = true
		}
	}
	if !strings.Contains(clean, ".") {
		return nil // every URL and domain has a dot once de-obfuscated
	}
	for _, loc := range schemeURLRE.FindAllStringIndex(clean, -1) {
		a, b := loc[0], trimURLEnd(clean, loc[0], loc[1])
		u, err := url.Parse(clean[a:b])
		if err != nil || u.Hostname() == "" {
			continue
		}
		emit(a, b, clean[a:b], u.Hostname(), false)
	}
	for _, loc := range bareDomainRE.FindAllStringIndex(clean, -1) {
		a, b := loc[0], trimURLEnd(clean, loc[0], loc[1])
		if taken[a] || (a > 0 && (clean[a-1] == '@' || clean[a-1] == '.' || clean[a-1] == '*' || isHostByte(clean[a-1]) && clean[a-1] != '-')) {
			continue
		}
		raw := clean[a:b]
		host := raw
		if k := strings.IndexAny(host, ":/"); k >= 0 {
			host = host[:k]
		}
		// A Han TLD in running Chinese text swallows the words after it:
		// cut it back to the longest known IDN TLD it starts with.
		if dot := strings.LastIndexByte(host, '.'); dot >= 0 {
			tld := host[dot+1:]
			if r, _ := utf8.DecodeRuneInString(tld); unicode.Is(unicode.Han, r) && !tlds[tld] {
				cut := ""
				for t := range tlds {
					if strings.HasPrefix(tld, t) && len(t) > len(cut) {
						cut = t
					}
				}
				if cut == "" {
					continue
				}
				b = a + dot + 1 + len(cut)
				raw, host = clean[a:b], clean[a:b]
			}
		}
		emit(a, b, raw, host, true)
	}
	sortLinks(out)
	return out
}

func sortLinks(ls []Link) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Start < ls[j-1].Start; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// trimURLEnd drops sentence punctuation that follows a URL; a closing
// bracket stays when the URL opened one.
func trimURLEnd(s string, a, b int) int {
	for b > a {
		c := s[b-1]
		switch {
		case strings.IndexByte(".,;:!?'\"", c) >= 0:
			b--
			continue
		case c == ')' && strings.Count(s[a:b], "(") < strings.Count(s[a:b], ")"):
			b--
			continue
		case c == ']' && strings.Count(s[a:b], "[") < strings.Count(s[a:b], "]"):
			b--
			continue
		}
		break
	}
	return b
}

func normalizeHost(host string) (string, bool) {
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.String(), true
	}
	ascii, err := DomainToASCII(host)
	if err != nil || !strings.Contains(ascii, ".") {
		return "", false
	}
	return ascii, true
}

// policyTLDs returns the TLDs named by a policy's entries, so bare mentions
// of a listed domain are found even under an unusual TLD.
func (p LinkPolicy) policyTLDs() map[string]bool {
	out := map[string]bool{}
	for _, e := range append(append([]string(nil), p.Allow...), p.Deny...) {
		if d, err := DomainToASCII(strings.TrimSpace(e)); err == nil {
			out[d[strings.LastIndexByte(d, '.')+1:]] = true
		}
	}
	return out
}

// FindLinks finds links as the package function does, also recognizing
// bare domains under the TLDs of the policy's own entries.
func (p LinkPolicy) FindLinks(text string) []Link { return findLinks(text, p.policyTLDs()) }

// Validate checks that every list entry is a domain or IP address.
func (p LinkPolicy) Validate() error {
	for _, e := range append(append([]string(nil), p.Allow...), p.Deny...) {
		if _, ok := normalizeHost(strings.TrimSpace(e)); !ok {
			if _, err := DomainToASCII(strings.TrimSpace(e)); err != nil {
				return fmt.Errorf("link policy: %q is not a domain or IP address", e)
			}
		}
	}
	return nil
}
