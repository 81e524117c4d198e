package guard

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Punycode parameters of RFC 3492 section 5.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
)

// punycodeEncode encodes one label's code points (RFC 3492 section 6.3).
func punycodeEncode(label string) (string, error) {
	input := []rune(label)
	var out strings.Builder
	for _, r := range input {
		if r < 0x80 {
			out.WriteRune(r)
		}
	}
	b := out.Len()
	h := b
	if b > 0 {
		out.WriteByte('-')
	}
	n, delta, bias := rune(pcInitialN), 0, pcInitialBias
	for h < len(input) {
		m := rune(utf8.MaxRune + 1)
		for _, r := range input {
			if r >= n && r < m {
				m = r
			}
		}
		if int(m-n) > (1<<31-1-delta)/(h+1) {
			return "", fmt.Errorf("punycode: overflow in %q", label)
		}
		delta += int(m-n) * (h + 1)
		n = m
		for _, r := range input {
			if r < n {
				delta++
			}
			if r != n {
				continue
			}
			q := delta
			for k := pcBase; ; k += pcBase {
				t := k - bias
				if t < pcTMin {
					t = pcTMin
				} else if t > pcTMax {
					t = pcTMax
				}
				if q < t {
					break
				}
				out.WriteByte(punyDigit(t + (q-t)%(pcBase-t)))
				q = (q - t) / (pcBase - t)
			}
			out.WriteByte(punyDigit(q))
			bias = punyAdapt(delta, h+1, h == b)
			delta = 0
			h++
		}
		delta++
		n++
	}
	return out.String(), nil
}

func punyDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}

func punyAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// DomainToASCII lowercases a domain name, folds compatibility forms
// (NFKC: full-width letters, ideographic full stops become ASCII), and
// encodes non-ASCII labels as "xn--" Punycode, so that 例子.中国 and
// xn--fsqu00a.xn--fiqs8s compare equal. A trailing dot is dropped.
func DomainToASCII(domain string) (string, error) {
	d := strings.ToLower(norm.NFKC.String(domain))
	d = strings.NewReplacer("。", ".", "｡", ".").Replace(d)
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", fmt.Errorf("domain: empty name")
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if l == "" {
			return "", fmt.Errorf("domain %q: empty label", domain)
		}
		ascii := true
		for j := 0; j < len(l); j++ {
			ascii = ascii && l[j] < 0x80
		}
		if ascii {
			continue
		}
		enc, err := punycodeEncode(l)
		if err != nil {
			return "", err
		}
		labels[i] = "xn--" + enc
	}
	return strings.Join(labels, "."), nil
}
