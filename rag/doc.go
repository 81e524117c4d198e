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
// Answer is the one grounded answer path: retrieve (with the query's
// reranker), Prompt (one prompt builder, QuestionLang its language rule,
// passages fenced against injection), generate through an llm.Engine,
// and ParseCitations (the one citation parser). 'ragtune ask', the demo,
// the eval suites and the server's knowledge-base chat all build their
// prompts and read their citations here.
//
// It is not an index implementation (see package index).
package rag
