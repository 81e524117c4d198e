package tokenizer

import "unicode/utf8"

// StreamDecoder turns ids into text one token at a time for streaming
// output. A token may end in the middle of a multi-byte character (a
// Chinese character is often split over two byte-level tokens); those
// bytes are held back until the character is complete, so printed text is
// never garbage. Bytes that can never become valid UTF-8 are passed on
// as they are, right away. Not safe for concurrent use.
type StreamDecoder struct {
	tok     func(id int) []byte
	pending []byte
}

// NewStreamDecoder returns a decoder for one output stream.
func (b *BPE) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{tok: b.TokenBytes}
}

// Add appends the bytes of id and returns the text that is now complete
// (often "", or more than one token's worth).
func (d *StreamDecoder) Add(id int) string {
	d.pending = append(d.pending, d.tok(id)...)
	cut := completePrefix(d.pending)
	if cut == 0 {
		return ""
	}
	out := string(d.pending[:cut])
	d.pending = append(d.pending[:0], d.pending[cut:]...)
	return out
}

// Flush returns whatever is held back (an incomplete character at the
// end of the stream) and resets the decoder.
func (d *StreamDecoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	return out
}

// completePrefix returns the length of b without a trailing incomplete
// (but so far valid) UTF-8 sequence.
func completePrefix(b []byte) int {
	for k := len(b) - 1; k >= 0 && k >= len(b)-utf8.UTFMax; k-- {
		if utf8.RuneStart(b[k]) {
			if !utf8.FullRune(b[k:]) {
				return k
			}
			break
		}
	}
	return len(b)
}
