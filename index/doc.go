// Package index holds the search structures behind a knowledge base: BM25
// over Chinese-aware tokens, exact (flat) and approximate (HNSW) vector
// search over normalized embeddings, and fusion of ranked lists (weighted
// relative scores and reciprocal rank fusion). Each index is safe for
// concurrent readers while one writer adds or deletes, and can be saved
// to and loaded from a file.
//
// It knows nothing about files, chunking or embedding models: callers hand
// it ids, texts, vectors and metadata (see package rag).
package index
