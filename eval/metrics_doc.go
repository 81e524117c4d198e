// Package eval measures models: text-overlap metrics (sacrebleu-compatible
// BLEU, rouge-score-compatible ROUGE with a Chinese extension, SQuAD- and
// CMRC-style exact match and F1) and perplexity arithmetic over per-token
// log-probabilities.
//
// The metrics are pure functions of strings and numbers: they never load a
// model, and a score computed here matches what the reference Python tool
// prints for the same input, so numbers can be compared with published
// results. What is deliberately not here: generating answers (package llm)
// and retrieving context (package rag).
package eval
