package tokenizer

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

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

// WriteIDs writes ids space-separated on one line.
func WriteIDs(w io.Writer, ids []int) error {
	bw := bufio.NewWriter(w)
	for i, id := range ids {
		if i > 0 {
			bw.WriteByte(' ')
		}
		bw.WriteString(strconv.Itoa(id))
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

// WriteTokenTable writes one line per token: its id, right-aligned, and
// its TokenText.
func WriteTokenTable(w io.Writer, tok Tokenizer, ids []int) error {
	bw := bufio.NewWriter(w)
	for _, id := range ids {
		fmt.Fprintf(bw, "%7d  %s\n", id, TokenText(tok, id))
	}
	return bw.Flush()
}
