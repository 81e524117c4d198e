package cli

import "strings"

// Wrap breaks text into lines of at most width columns at spaces, each
// line after the first starting with indent; a word longer than width
// stands alone on its line. Help texts that list generated names (presets,
// types) use it so they stay as narrow as the hand-written paragraphs.
func Wrap(text string, width int, indent string) string {
	var b strings.Builder
	col := 0
	for i, w := range strings.Fields(text) {
		switch {
		case i == 0:
		case col+1+len(w) > width:
			b.WriteString("\n" + indent)
			col = len(indent)
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}
