#!/usr/bin/python3
"""Writes eval/testdata/nltk_word_tokenize.tsv: text<TAB>tokens joined by
U+241F, from NLTK's Treebank word tokenizer (what nltk.word_tokenize runs on
each sentence; the CMRC 2018 evaluate script calls it on the non-Chinese
runs of answers).

Run from the repository root:  /usr/bin/python3 scripts/eval_nltk_tokenize_golden.py
Needs Debian's python3-nltk (apt-get install python3-nltk); no NLTK data.
"""
from nltk.tokenize import NLTKWordTokenizer

texts = [
    "hello world", "NBA", "iPhone 12 Pro", "1,000", "3.14", "U.S.A.",
    "end.", "Dr. Smith", "can't stop", "it's", "they're here", "we'll go",
    "I'm", "he'd", "don't", "$100", "50%", "A&B", "yes!", "why?", "x;y",
    "a (b) c", "[1]", "{x}", "<tag>", "wait...", "e-mail", "COVID-19",
    "version 2.0.1", "10:30", "a, b", "a,b", "x:y", "user@example.com",
    "#1", "tom's book", "rock'n'roll", "3.5 kg", "5.", "ok.",
]
tok = NLTKWordTokenizer()
with open("eval/testdata/nltk_word_tokenize.tsv", "w", encoding="utf-8") as f:
    for t in texts:
        f.write(t + "\t" + "\u241f".join(tok.tokenize(t)) + "\n")
print(f"wrote {len(texts)} cases")
