// Package plural writes counts with their noun in the right number, for the
// lines ragtune prints ("1 chunk", "3 chunks"), so no message says
// "1 chunks".
package plural

import (
	"fmt"
	"strings"
)

// Count returns "n noun", the noun made plural unless n is 1. The plural
// is the regular English one (chunk → chunks, batch → batches, query →
// queries) unless many is given.
func Count(n int, one string, many ...string) string {
	return fmt.Sprintf("%d %s", n, Noun(n, one, many...))
}

// Noun returns one when n is 1 and its plural otherwise (see Count).
func Noun(n int, one string, many ...string) string {
	if n == 1 || n == -1 {
		return one
	}
	if len(many) > 0 {
		return many[0]
	}
	return regular(one)
}

func regular(w string) string {
	for _, suf := range []string{"s", "x", "z", "ch", "sh"} {
		if strings.HasSuffix(w, suf) {
			return w + "es"
		}
	}
	if n := len(w); n >= 2 && w[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(w[n-2])) {
		return w[:n-1] + "ies"
	}
	return w + "s"
}
