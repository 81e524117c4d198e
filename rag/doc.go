// Package rag turns files into a searchable knowledge base and answers
// queries against it: extraction of text from files (txt, Markdown, HTML,
// JSON/JSONL, DOCX, simple PDF, GBK/GB18030), Chinese-aware chunking,
// embedding through a pluggable Embedder, a crash-safe embedded store, and
// retrieval in BM25, dense or hybrid mode.
//
// Everything that takes a file from outside is bounded and cancellable,
// because the server feeds it uploads: extraction charges every byte it
// inflates or decodes to ExtractOptions.MaxExtractBytes and fails with
// ErrTooLarge past it, chunking is linear in the text, and extraction,
// chunking, embedding and ingest stop when their context is cancelled.
// Failures a remote client may see are typed (ErrNotFound, ErrLocked,
// ErrClosed, ErrTooLarge, ...; see errors.go) and carry a message free of
// server paths (PublicMessage).
//
// It is not an index implementation (see package index) and it does not
// generate answers; a language model consumes the retrieved chunks.
package rag
