// Package eval measures models: text-overlap metrics (sacrebleu-compatible
// BLEU, rouge-score-compatible ROUGE with a Chinese extension, SQuAD- and
// CMRC-style exact match and F1) and perplexity arithmetic over per-token
// log-probabilities.
//
// On top of them sit the suites a fine-tuned model needs (overfitting,
// catastrophic forgetting, robustness to perturbations, hallucination and
// citation validity, safety probes), model perplexity with sliding windows,
// the base / fine-tuned / RAG comparison, and self-contained JSON + HTML
// reports.
//
// The metrics are pure functions of strings and numbers, and a score
// computed here matches what the reference Python tool prints for the same
// input, so numbers can be compared with published results. Suites generate
// only through llm.Engine and retrieve only through the Retriever interface;
// the generation loop and the knowledge base themselves live in packages
// llm and rag.
package eval
