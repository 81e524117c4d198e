package tokenizer

import "strconv"

// TokenText is a token's text for people: quoted, so spaces, newlines and
// partial UTF-8 bytes are visible.
func TokenText(tok Tokenizer, id int) string {
	switch t := tok.(type) {
	case *BPE:
		return strconv.Quote(t.DecodeToken(id))
	case *WordPiece:
		return strconv.Quote(t.Token(id))
	}
	return strconv.Quote(tok.Decode([]int{id}))
}
