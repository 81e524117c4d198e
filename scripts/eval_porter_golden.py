#!/usr/bin/python3
"""Writes index/testdata/porter_nltk.tsv: word<TAB>stem from NLTK's Porter
stemmer (default NLTK_EXTENSIONS mode, the one rouge-score uses).

Run from the repository root:  /usr/bin/python3 scripts/eval_porter_golden.py
Needs Debian's python3-nltk (apt-get install python3-nltk). The vocabulary is
every distinct lowercase word of /usr/share/common-licenses (Debian's license
texts) plus roots crossed with suffixes that exercise each step of the
algorithm, so the file is reproducible on any Debian bookworm machine.
"""
import glob
import re
import sys

from nltk.stem import porter

roots = ["relat", "condit", "valen", "hesit", "digit", "conform", "radic",
         "differ", "vile", "analog", "vietnam", "predic", "oper", "feud",
         "decis", "hope", "call", "formal", "sensit", "sensib", "tripl",
         "electr", "good", "reviv", "allow", "infer", "airlin", "gyroscop",
         "adjust", "defens", "irrit", "replac", "depend", "adopt", "homolog",
         "commun", "activ", "angular", "effect", "bowdler", "prob", "rate",
         "ceas", "control", "roll", "caress", "pon", "ti", "cat", "feed",
         "agre", "plaster", "bled", "motor", "sing", "conflat", "troubl",
         "siz", "hop", "tann", "fall", "hiss", "fizz", "fail", "fil", "happ",
         "sky", "enjoy", "sp", "fl", "tr", "gener", "nation", "organ", "log"]
suffixes = ["", "s", "es", "ies", "ied", "ed", "ing", "y", "ly", "ational",
            "tional", "enci", "anci", "izer", "bli", "alli", "entli", "eli",
            "ousli", "ization", "ation", "ator", "alism", "iveness", "fulness",
            "ousness", "aliti", "iviti", "biliti", "fulli", "logi", "icate",
            "ative", "alize", "iciti", "ical", "ful", "ness", "al", "ance",
            "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
            "sion", "tion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
            "e", "ll", "eed"]
irregular = ["sky", "skies", "dying", "lying", "tying", "news", "innings",
             "inning", "outings", "outing", "cannings", "canning", "howe",
             "proceed", "exceed", "succeed"]

words = set(irregular)
for path in sorted(glob.glob("/usr/share/common-licenses/*")):
    with open(path, encoding="utf-8", errors="replace") as f:
        words.update(w for w in re.findall(r"[a-z0-9]+", f.read().lower()))
for r in roots:
    for s in suffixes:
        words.add(r + s)

stemmer = porter.PorterStemmer()
out = sys.argv[1] if len(sys.argv) > 1 else "index/testdata/porter_nltk.tsv"
with open(out, "w", encoding="utf-8") as f:
    for w in sorted(words):
        f.write(f"{w}\t{stemmer.stem(w)}\n")
print(f"wrote {len(words)} words to {out}")
