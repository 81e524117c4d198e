package tokenizer

import "unicode/utf8"

// GPT-2's byte-level trick: every byte maps to a printable rune so BPE
// tokens are ordinary strings. Printable Latin-1 bytes map to themselves,
// the others to U+0100 upward in byte order.
var (
	byteToRune [256]rune
	// byteStr[b] is byteToRune[b] as a UTF-8 string, to build keys without
	// encoding runes again.
	byteStr [256]string
	// runeByte maps a byte-level rune back to its byte (every mapped
	// rune is below 324); runeByteOK marks the mapped ones.
	runeByte   [324]byte
	runeByteOK [324]bool
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeByte[byteToRune[b]], runeByteOK[byteToRune[b]] = byte(b), true
		byteStr[b] = string(byteToRune[b])
	}
}

// byteLevelEncode maps raw bytes to their byte-level string.
func byteLevelEncode(s string) string {
	buf := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		buf = utf8.AppendRune(buf, byteToRune[s[i]])
	}
	return string(buf)
}

// byteLevelDecode maps a byte-level token string back to raw bytes. A rune
// outside the table (a hand-edited vocabulary) is kept as its UTF-8, as
// the reference decoder does.
func byteLevelDecode(tok string) []byte {
	return appendByteLevelDecode(make([]byte, 0, len(tok)), tok)
}

func appendByteLevelDecode(out []byte, tok string) []byte {
	for _, r := range tok {
		if r < rune(len(runeByte)) && runeByteOK[r] {
			out = append(out, runeByte[r])
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}
