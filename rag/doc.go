// Package rag turns files into a searchable knowledge base and answers
// queries against it: extraction of text from files (txt, Markdown, HTML,
// JSON/JSONL, DOCX, simple PDF, GBK/GB18030), Chinese-aware chunking,
// embedding through a pluggable Embedder, a crash-safe embedded store, and
// retrieval in BM25, dense or hybrid mode.
//
// It is not an index implementation (see package index) and it does not
// generate answers; a language model consumes the retrieved chunks.
package rag
