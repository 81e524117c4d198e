package index

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func TestPorterStemPaperExamples(t *testing.T) {
	// The examples of Porter (1980) as NLTK's extension mode stems them; the
	// golden file below covers thousands more.
	cases := map[string]string{
		"caresses": "caress", "ponies": "poni", "ties": "tie", "cats": "cat",
		"feed": "feed", "agreed": "agre", "plastered": "plaster", "bled": "bled",
		"motoring": "motor", "sing": "sing", "conflated": "conflat", "troubled": "troubl",
		"sized": "size", "hopping": "hop", "falling": "fall", "hissing": "hiss",
		"failing": "fail", "filing": "file", "happy": "happi", "sky": "sky",
		"relational": "relat", "conditional": "condit", "generously": "gener",
		"dying": "die", "enjoy": "enjoy", "controll": "control", "roll": "roll",
	}
	for in, want := range cases {
		if got := PorterStem(in); got != want {
			t.Errorf("PorterStem(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPorterStemNLTKGolden compares with NLTK 3.8's PorterStemmer on 6,693
// words; regenerate with `/usr/bin/python3 scripts/eval_porter_golden.py`.
func TestPorterStemNLTKGolden(t *testing.T) {
	f, err := os.Open("testdata/porter_nltk.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, bad := 0, 0
	for sc.Scan() {
		word, want, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("bad golden line %q", sc.Text())
		}
		n++
		if got := PorterStem(word); got != want {
			bad++
			if bad <= 10 {
				t.Errorf("PorterStem(%q) = %q, NLTK says %q", word, got, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 6000 {
		t.Fatalf("golden has %d words, want ≥ 6000", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d words differ from NLTK", bad, n)
	}
}
