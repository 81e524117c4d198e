package rag

import "fmt"

// DescribeReranker is the "reranker" line of 'ragtune kb stats' for the
// knowledge base at dir: the recorded reranker and its depth, "none", or
// why the record cannot be read.
func DescribeReranker(dir string) string {
	c, err := ReadRerankConfig(dir)
	switch {
	case err != nil:
		return fmt.Sprintf("reranker        unreadable: %v", err)
	case c == nil:
		return "reranker        none"
	case c.Path != "":
		return fmt.Sprintf("reranker        %s (local cross-encoder), depth %d", c.Path, max(c.Depth, 1))
	default:
		return fmt.Sprintf("reranker        %s model %q, depth %d", c.URL, c.Model, max(c.Depth, 1))
	}
}

// DescribeQueryInstruction is the "query prefix" line of 'ragtune kb
// stats': the instruction queries get before the embedder named by
// pathOrModel sees them (QueryInstruction), quoted so a trailing space or
// newline shows, or "none".
func DescribeQueryInstruction(pathOrModel string) string {
	if ins := QueryInstruction(pathOrModel); ins != "" {
		return fmt.Sprintf("query prefix    %q", ins)
	}
	return "query prefix    none"
}
