#!/usr/bin/python3
"""Writes eval/testdata/bleu_tokenize.tsv: tokenizer<TAB>input<TAB>output for
sacrebleu's 13a and zh tokenizers, computed by Python itself from the
tokenizers' published definitions (sacrebleu/tokenizers/tokenizer_re.py,
tokenizer_13a.py, tokenizer_zh.py of mjpost/sacrebleu, restated below), so
Python's own semantics decide the cases a Go port could get wrong: regex
substitution order, str.split() whitespace, and tokenizer_zh's range table,
two of whose entries ('\\u20000', '\\u2f800' ...) Python reads as
two-character strings.

Run from the repository root:  /usr/bin/python3 scripts/eval_bleu_tokenize_golden.py
Inputs and outputs are JSON-escaped strings, one pair per line.
"""
import json
import re

_RE = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]


def tok_re(line):
    for r, repl in _RE:
        line = r.sub(repl, line)
    return ' '.join(line.strip().split())


def tok_13a(line):
    line = line.replace('<skipped>', '')
    line = line.replace('-\n', '')
    line = line.replace('\n', ' ')
    line = line.replace('&quot;', '"')
    line = line.replace('&amp;', '&')
    line = line.replace('&lt;', '<')
    line = line.replace('&gt;', '>')
    return tok_re(' {} '.format(line))


_UCODE_RANGES = [
    ('\u3400', '\u4db5'), ('\u4e00', '\u9fa5'), ('\u9fa6', '\u9fbb'),
    ('\uf900', '\ufa2d'), ('\ufa30', '\ufa6a'), ('\ufa70', '\ufad9'),
    ('\u20000', '\u2a6d6'), ('\u2f800', '\u2fa1d'), ('\uff00', '\uffef'),
    ('\u2e80', '\u2eff'), ('\u3000', '\u303f'), ('\u31c0', '\u31ef'),
    ('\u2f00', '\u2fdf'), ('\u2ff0', '\u2fff'), ('\u3100', '\u312f'),
    ('\u31a0', '\u31bf'), ('\ufe10', '\ufe1f'), ('\ufe30', '\ufe4f'),
    ('\u2600', '\u26ff'), ('\u2700', '\u27bf'), ('\u3200', '\u32ff'),
    ('\u3300', '\u33ff'),
]


def is_zh(c):
    return any(s <= c <= e for s, e in _UCODE_RANGES)


def tok_zh(line):
    line = line.strip()
    out = ''
    for c in line:
        out += ' ' + c + ' ' if is_zh(c) else c
    return tok_re(out)


inputs = [
    "The dog bit the man.", "It wasn't surprising.", "Pay $3.50, or 1,000 yen (now)!",
    "a.b,c 1.5 2,5 x.1 1.y", "pages 10-12, e-mail, -5, 3--4", "a &amp;lt; b &quot;c&quot; &gt;<skipped>",
    "hyphen-\nated\nline", "tabs\tand\u00a0nbsp\u3000ideographic\u2003em\x1cfs", "{curly} [square] ~tilde^ `back` |pipe|",
    "“Hello” — world…", "我爱北京天安门。", "GPT-4模型，很好!", "  版本3.5发布  ", "emoji 😀 and 𠀀 ext-B",
    "arrows → ⇒ ∑ ≤ ① ■ ☆ ✓", "ｆｕｌｌ－ｗｉｄｔｈ１２３", "こんにちは、世界", "한국어 텍스트", "ⅰⅱ ⁂ ‰ € ₤",
    "mixed中文and English, 数字1,234.5个", "U+2000\u2000U+2001\u2001x", "\u2a6d\u2a6e \u2f80\u2f81 \u2fa1\u2fa2",
    "a\u2a6db a\u2a6eb a\u2190b a\U00020000b a\u2f81b a\u2fa2b a\u2e7fb a\u00e9b",
]
with open("eval/testdata/bleu_tokenize.tsv", "w", encoding="utf-8") as f:
    for name, fn in (("13a", tok_13a), ("zh", tok_zh)):
        for s in inputs:
            f.write(name + "\t" + json.dumps(s) + "\t" + json.dumps(fn(s)) + "\n")
print("wrote", 2 * len(inputs), "cases")
