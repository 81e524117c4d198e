package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"ragtune/index"
	"ragtune/rag"
)

func init() {
	register(&command{name: "ask", summary: "search a knowledge base and show the best chunks with sources", run: runAsk})
}

func runAsk(args []string) error {
	fs := newFlagSet("ask", "--kb NAME [--top-k K] [--mode bm25|dense|hybrid] QUESTION", `
Retrieves the chunks of a knowledge base that best match QUESTION and prints
them ranked, with scores, source files and positions. Dense and hybrid modes
need a knowledge base ingested with --embed-path or --embed-url. (Answer generation from
the chunks joins in when a model is given.)`)
	name, root := kbFlags(fs)
	topK := fs.Int("top-k", 5, "number of chunks")
	modeName := fs.String("mode", "bm25", "bm25, dense or hybrid")
	fusion := fs.String("fusion", "rrf", "hybrid fusion: rrf or relative")
	source := fs.String("source", "", "only chunks of files under this `path`")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := kbDir(*root, *name)
	if err != nil {
		return err
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if question == "" {
		return usageErrorf("ask needs a QUESTION")
	}
	if *topK <= 0 {
		return usageErrorf("--top-k must be positive")
	}
	mode, err := rag.ParseMode(*modeName)
	if err != nil {
		return usageErrorf("%v", err)
	}
	s, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return kbOpenError(err, *name)
	}
	defer s.Close()
	var filter index.Filter
	if *source != "" {
		filter = rag.SourceUnder(*source)
	}
	if *fusion != string(rag.FusionRRF) && *fusion != string(rag.FusionRelative) {
		return usageErrorf("--fusion must be rrf or relative, got %q", *fusion)
	}
	results, err := s.Search(context.Background(), rag.Query{Text: question, K: *topK, Mode: mode, Filter: filter, Fusion: rag.Fusion(*fusion)})
	if err != nil {
		return err
	}
	if *asJSON {
		type out struct {
			Rank     int      `json:"rank"`
			Score    float64  `json:"score"`
			Source   string   `json:"source"`
			Title    string   `json:"title,omitempty"`
			Headings []string `json:"headings,omitempty"`
			Chars    [2]int   `json:"chars"`
			Text     string   `json:"text"`
		}
		rows := []out{}
		for i, r := range results {
			rows = append(rows, out{i + 1, r.Score, r.Chunk.Source, r.Chunk.Title, r.Chunk.Headings, [2]int{r.Chunk.CharStart, r.Chunk.CharEnd}, r.Chunk.Text})
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(results) == 0 {
		fmt.Println("no matching chunks")
		return nil
	}
	for i, r := range results {
		c := r.Chunk
		where := c.Source
		if len(c.Headings) > 0 {
			where += " › " + strings.Join(c.Headings, " › ")
		}
		fmt.Printf("[%d] score %.4f  %s  (chars %d-%d)\n", i+1, r.Score, where, c.CharStart, c.CharEnd)
		for _, line := range strings.Split(c.Text, "\n") {
			fmt.Printf("    %s\n", line)
		}
		fmt.Println()
	}
	return nil
}
